"""Evaluation: measures on a hand-made case, deterministic ties, and the real West Mercia backtest."""

from __future__ import annotations

import datetime as dt

import h3
import numpy as np
import pandas as pd
import pytest

from geo.evaluation import COLUMNS, METHODS, backtest, make_scorers, rank_cells, score_selection
from geo.kde import lonlat_to_bng
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


@pytest.fixture(scope="module")
def wm_counts(wm_months):
    frames = []
    for path in wm_months:
        d = pd.read_csv(path, usecols=["Month", "Longitude", "Latitude", "Crime type"]).dropna(subset=["Longitude"])
        frames.append(d)
    d = pd.concat(frames)
    d["code"] = [h3.latlng_to_cell(la, lo, 9) for la, lo in zip(d["Latitude"], d["Longitude"], strict=True)]
    d["month"] = [dt.date(int(m[:4]), int(m[5:]), 1) for m in d["Month"]]
    crime = d[d["Crime type"] != "Anti-social behaviour"]
    return (
        crime.groupby(["code", "month"]).size().rename("count").reset_index(),
        d.groupby(["code", "month"]).size().rename("count").reset_index(),
    )


def _scorers():
    def centroids(codes):
        ll = np.array([h3.cell_to_latlng(c) for c in codes])
        return lonlat_to_bng(ll[:, 1], ll[:, 0])

    return make_scorers(h3_kring_weights, centroids, np.sqrt(3) * h3.average_hexagon_edge_length(9, unit="m"))


def test_real_backtest_has_every_method_and_no_leak(wm_counts):
    counts, any_counts = wm_counts
    r = backtest(counts, any_counts, _scorers())
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
    r2 = backtest(counts, pd.concat([any_counts, extra]), _scorers(), target_months=[last])
    pd.testing.assert_frame_equal(r[r["target_month"] == last].reset_index(drop=True), r2)
