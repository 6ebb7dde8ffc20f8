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


def _factorise(groups: list, *, drop_single: bool = False) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """Each label array as (member positions, integer group of each member, number of groups)."""
    out = []
    for g in groups:
        lab = pd.Series(np.asarray(g, dtype=object))
        if drop_single:
            lab = lab.where(lab.map(lab.value_counts()) > 1)
        member = np.flatnonzero(lab.notna().to_numpy())
        codes, uniq = pd.factorize(lab.iloc[member].astype(str))
        out.append((member, codes.astype(np.int64), len(uniq)))
    return out


def recoverable(suppressed, groups: list, *, values=None, max_rounds: int = 200, _fact=None) -> np.ndarray:
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
    fact = _fact if _fact is not None else _factorise(groups)
    for _ in range(max_rounds):
        changed = False
        for member, code, n in fact:
            unk = unknown[member]
            if not unk.any():
                continue
            n_unknown = np.bincount(code, weights=unk, minlength=n)[code]
            fall = (n_unknown == 1) & unk
            if values is not None:
                rest = np.bincount(code, weights=np.where(unk, values[member], 0.0), minlength=n)[code]
                fall |= (rest == 0) & unk
            if fall.any():
                idx = member[fall]
                unknown[idx] = False
                solved[idx] = True
                changed = True
        if not changed:
            break
    return solved


def complementary_suppression(counts, suppressed, groups: list, *, max_rounds: int = 500,
                              return_leaks: bool = False):
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
    return_leaks : bool
        Also return, per kind of group, which cells belong to a group that no hidden cell inside the table
        can protect (its published total must be withheld by whoever publishes it).

    Notes
    -----
    Each round finds the hidden cells :func:`recoverable` can solve; in every group of one kind where a
    solved cell leaves at most one unknown, the smallest shown non-zero cell is hidden too (ties: the earlier
    cell; a hidden zero protects nothing for long: counts are never negative, so a zero is pinned wherever its
    other groups total zero), and the check starts again. A group that still leaks when it has no shown non-zero
    cell left (for example a group of one cell, whose total is the cell, or a 1 beside zeros whose other groups
    are all zero) cannot be protected inside its own table: its total must be withheld (``return_leaks`` names
    those groups; ``data.aggregate`` hides the parents of lone children for the same reason).

    Examples
    --------
    >>> counts = [3, 10, 20, 7]
    >>> complementary_suppression(counts, [True, False, False, False], [["a", "a", "a", "a"]]).tolist()
    [True, False, False, True]
    >>> # a 1 beside zeros only: nothing in the table can protect it, so group "a" must not publish its total
    >>> hidden, leaks = complementary_suppression([1, 0, 0], [True, False, False], [["a", "a", "a"]],
    ...                                          return_leaks=True)
    >>> hidden.tolist(), leaks[0].tolist()
    ([True, False, False], [True, True, True])
    """
    c = np.asarray(counts, dtype=float)
    s = np.asarray(suppressed, dtype=bool).copy()
    # a group of one cell cannot be protected here (its total is the cell): the coarser table hides it
    fact = _factorise(groups, drop_single=True)
    for _ in range(max_rounds):
        solved = recoverable(s, groups, values=c, _fact=fact)
        if not solved.any():
            break
        known = ~s | solved
        # how many of each cell's groups hold no hidden cell yet: hiding it there opens a new leak, so
        # complements that close a cycle (their other groups already hide something) are preferred
        opens = np.zeros(len(c))
        for member, code, n in fact:
            hidden_n = np.bincount(code, weights=s[member], minlength=n)
            opens[member] += hidden_n[code] == 0
        changed = False
        for member, code, n in fact:
            unk = ~known[member]
            unknown_n = np.bincount(code, weights=unk, minlength=n)
            leaky = np.zeros(n, dtype=bool)
            leaky[code[solved[member]]] = True
            leaky &= unknown_n <= 1
            cand = leaky[code] & ~s[member] & (c[member] > 0)
            if not cand.any():
                continue
            pos = member[cand]
            grp = code[cand]
            # by group, then fewest new leaks, then smallest count, then position
            order = np.lexsort((pos, c[pos], opens[pos], grp))
            first = np.r_[True, grp[order][1:] != grp[order][:-1]]
            s[pos[order][first]] = True
            changed = True
            break
        if not changed:
            break
    if not return_leaks:
        return s
    solved = recoverable(s, groups, values=c, _fact=fact)
    leaks = []
    for g in groups:
        lab = pd.Series(np.asarray(g, dtype=object))
        bad = set(lab[solved & lab.notna().to_numpy()])
        leaks.append(lab.isin(bad).to_numpy() & lab.notna().to_numpy())
    return s, leaks
