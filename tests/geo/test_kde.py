"""KDE: integrates to the number of offences, bandwidth rule, exact point scores agree with brute force."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.errors import InputError
from geo.kde import bandwidth_rule, default_cell_size, kde_at, kde_contours, kde_grid, lonlat_to_bng


@pytest.fixture(scope="module")
def wm_xy(wm_month):
    d = pd.read_csv(wm_month, usecols=["Longitude", "Latitude"]).dropna()
    return lonlat_to_bng(d["Longitude"], d["Latitude"])


@pytest.mark.parametrize("kernel", ["quartic", "gaussian"])
def test_surface_integrates_to_offences(wm_xy, kernel):
    g = kde_grid(wm_xy, cell_size=250, bandwidth=1000, kernel=kernel)
    assert g.cell_counts().sum() == pytest.approx(len(wm_xy), rel=1e-9)
    assert (g.density >= 0).all()
    # the discretised kernel integrates like the continuous one: compare with exact density at cell centres
    f = g.to_frame(min_density=g.density.max() * 0.5)
    exact = kde_at(wm_xy, f[["x", "y"]].to_numpy(), bandwidth=1000, kernel=kernel)
    assert np.median(np.abs(exact - f["density"]) / exact) < 0.15


def test_bandwidth_rule_and_default_cell_size(wm_xy):
    cs = default_cell_size(wm_xy)
    assert 300 <= cs <= 1000 and cs % 10 == 0  # West Mercia is ~100 km across
    assert bandwidth_rule(cs) == 5 * cs
    g = kde_grid(wm_xy)
    assert g.cell_size == cs and g.bandwidth == 5 * cs
    with pytest.raises(InputError, match="bandwidth"):
        kde_grid(wm_xy, bandwidth=-1)
    with pytest.raises(InputError, match="kernel"):
        kde_grid(wm_xy, kernel="epanechnikov")


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0, 5000), st.floats(0, 5000)), min_size=1, max_size=40),
    st.floats(60, 900),
    st.sampled_from(["quartic", "gaussian"]),
)
def test_kde_at_equals_brute_force(points, h, kernel):
    xy = np.array(points)
    t = np.array([[0, 0], [2500, 2500], *points[:3]])
    d2 = ((t[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2)
    if kernel == "quartic":
        k = np.where(d2 < h**2, 3 / (np.pi * h**2) * (1 - d2 / h**2) ** 2, 0)
    else:
        k = np.where(d2 <= 16 * h**2, np.exp(-d2 / (2 * h**2)) / (2 * np.pi * h**2), 0)
    assert np.allclose(kde_at(xy, t, bandwidth=h, kernel=kernel), k.sum(axis=1) * 1e6, rtol=1e-9, atol=1e-9)


def test_contours_are_nested(wm_xy):
    g = kde_grid(wm_xy, cell_size=500, bandwidth=1500)
    c = kde_contours(g)
    areas = c.geometry.area.to_numpy()
    assert (np.diff(areas) > 0).all()
    assert c.geometry.iloc[1].contains(c.geometry.iloc[0].buffer(-1))
