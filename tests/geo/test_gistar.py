"""Gi*: z equal to esda's on real West Mercia counts, classes equal a statsmodels fdr_bh reference, refusals."""

from __future__ import annotations

import h3
import numpy as np
import pandas as pd
import pytest
from esda.getisord import G_Local
from statsmodels.stats.multitest import multipletests

from geo.errors import InputError
from geo.gistar import bh_reject, counts_on_study_area, gistar
from geo.weights import h3_kring_weights, to_libpysal


@pytest.fixture(scope="module")
def wm_h3(wm_month):
    """2019-01 West Mercia: (study-area cells at res 9, counts of all crime excl. ASB)."""
    d = pd.read_csv(wm_month, usecols=["Longitude", "Latitude", "Crime type"]).dropna(subset=["Longitude"])
    d["code"] = [h3.latlng_to_cell(la, lo, 9) for la, lo in zip(d["Latitude"], d["Longitude"], strict=True)]
    study = sorted(d["code"].unique())
    counts = d[d["Crime type"] != "Anti-social behaviour"].groupby("code").size()
    return study, counts_on_study_area(counts, study)


@pytest.mark.parametrize("k", [1, 2])
def test_z_equals_esda_on_real_counts(wm_h3, k):
    study, y = wm_h3
    w = h3_kring_weights(study, k)
    ours = gistar(y.to_numpy(), w, permutations=0)
    ref = G_Local(y.to_numpy(), to_libpysal(w), transform="B", star=True, permutations=0)
    assert np.abs(ours.Zs - ref.Zs).max() < 1e-9
    assert np.abs(ours.Gs - ref.Gs).max() < 1e-12


def test_classes_equal_statsmodels_reference(wm_h3):
    study, y = wm_h3
    g = gistar(y.to_numpy(), h3_kring_weights(study), permutations=0)
    p = 2 * (1 - __import__("scipy").stats.norm.cdf(np.abs(g.Zs)))
    assert np.allclose(p, g.p, atol=1e-12)
    ref = np.full(len(p), "not_significant", dtype=object)
    for alpha, suffix in ((0.10, "90"), (0.05, "95"), (0.01, "99")):  # strictest last wins
        rej = multipletests(p, alpha=alpha, method="fdr_bh")[0]
        ref[rej & (g.Zs > 0)] = f"hot_{suffix}"
        ref[rej & (g.Zs < 0)] = f"cold_{suffix}"
        assert (bh_reject(p, alpha) == rej).all()
    assert (g.classes == ref).all()
    assert (g.classes == "hot_99").sum() > 10


def test_no_empty_cell_is_cold_through_tied_permutation_p(wm_h3):
    study, y = wm_h3
    w = h3_kring_weights(study)
    g = gistar(y.to_numpy(), w, permutations=199, seed=3)
    empty_hood = (w @ y.to_numpy() + y.to_numpy()) == 0
    assert empty_hood.any()
    # permutation p ties for these, but classes never come from p_sim
    assert not np.char.startswith(g.classes[empty_hood].astype(str), "cold").any()
    assert np.isfinite(g.Zs).all() and ((g.p_sim > 0) & (g.p_sim <= 0.5 + 1e-9)).all()


def test_permutations_are_seeded_and_agree_with_esda(wm_h3):
    study, y = wm_h3
    w = h3_kring_weights(study)
    a = gistar(y.to_numpy(), w, permutations=99, seed=7).p_sim
    b = gistar(y.to_numpy(), w, permutations=99, seed=7).p_sim
    assert (a == b).all()
    ref = G_Local(y.to_numpy(), to_libpysal(w), transform="B", star=True, permutations=999, seed=1)
    mine = gistar(y.to_numpy(), w, permutations=999, seed=1).p_sim
    assert np.corrcoef(mine, ref.p_sim)[0, 1] > 0.98


@pytest.mark.parametrize(
    "counts, match",
    [
        (np.ones(30), "at least 50 events"),
        (np.zeros(100), "at least 50 events"),
        (np.array([100.0]), "at least 2"),
        (np.array([60.0, -1.0]), "non-negative"),
    ],
)
def test_bad_input_is_refused_clearly(counts, match):
    cells = sorted(h3.grid_disk(h3.latlng_to_cell(52.19, -2.22, 9), 3))[: len(counts)]
    with pytest.raises(InputError, match=match):
        gistar(counts, h3_kring_weights(cells), permutations=0)


def test_degenerate_neighbourhood_gives_zero_not_nan():
    cells = sorted(h3.grid_disk(h3.latlng_to_cell(52.19, -2.22, 9), 1))
    g = gistar(np.full(7, 10.0), h3_kring_weights(cells), permutations=9)
    assert np.isfinite(g.Zs).all() and (g.classes == "not_significant").all()
