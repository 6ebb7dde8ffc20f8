"""Disclosure audit: for the parish / public audience no suppressed count can be recovered from the figures
handed out (level totals, neighbours, other months and quarters, other crime types, coarser areas).

The attacker's view is every published cell of the public cube of a level plus the coarser level's cube.
For a sample of suppressed cells a linear programme finds the smallest and largest value consistent with all
published figures; the cell is protected when those differ.
"""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from scipy.optimize import linprog

from data.aggregate import _periods, aggregate, loaded_months, public_cube
from geo.record import ALL_CRIME, ASB


@pytest.mark.parametrize("level", ["ward", "parish"])
def test_outputs_hide_suppressed_values(wm_store, level):
    t = aggregate(wm_store, level, months=(dt.date(2019, 1, 1),) * 2, audience="parish", by_type=True,
                  geometry=False)
    assert t["suppressed"].any()
    assert t.loc[t["suppressed"], ["count", "rate_per_1000", "per_km2"]].isna().all().all()
    shown = t.loc[~t["suppressed"] & ~t["no_data"], "count"]
    assert ((shown == 0) | (shown >= 5)).all()


def test_public_cannot_ask_for_arbitrary_ranges(wm_store):
    from geo.errors import InputError

    with pytest.raises(InputError, match="published period"):
        aggregate(wm_store, "ward", months=(dt.date(2018, 11, 1), dt.date(2019, 1, 1)), audience="parish")


def _groups(cube, months, periods, parent):
    g = {}
    g["area"] = cube["period"] + "|" + cube["crime_type"]
    g["type"] = np.where(cube["crime_type"] != ASB, cube["code"] + "|" + cube["period"], None)
    for label, ms in periods.items():
        if len(ms) > 1:
            member = cube["period"].isin([f"{m:%Y-%m}" for m in ms] + [label])
            g[f"time {label}"] = np.where(member, cube["code"] + "|" + cube["crime_type"] + "|" + label, None)
    if parent is not None:
        key = parent.astype(str) + "|" + cube["period"] + "|" + cube["crime_type"]
        g["parent"] = np.where(parent.notna(), key, None)
    return g


@pytest.mark.parametrize("level", ["parish", "ward", "lsoa", "lad", "csp", "pfa", "h3:7", "h3:8"])
def test_peeling_recovers_no_hidden_cell_at_any_public_level(wm_store, level):
    """The spreadsheet attack: solve any group with one unknown, repeat with what was solved."""
    from data.aggregate import _parents
    from geo.suppression import recoverable

    cube = public_cube(wm_store, level).reset_index(drop=True)
    parent = _parents(wm_store, level, cube["code"])
    groups = _groups(cube, loaded_months(wm_store), _periods(loaded_months(wm_store)), parent)
    if parent is not None:  # only a published parent total can be used
        coarse = {"ward": "lad", "parish": "lad", "lsoa": "lad", "lad": "csp", "csp": "pfa", "h3:8": "h3:7"}[level]
        cc = public_cube(wm_store, coarse)
        shown = set((cc["code"] + "|" + cc["period"] + "|" + cc["crime_type"])[~cc["suppressed"]])
        # a parent equation counts only where it is exact: LSOA codes come from the file while the LAD comes
        # from the ward polygon, so near a boundary the children do not add up to the parent
        total = dict(zip(cc["code"] + "|" + cc["period"] + "|" + cc["crime_type"], cc["count"], strict=True))
        lab = pd.Series(groups["parent"], dtype=object)
        sums = cube["count"].groupby(lab).sum()
        exact = {k for k, v in sums.items() if total.get(k) == v}
        groups["parent"] = np.where(lab.isin(shown & exact), groups["parent"], None)
    solved = recoverable(cube["suppressed"].to_numpy(), list(groups.values()), values=cube["count"].to_numpy())
    assert not solved.any(), cube[solved].head().to_string()


