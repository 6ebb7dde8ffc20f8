"""Evaluation: measures on a hand-made case, deterministic ties, and the real West Mercia backtest."""

from __future__ import annotations

import datetime as dt

import h3
import numpy as np
import pandas as pd
import pytest

from geo.evaluation import COLUMNS, METHODS, backtest, make_scorers, rank_cells, score_selection
from geo.kde import lonlat_to_bng
from geo.prospective import GRID, Params, ProspectiveKDE, h3_samples, mass_matrix
from geo.weights import h3_kring_weights


def test_ties_are_broken_by_code_and_order_is_stable():
    s = pd.Series({"c": 1.0, "a": 1.0, "b": 3.0, "d": np.nan})
    assert rank_cells(s).tolist() == ["b", "a", "c", "d"]
    assert rank_cells(s.iloc[::-1]).tolist() == ["b", "a", "c", "d"]


def test_measures_on_a_hand_made_case():
    ranked = pd.Index([f"c{i:02d}" for i in range(20)])
    target = pd.Series({"c00": 4, "c01": 0, "c05": 6, "c19": 10})
    train = pd.Series({"c00": 2, "c01": 2, "c05": 1})
    f = score_selection(ranked, target, train, shares=[0.10])
    row = f.iloc[0]
    assert row.area_covered == pytest.approx(0.10)
    assert row.hit_rate == pytest.approx(4 / 20)
    assert row.pai == pytest.approx(2.0)
    assert row.pei == pytest.approx(4 / 16)  # best two cells hold 10 + 6
    assert row.rri == pytest.approx((4 / 4) / (20 / 5))


def test_area_covered_never_exceeds_the_share_with_unequal_areas():
    ranked = pd.Index(list("abcd"))
    area = pd.Series({"a": 3.0, "b": 1.0, "c": 1.0, "d": 5.0})
    f = score_selection(ranked, pd.Series({"a": 1}), pd.Series(dtype=float), area, shares=[0.35, 0.5])
    assert f["area_covered"].tolist() == [0.3, 0.5]
    assert f["rri"].isna().all()  # no training offences in the selection: null, not inf


