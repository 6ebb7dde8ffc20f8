"""Apportioned population keeps its total (hypothesis), and suppression properties."""

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.population import apportion_by_lookup
from geo.suppression import complementary_suppression, primary_suppression, recoverable


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9)), min_size=1, max_size=40),
       st.lists(st.integers(0, 5000), min_size=10, max_size=10))
def test_apportioned_total_equals_source_total(links, values):
    lk = pd.DataFrame(links, columns=["src", "tgt"]).astype(str)
    v = pd.Series(values, index=[str(i) for i in range(10)], dtype=float)
    out = apportion_by_lookup(v, lk, "src", "tgt")
    linked = v[v.index.isin(lk["src"])].sum()
    assert np.isclose(out.sum(), linked)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=12, max_size=12))
def test_complements_leave_nothing_peelable_in_a_table(values):
    """A 3 x 4 table whose row and column totals are published unless they are themselves 1-4 (then the
    coarser table hides them) or the suppression says no hidden cell can protect them (then they are withheld):
    no hidden cell can be peeled out using the published totals; and totals are withheld only where the
    table really cannot protect itself."""
    c = np.array(values, dtype=float)
    rows = np.repeat(["r0", "r1", "r2"], 4)
    cols = np.tile(["c0", "c1", "c2", "c3"], 3)
    published = []
    for lab in (rows, cols):
        totals = pd.Series(c).groupby(lab).transform("sum").to_numpy()
        published.append(np.where(primary_suppression(totals), None, lab))
    hidden, leaks = complementary_suppression(c, primary_suppression(c), published, return_leaks=True)
    assert hidden[primary_suppression(c)].all()
    shown = [np.where(leak, None, lab) for lab, leak in zip(published, leaks, strict=True)]
    assert not recoverable(hidden, shown, values=c).any()
    if any(leak.any() for leak in leaks):
        # only where every shown cell of the leaking group is a zero whose other group totals zero
        for lab, leak in zip(published, leaks, strict=True):
            for g in set(lab[leak]):
                inside = (lab == g) & ~hidden
                assert (c[inside] == 0).all()