@pytest.mark.parametrize("level", ["ward", "parish"])
def test_no_group_has_a_single_hidden_cell_and_lp_cannot_pin_one(wm_store, level):
    from data.aggregate import _parents

    cube = public_cube(wm_store, level).reset_index(drop=True)
    months = loaded_months(wm_store)
    periods = _periods(months)
    parent = _parents(wm_store, level, cube["code"])
    groups = _groups(cube, months, periods, parent)
    hidden = cube["suppressed"].to_numpy()
    assert hidden.sum() > 0
    coarse = {"ward": "lad", "parish": "lad", "h3:8": "h3:7"}[level]
    cc = public_cube(wm_store, coarse)
    shown_parents = set((cc["code"] + "|" + cc["period"] + "|" + cc["crime_type"])[~cc["suppressed"]])
    for name, lab in groups.items():
        s = pd.DataFrame({"g": pd.Series(lab, dtype=object), "h": hidden}).dropna()
        if name == "parent":  # only a published parent total can give a child away
            s = s[s["g"].isin(shown_parents)]
        per = s.groupby("g")["h"].sum()
        assert not (per == 1).any(), f"{name}: a group with exactly one hidden cell"

    # linear-programming attack on a sample of hidden cells
    true = cube["count"].to_numpy()
    ct = cube["crime_type"].to_numpy(dtype=object)
    per = cube["period"].to_numpy(dtype=object)
    var = np.flatnonzero(hidden)
    pos = {c: i for i, c in enumerate(var)}
    rows, cols, vals, rhs = [], [], [], []
    r = 0
    totals_known = {}
    if parent is not None:  # the coarser level's totals are published (only where not hidden there)
        totals_known = {f"{c}|{p}|{t}": v for c, p, t, v, h in cc[["code", "period", "crime_type", "count",
                                                                    "suppressed"]].itertuples(index=False) if not h}
    for name, lab in groups.items():
        s = pd.Series(lab, dtype=object)
        for key, idx in s.dropna().groupby(s.dropna()).groups.items():
            idx = np.asarray(idx)
            if name == "area":
                total = true[idx].sum()  # the level total (force total) is public
            elif name == "parent":
                # an exact equation only where the children really add up to the parent (always for H3;
                # for wards and parishes the LAD also holds offences outside the ward/parish polygons)
                if key not in totals_known or totals_known[key] != true[idx].sum():
                    continue
                total = totals_known[key]
            else:  # types → all-crime cell, months → period cell: both are members of the group itself
                if name == "type":
                    anchor = idx[ct[idx] == ALL_CRIME]
                else:
                    anchor = idx[per[idx] == key.rsplit("|", 1)[1]]
                members = np.setdiff1d(idx, anchor)
                coef = {i: 1.0 for i in members}
                for a in anchor:
                    coef[a] = coef.get(a, 0) - 1.0
                const = sum(-c * true[i] for i, c in coef.items() if not hidden[i])
                terms = [(pos[i], c) for i, c in coef.items() if hidden[i]]
                if terms:
                    for p_, c in terms:
                        rows.append(r), cols.append(p_), vals.append(c)
                    rhs.append(const)
                    r += 1
                continue
            known = true[idx][~hidden[idx]].sum()
            terms = [pos[i] for i in idx if hidden[i]]
            if terms:
                for p_ in terms:
                    rows.append(r), cols.append(p_), vals.append(1.0)
                rhs.append(total - known)
                r += 1
    A = sparse.csr_matrix((vals, (rows, cols)), shape=(r, len(var)))
    b = np.asarray(rhs, dtype=float)
    assert np.allclose(A @ true[var], b)  # the true values satisfy the attacker's system
    rng = np.random.default_rng(0)
    sample = rng.choice(len(var), size=min(12, len(var)), replace=False)
    for j in sample:
        c = np.zeros(len(var))
        c[j] = 1.0
        lo = linprog(c, A_eq=A, b_eq=b, bounds=(0, None), method="highs")
        hi = linprog(-c, A_eq=A, b_eq=b, bounds=(0, None), method="highs")
        assert lo.status == 0
        top = np.inf if hi.status == 3 else -hi.fun
        assert top - lo.fun >= 1.0, f"cell {cube.iloc[var[j]].tolist()} pinned to {lo.fun}"
