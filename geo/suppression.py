"""Statistical disclosure control for the parish / public audience.

Primary suppression hides counts from 1 to ``threshold - 1``. Secondary (complementary) suppression then
makes sure no hidden count can be recovered by subtraction: in every additive group of published cells
(the areas of a level that add up to the force total; the months that add up to a quarter or to the whole
period; the crime types that add up to "all crime"; the children that add up to their parent area) either
no cell or at least two cells are hidden. Where a group has exactly one hidden cell the smallest shown
cell of that group is hidden too (ties broken by the cell's position, so the result is deterministic), and
the groups are revisited until nothing changes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def primary_suppression(counts, threshold: int = 5) -> np.ndarray:
    """Cells with ``0 < count < threshold``.

    Examples
    --------
    >>> primary_suppression([0, 1, 4, 5, 12]).tolist()
    [False, True, True, False, False]
    """
    c = np.asarray(counts, dtype=float)
    return (c > 0) & (c < threshold)


def complementary_suppression(counts, suppressed, groups: list, *, max_rounds: int = 50) -> np.ndarray:
    """Extend ``suppressed`` so that no group holds exactly one hidden cell.

    Parameters
    ----------
    counts : array-like
        Cell values.
    suppressed : array-like of bool
        Cells already hidden (primary suppression).
    groups : list of array-like
        One label array per kind of additive group (same length as ``counts``); cells with the same label
        add up to a published figure. A label of None/NaN means "in no group of this kind".

    Examples
    --------
    >>> counts = [3, 10, 20, 7]
    >>> complementary_suppression(counts, [True, False, False, False], [["a", "a", "a", "a"]]).tolist()
    [True, False, False, True]
    """
    c = np.asarray(counts, dtype=float)
    s = np.asarray(suppressed, dtype=bool).copy()
    order = np.arange(len(c))
    labels = [pd.Series(np.asarray(g, dtype=object)) for g in groups]
    for _ in range(max_rounds):
        changed = False
        for lab in labels:
            ok = lab.notna().to_numpy()
            if not ok.any():
                continue
            frame = pd.DataFrame({"g": lab[ok].astype(str).to_numpy(), "s": s[ok], "c": c[ok], "i": order[ok]})
            nsup = frame.groupby("g")["s"].transform("sum").to_numpy()
            size = frame.groupby("g")["s"].transform("size").to_numpy()
            cand = frame[(nsup == 1) & (size > 1) & ~frame["s"].to_numpy()]
            if len(cand) == 0:
                continue
            pick = cand.sort_values(["g", "c", "i"]).drop_duplicates("g")["i"].to_numpy()
            s[pick] = True
            changed = True
        if not changed:
            break
    return s
