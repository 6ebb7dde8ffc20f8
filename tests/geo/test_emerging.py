"""Emerging hot spots: every ArcGIS category on hand-built 12-month series; Mann-Kendall; the 6-month rule."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from geo.emerging import CATEGORIES, classify_trends, emerging_hotspots, mann_kendall
from geo.errors import InputError

H, C, N = "H", "C", "."
RISE = np.linspace(1, 5, 12)


def series(pattern: str):
    hot = np.array([ch == H for ch in pattern])
    cold = np.array([ch == C for ch in pattern])
    return hot, cold


CASES = {
    "new hot spot": ("..........." + H, None),
    "consecutive hot spot": (".........HHH", None),
    "intensifying hot spot": ("HHHHHHHHHHHH", RISE),
    "persistent hot spot": ("HHHHHHHHHHHH", np.tile([3.0, 4.0], 6)),
    "diminishing hot spot": ("HHHHHHHHHHHH", RISE[::-1]),
    "sporadic hot spot": ("H..H...HH..H", None),
    "oscillating hot spot": ("C..H...C...H", None),
    "historical hot spot": ("HHHHHHHHHHH.", None),
    "new cold spot": ("..........." + C, None),
    "consecutive cold spot": ("..........CC", None),
    "intensifying cold spot": ("CCCCCCCCCCCC", -RISE),
    "persistent cold spot": ("CCCCCCCCCCCC", -np.tile([3.0, 4.0], 6)),
    "diminishing cold spot": ("CCCCCCCCCCCC", -RISE[::-1]),
    "sporadic cold spot": ("C...C..C...C", None),
    "oscillating cold spot": ("H..C...H...C", None),
    "historical cold spot": ("CCCCCCCCCCC.", None),
    "no pattern": ("..H...C.....", None),
}


def test_every_category_is_tested():
    assert set(CASES) == set(CATEGORIES)


@pytest.mark.parametrize("category", sorted(CASES))
def test_category_on_hand_built_series(category):
    pattern, z = CASES[category]
    hot, cold = series(pattern)
    if z is None:
        z = np.where(hot, 2.5, np.where(cold, -2.5, 0.0))
    assert classify_trends(hot[None], cold[None], z[None]).tolist() == [category]


def test_mann_kendall_matches_kendall_tau_and_handles_ties():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 12)).round(1)
    z, p = mann_kendall(x)
    for row, zz in zip(x, z, strict=True):
        tau = stats.kendalltau(np.arange(12), row)
        assert zz == 0 or np.sign(zz) == np.sign(tau.statistic)  # |S| = 1 corrects to 0
    assert ((p > 0) & (p <= 1)).all()


def test_fewer_than_six_months_is_refused():
    with pytest.raises(InputError, match="at least 6 months"):
        classify_trends(np.ones((1, 5), bool), np.zeros((1, 5), bool), np.ones((1, 5)))
    with pytest.raises(InputError, match="received 4"):
        emerging_hotspots(np.ones((10, 4)) * 10, None)