def test_mass_matrix_rows_keep_each_offence_whole():
    rng = np.random.default_rng(3)
    pts = rng.uniform(0, 2000, size=(200, 2))
    gx, gy = np.meshgrid(np.arange(0, 2000, 100.0), np.arange(0, 2000, 100.0))
    smp = np.column_stack([gx.ravel(), gy.ravel()])
    cell = (smp[:, 0] // 500).astype(int) * 4 + (smp[:, 1] // 500).astype(int)
    own = (pts[:, 0] // 500).astype(int) * 4 + (pts[:, 1] // 500).astype(int)
    for h in (0.0, 30.0, 250.0, 900.0):
        m = mass_matrix(pts, own, smp, cell, 16, h)
        assert np.allclose(np.asarray(m.sum(axis=1)).ravel(), 1.0)
    # bandwidth 0 is the plain count per cell
    plain = np.asarray(mass_matrix(pts, own, smp, cell, 16, 0.0).sum(axis=0)).ravel()
    assert (plain == np.bincount(own, minlength=16)).all()


SPACING = np.sqrt(3) * h3.average_hexagon_edge_length(9, unit="m")


@pytest.fixture(scope="module")
def wm_events(wm_months):
    frames = []
    for path in wm_months:
        d = pd.read_csv(path, usecols=["Month", "Longitude", "Latitude", "Crime type"]).dropna(subset=["Longitude"])
        frames.append(d)
    d = pd.concat(frames, ignore_index=True)
    d["code"] = [h3.latlng_to_cell(la, lo, 9) for la, lo in zip(d["Latitude"], d["Longitude"], strict=True)]
    d["month"] = [dt.date(int(m[:4]), int(m[5:]), 1) for m in d["Month"]]
    xy = lonlat_to_bng(d["Longitude"].to_numpy(), d["Latitude"].to_numpy())
    d["x"], d["y"] = xy[:, 0], xy[:, 1]
    return d


def _counts(d, selected):
    return d[selected].groupby(["code", "month"]).size().rename("count").reset_index()


@pytest.fixture(scope="module")
def wm_counts(wm_events):
    d = wm_events
    return _counts(d, d["Crime type"] != "Anti-social behaviour"), _counts(d, d["Crime type"].notna())


def _scorers(d, selected, **kw):
    return make_scorers(h3_kring_weights, h3_samples, SPACING, d.assign(selected=selected), **kw)


def test_real_backtest_has_every_method_and_no_leak(wm_counts, wm_events):
    counts, any_counts = wm_counts
    crime = (wm_events["Crime type"] != "Anti-social behaviour").to_numpy()
    r = backtest(counts, any_counts, _scorers(wm_events, crime))
    assert list(r.columns) == COLUMNS
    assert set(r["method"]) == set(METHODS)
    assert len(r) == 3 * 4 * 3
    assert r[["pai", "hit_rate", "pei", "area_covered"]].notna().all().all()
    assert (r["area_covered"] <= r["area_share"] + 1e-12).all()
    at5 = r[r["area_share"] == 0.05].pivot(index="target_month", columns="method", values="pai")
    assert (at5 > 3).all().all()  # every method concentrates offences well above chance
    # the target month cannot leak into the study area: adding offences in it changes nothing
    last = max(counts["month"])
    extra = pd.DataFrame({"code": ["89195da49b7ffff"], "month": [last], "count": [500]})
    r2 = backtest(counts, pd.concat([any_counts, extra]), _scorers(wm_events, crime), target_months=[last])
    pd.testing.assert_frame_equal(r[r["target_month"] == last].reset_index(drop=True), r2)
    # nor can the kde's automatic parameters: scrambling the target month's offences changes nothing
    e2 = wm_events.copy()
    at_last = (e2["month"] == last).to_numpy()
    e2.loc[at_last, ["x", "y"]] = e2.loc[at_last, ["x", "y"]].to_numpy()[::-1]
    r3 = backtest(counts, any_counts, {"kde": _scorers(e2, crime)["kde"]}, target_months=[last])
    pd.testing.assert_frame_equal(r[(r["target_month"] == last) & (r["method"] == "kde")].reset_index(drop=True), r3)


def test_kde_scores_keep_the_training_mass_and_choose_from_the_grid(wm_events):
    crime = (wm_events["Crime type"] != "Anti-social behaviour").to_numpy()
    pk = ProspectiveKDE(wm_events.assign(selected=crime), h3_samples, SPACING)
    months = sorted(wm_events["month"].unique())[:3]
    p, val = pk.choose(months)
    assert val is not None and val > 3
    assert (p.bandwidth / SPACING, p.half_life, p.aux_weight, p.wide_share, p.power) in GRID
    # no decay, no other types: every training offence of the selected types lands in the study area once
    plain = pk.scores(months, p.__class__(100.0, np.inf, 0.0, 0.1, 2 * SPACING))
    n = int((crime & wm_events["month"].isin(months).to_numpy()).sum())
    assert plain.sum() == pytest.approx(n, rel=1e-9)
    assert pk.choose(months[:1])[1] is None  # one training month: the stated fallback


@pytest.mark.parametrize("crime_type", ["Burglary", "Public order", "Criminal damage and arson"])
def test_kde_beats_naive_on_dispersed_types(wm_events, crime_type):
    """Real West Mercia months: for dispersed types the prospective KDE predicts 2019-01 better at 5 %."""
    sel = (wm_events["Crime type"] == crime_type).to_numpy()
    any_counts = _counts(wm_events, wm_events["Crime type"].notna())
    last = max(wm_events["month"])
    r = backtest(_counts(wm_events, sel), any_counts, _scorers(wm_events, sel), target_months=[last], shares=[0.05])
    pai = r.set_index("method")["pai"]
    assert pai["kde"] > 1.05 * max(pai["naive_all_history"], pai["naive_last_month"])


def test_plain_kde_ranks_exactly_like_the_history_count(wm_counts, wm_events):
    """Parameters that reduce to the own-cell count give naive_all_history's scores float for float, hence the
    same ranking, tie-breaking, area covered and measures."""
    counts, any_counts = wm_counts
    crime = (wm_events["Crime type"] != "Anti-social behaviour").to_numpy()
    plain = Params(0.0, np.inf, 0.0, 0.0, 2 * SPACING, 1.0)
    sc = _scorers(wm_events, crime, kde_params=plain)
    months = sorted(counts["month"].unique())
    train = months[:3]
    tr = counts[counts["month"].isin(train)]
    study = pd.Index(sorted(any_counts.loc[any_counts["month"].isin(train), "code"].unique()))
    k, n = sc["kde"](tr, study, train), sc["naive_all_history"](tr, study, train)
    assert (k.to_numpy() == n.reindex(k.index).to_numpy(float)).all()
    r = backtest(counts, any_counts, {m: sc[m] for m in ("kde", "naive_all_history")})
    cols = ["target_month", "area_share", "area_covered", "pai", "hit_rate", "rri", "pei"]
    by = {m: g[cols].reset_index(drop=True) for m, g in r.groupby("method")}
    pd.testing.assert_frame_equal(by["kde"], by["naive_all_history"])


def test_borrowed_evidence_is_a_prior_worth_one_month(wm_events):
    """A month repeated twice doubles the own counts but not the borrowed (smoothed, other-type, burst-damped)
    evidence: score(2 months) = 2 x own + (kernel - own), where kernel is the one-month score."""
    m1, m2 = sorted(wm_events["month"].unique())[:2]
    one = wm_events[wm_events["month"] == m1]
    two = pd.concat([one, one.assign(month=m2)], ignore_index=True)
    p = Params(0.5 * SPACING, np.inf, 0.15, 0.1, 2 * SPACING, 0.5)
    own_p = Params(0.0, np.inf, 0.0, 0.0, 2 * SPACING, 1.0)
    pk1 = ProspectiveKDE(one.assign(selected=one["Crime type"] != "Anti-social behaviour"), h3_samples, SPACING)
    pk2 = ProspectiveKDE(two.assign(selected=two["Crime type"] != "Anti-social behaviour"), h3_samples, SPACING)
    kernel, own = pk1.scores([m1], p), pk1.scores([m1], own_p)
    s2 = pk2.scores([m1, m2], p)
    np.testing.assert_allclose(s2.to_numpy(), (2 * own + (kernel - own)).reindex(s2.index).to_numpy(), atol=1e-9)
    assert (kernel - own).abs().max() > 0.5  # the borrowed part is not negligible in this case
    # with a half-life the effective number of months is the sum of the decay weights
    hl = Params(0.5 * SPACING, 2.0, 0.15, 0.1, 2 * SPACING, 0.5)
    own_hl = Params(0.0, 2.0, 0.0, 0.0, 2 * SPACING, 1.0)
    t_eff = 1 + 0.5**0.5
    expect = t_eff * own + (t_eff * kernel - t_eff * own) / t_eff
    np.testing.assert_allclose(pk2.scores([m1, m2], hl).to_numpy(), expect.reindex(s2.index).to_numpy(), atol=1e-9)
    np.testing.assert_allclose(pk2.scores([m1, m2], own_hl).to_numpy(), (t_eff * own).reindex(s2.index).to_numpy())


def test_kde_validation_scores_with_the_evaluation_areas(wm_events):
    crime = (wm_events["Crime type"] != "Anti-social behaviour").to_numpy()
    codes = wm_events["code"].unique()
    area = pd.Series([h3.cell_area(c, unit="km^2") for c in codes], index=codes)
    pk = ProspectiveKDE(wm_events.assign(selected=crime), h3_samples, SPACING, area=area)
    months = sorted(wm_events["month"].unique())[:2]
    p, val = pk.choose(months)
    target = wm_events[crime & (wm_events["month"] == months[1]).to_numpy()].groupby("code").size()
    direct = score_selection(rank_cells(pk.scores(months[:1], p)), target, pd.Series(dtype=float), area, [0.05])
    assert val == pytest.approx(direct["pai"].iloc[0], rel=1e-12)
