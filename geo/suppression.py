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


def recoverable(suppressed, groups: list, *, values=None, max_rounds: int = 200) -> np.ndarray:
    """Hidden cells an attacker can solve by peeling: a group with one unknown gives it away; solved cells
    then count as known in every other group, and so on until nothing more falls. A group whose shown
    cells already add up to its total pins its hidden cells at zero, whatever their number.

    Examples
    --------
    >>> # x0 + x1 = a (group "a") and x1 alone in group "b": x1 falls first, then x0
    >>> recoverable([True, True, False], [["a", "a", "a"], [None, "b", "b"]]).tolist()
    [True, True, False]
    """
    unknown = np.asarray(suppressed, dtype=bool).copy()
    values = None if values is None else np.asarray(values, dtype=float)
    solved = np.zeros(len(unknown), dtype=bool)
    labels = [pd.Series(np.asarray(g, dtype=object)) for g in groups]
    for _ in range(max_rounds):
        changed = False
        for lab in labels:
            ok = lab.notna().to_numpy() & unknown
            if not ok.any():
                continue
            member = lab.notna().to_numpy()
            g = lab[member].astype(str)
            n_unknown = pd.Series(unknown[member]).groupby(g.to_numpy()).transform("sum").to_numpy()
            fall = np.flatnonzero(member)[(n_unknown == 1) & unknown[member]]
            if values is not None:
                rest = pd.Series(np.where(unknown[member], values[member], 0.0)).groupby(g.to_numpy()).transform("sum")
                fall = np.union1d(fall, np.flatnonzero(member)[(rest.to_numpy() == 0) & unknown[member]])
            if len(fall):
                unknown[fall] = False
                solved[fall] = True
                changed = True
        if not changed:
            break
    return solved


def complementary_suppression(counts, suppressed, groups: list, *, max_rounds: int = 200) -> np.ndarray:
    """Extend ``suppressed`` until no hidden cell can be recovered by peeling the additive groups.

    Parameters
    ----------
    counts : array-like
        Cell values.
    suppressed : array-like of bool
        Cells already hidden (primary suppression).
    groups : list of array-like
        One label array per kind of additive group (same length as ``counts``); cells with the same label
        add up to a published figure. A label of None/NaN means "in no group of this kind".

    Notes
    -----
    Each round finds the hidden cells :func:`recoverable` can solve; for every group in which a cell was
    the last unknown, the smallest shown cell of that group is hidden too (ties: the earlier cell), and the
    check starts again. A group of one cell cannot be protected inside its own table: its parent must be
    hidden by the coarser table (see ``data.aggregate``).

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
        solved = recoverable(s, groups, values=c)
        if not solved.any():
            break
        known = ~s | solved
        changed = False
        for lab in labels:
            member = lab.notna().to_numpy()
            if not member.any():
                continue
            frame = pd.DataFrame({"g": lab[member].astype(str).to_numpy(), "s": s[member], "solved": solved[member],
                                  "unk": (~known[member]).astype(int), "c": c[member], "i": order[member]})
            # groups where a hidden cell is solvable and the unknown count is at most one
            unknown_n = frame.groupby("g")["unk"].transform("sum").to_numpy()
            leaky = frame.loc[frame["solved"].to_numpy() & (unknown_n <= 1), "g"].unique()
            # a hidden zero protects nothing (an attacker knows counts are never negative): complements are
            # the smallest non-zero shown cells
            cand = frame[frame["g"].isin(leaky) & ~frame["s"] & (frame["c"] > 0)]
            if len(cand) == 0:
                continue
            pick = cand.sort_values(["g", "c", "i"]).drop_duplicates("g")["i"].to_numpy()
            s[pick] = True
            changed = True
            break
        if not changed:
            break
    return s
