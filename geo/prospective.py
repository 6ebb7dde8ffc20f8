"""Prospective (recency-weighted) kernel density scores per cell, with parameters chosen by rolling origin.

The ``kde`` hot-spot ranking (Bowers, Johnson & Pease 2004, "prospective mapping"): every training offence at its
police.uk location (EPSG:27700 metres) spreads a unit of mass over the study-area cells with a quartic kernel;
the score of a cell is the mass that falls in it, i.e. the expected number of offences the smoothed history
puts there. Each offence's mass is weighted by

- its age: ``0.5 ** (age / half_life)``, age in months before the last training month (``half_life = inf``: no
  decay);
- its type: 1 for the selected crime types, ``aux_weight`` for every other recorded offence (ASB included), so
  a type with few events borrows strength from where other offences happen (0 = selected types only);
- its burst: the offences recorded at one location in one month count as ``n ** power`` (``power = 0.5``
  damps one-off bursts, e.g. many offences recorded at one point after a single incident; 1 = plain counts).

The kernel is a mixture: ``(1 - wide_share) x quartic(bandwidth) + wide_share x quartic(wide)``, with
``wide = 2 x spacing`` (the cell-centre spacing of the level, about 600 m at H3 res 9): a small share of each
offence's mass describes its neighbourhood. ``bandwidth = 0`` keeps the mass in the offence's own cell.

Mass over a cell is integrated numerically on sample points (H3: the cell's children one resolution finer,
7 points; polygons: a regular grid inside each polygon plus a representative point), and each offence's kernel
is normalised over the samples it reaches, so every offence contributes exactly its weight to the study area
(an offence whose kernel reaches no sample keeps its weight in its own cell).

Borrowed evidence is a prior worth one month of history. The score of a cell is its own count ``own`` (the
selected types' offences in the cell, with the decay but none of the other choices) plus the evidence the kernel
score borrows from neighbouring cells, other types and burst damping, ``kernel - own`` (``kernel`` the mixture
score above), divided by the effective number of training months ``T_eff = sum(0.5 ** (age / half_life))``
(``T`` without decay)::

    score = own + (kernel - own) / T_eff

This ranks cells like a Poisson-Gamma posterior mean (Clayton & Kaldor 1987): the data term is the cell's own
count, which grows with each month of history, while the prior (the smoothed, other-type-informed surface per
month) keeps a fixed strength, so the more months there are, the less the smoothing moves the ranking. Without it
(``score = kernel``) the borrowed evidence grows with the history at the same rate as the own counts, and
parameters chosen on the short histories of the validation origins (1 and 2 months when 3 are given) over-smooth
the longer final history. On the 4 real months of the 7 forces in ../shared/data (all crime and 8 crime types,
H3 res 9; 63 cases per target month) the chosen model fell short of the best naive PAI at 5 % in 13 of 63 cases
with 3 training months (worst -10.9 %) and 8 of 63 with 2, against 7 and 6 with the prior (worst -4.2 % and
-7.0 %); the mean gain over the best naive method is about +8 % either way with 3 months. With one month (the first
validation origin and :data:`FALLBACK`) the two forms are equal. A parameter entry without smoothing, other types,
wide share or burst damping scores exactly the history count, float for float, so it ranks (and ties) exactly as
``naive_all_history`` does.

Parameter choice (``auto``, the default): rolling-origin validation on the training months only. For training
months ``m_1 .. m_T`` every origin ``v`` in ``m_2 .. m_T`` is a validation target: the scores are fitted on the
months before ``v`` (with the study area of those months) and scored by PAI at 5 % of the study area on ``v``
(same ranking, tie rule and cell areas as the evaluation). The one-standard-error rule picks the winner: the
earliest entry of :data:`GRID` (ordered from the plainest — own-cell count, no decay, no other types — outwards)
whose mean PAI is within one standard error of the best mean (binomial error of the validation hit counts), so a
gain smaller than the noise of the validation months does not buy a more complex model. Where smoothing does not
help (all crime on police.uk snap points, for instance) the plainest entry wins and the ranking equals the
own-cell counts. With a single training month there is nothing to validate on and :data:`FALLBACK` is used. The
target month is never seen: this runs inside the scorer, which only receives training months.

Grid (``spacing`` the level's cell-centre spacing):
``bandwidth`` in ``{0, 0.25, 0.5, 1} x spacing``, ``half_life`` in ``{inf, 2}`` months, ``aux_weight`` in
``{0, 0.05, 0.15, 0.4}``, ``wide_share`` in ``{0, 0.02, 0.1}``, ``power`` in ``{1, 0.5}`` (192 combinations).
Fallback (one training month): ``bandwidth = 0.25 x spacing, half_life = inf, aux_weight = 0.05,
wide_share = 0.02, power = 1`` (a light version of each idea, fixed a priori, not tuned).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.spatial import cKDTree

from geo.kde import _kernel_values

BANDWIDTHS = (0.0, 0.25, 0.5, 1.0)  # x spacing
HALF_LIVES = (math.inf, 2.0)  # months
AUX_WEIGHTS = (0.0, 0.05, 0.15, 0.4)
WIDE_SHARES = (0.0, 0.02, 0.1)
POWERS = (1.0, 0.5)
WIDE = 2.0  # x spacing
#: Parameter grid for ``auto``, plainest first (ties in validation go to the earlier entry).
GRID = tuple(itertools.product(BANDWIDTHS, HALF_LIVES, AUX_WEIGHTS, WIDE_SHARES, POWERS))
#: Used when there is only one training month (nothing to validate on).
FALLBACK = (0.25, math.inf, 0.05, 0.02, 1.0)
SELECT_SHARE = 0.05


@dataclass(frozen=True)
class Params:
    """Prospective KDE parameters; ``bandwidth`` and ``wide`` in metres."""

    bandwidth: float
    half_life: float
    aux_weight: float
    wide_share: float
    wide: float
    power: float = 1.0

    def as_dict(self) -> dict:
        return {
            "bandwidth_m": round(self.bandwidth, 1),
            "half_life_months": None if math.isinf(self.half_life) else self.half_life,
            "aux_weight": self.aux_weight,
            "wide_share": self.wide_share,
            "wide_bandwidth_m": round(self.wide, 1),
            "power": self.power,
        }


def params_from_grid(entry, spacing: float) -> Params:
    b, hl, aux, ws, pw = entry
    return Params(float(b) * spacing, float(hl), float(aux), float(ws), WIDE * spacing, float(pw))


def mass_matrix(points, point_cell, samples, sample_cell, n_cells: int, bandwidth: float) -> sp.csr_matrix:
    """Share of each point's quartic kernel falling in each cell (rows sum to 1, or 0 for an uncovered point
    outside the cells).

    Parameters
    ----------
    points : (p, 2) array, EPSG:27700 metres
    point_cell : (p,) int array
        Index of the cell holding each point (-1: none).
    samples : (s, 2) array
        Integration points; ``sample_cell`` the cell each belongs to.
    n_cells : int
    bandwidth : float
        Metres; 0 keeps each point's mass in its own cell.

    Examples
    --------
    >>> m = mass_matrix([[0, 0]], [0], [[0, 0], [50, 0], [500, 0]], [0, 0, 1], 2, 100.0)
    >>> m.toarray().round(3).tolist()
    [[1.0, 0.0]]
    >>> mass_matrix([[0, 0]], [1], [[500, 0]], [0], 2, 100.0).toarray().tolist()
    [[0.0, 1.0]]
    """
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    own = np.asarray(point_cell, dtype=np.int64).ravel()
    p = len(pts)
    rows, cols, vals = np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, float)
    covered = np.zeros(p, dtype=bool)
    if bandwidth > 0 and p and len(samples):
        smp = np.asarray(samples, dtype=float).reshape(-1, 2)
        scell = np.asarray(sample_cell, dtype=np.int64).ravel()
        pairs = cKDTree(pts).sparse_distance_matrix(cKDTree(smp), bandwidth, output_type="ndarray")
        k = _kernel_values(pairs["v"] ** 2, bandwidth, "quartic")
        tot = np.bincount(pairs["i"], weights=k, minlength=p)
        covered = tot > 0
        use = k > 0
        rows = pairs["i"][use].astype(np.int64)
        cols = scell[pairs["j"][use]]
        vals = k[use] / tot[rows]
    rest = ~covered & (own >= 0)
    rows = np.concatenate([rows, np.flatnonzero(rest)])
    cols = np.concatenate([cols, own[rest]])
    vals = np.concatenate([vals, np.ones(int(rest.sum()))])
    return sp.csr_matrix((vals, (rows, cols)), shape=(p, n_cells))


def h3_samples(cells) -> tuple[np.ndarray, np.ndarray]:
    """Integration points of H3 cells: the 7 children one resolution finer (EPSG:27700) and their cell index."""
    import h3

    from geo.kde import lonlat_to_bng

    cells = [str(c) for c in cells]
    if not cells:
        return np.empty((0, 2)), np.empty(0, np.int64)
    res = h3.get_resolution(cells[0])
    kids = [h3.cell_to_children(c, min(res + 1, 15)) for c in cells]
    owner = np.repeat(np.arange(len(cells)), [len(k) for k in kids])
    ll = np.array([h3.cell_to_latlng(k) for ks in kids for k in ks]).reshape(-1, 2)
    return lonlat_to_bng(ll[:, 1], ll[:, 0]), owner


def polygon_samples(polygons, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Integration points of polygons (a GeoSeries in EPSG:27700): a ``step``-metre grid inside each polygon
    plus each polygon's representative point."""
    import geopandas as gpd
    import shapely

    g = gpd.GeoSeries(polygons).reset_index(drop=True)
    rep = g.representative_point()
    xs, ys, own = [rep.x.to_numpy()], [rep.y.to_numpy()], [np.arange(len(g))]
    if len(g):
        x0, y0, x1, y1 = g.total_bounds
        gx, gy = np.meshgrid(np.arange(x0 + step / 2, x1, step), np.arange(y0 + step / 2, y1, step))
        pts = shapely.points(gx.ravel(), gy.ravel())
        tree = shapely.STRtree(g.to_numpy())
        pi, gi = tree.query(pts, predicate="within")
        xs.append(gx.ravel()[pi])
        ys.append(gy.ravel()[pi])
        own.append(gi.astype(np.int64))
    return np.column_stack([np.concatenate(xs), np.concatenate(ys)]), np.concatenate(own).astype(np.int64)


class ProspectiveKDE:
    """Prospective KDE scores for one level, from located offences.

    Parameters
    ----------
    events : pandas.DataFrame
        One row per located offence: ``code`` (its cell at the level), ``month`` (date), ``x``, ``y``
        (EPSG:27700) and ``selected`` (bool: one of the crime types being mapped; False for every other type).
    samples_for : callable
        ``codes -> (sample_xy, sample_cell_index)`` integration points of those cells.
    spacing : float
        Cell-centre spacing of the level, metres (scales the bandwidth grid).
    params : Params or None
        Fixed parameters; None chooses them by rolling origin (``auto``).
    area : pandas.Series, optional
        Area per cell code, used to score the validation origins as the evaluation does (default: equal areas).
    """

    def __init__(self, events: pd.DataFrame, samples_for, spacing: float, params: Params | None = None, area=None):
        e = events[["code", "month", "x", "y", "selected"]].copy()
        e["code"] = e["code"].astype(str)
        e["selected"] = e["selected"].astype(bool)
        self.events = e
        self.samples_for = samples_for
        self.spacing = float(spacing)
        self.params = params
        self.area = None if area is None else pd.Series(area, dtype=float)
        self._cache: dict = {}
        self.chosen: dict = {}  # last training month -> (Params, validation PAI)

    # -- pieces --------------------------------------------------------------------------------------------
    def _fit_data(self, months):
        """Unique located points of the months, their weights per (month, selected), and the study area."""
        key = ("data", tuple(months))
        if key not in self._cache:
            e = self.events[self.events["month"].isin(months)]
            study = pd.Index(sorted(e["code"].unique()))
            pts = e.groupby(["x", "y", "code"], sort=True).ngroup().to_numpy()
            u = e.groupby(["x", "y", "code"], sort=True).size().reset_index()[["x", "y", "code"]]
            mpos = {m: i for i, m in enumerate(months)}
            col = e["month"].map(mpos).to_numpy() * 2 + (~e["selected"].to_numpy()).astype(int)
            w = sp.csr_matrix((np.ones(len(e)), (pts, col)), shape=(len(u), 2 * len(months))).toarray()
            self._cache[key] = (study, u, w)
        return self._cache[key]

    def _matrix(self, months, bandwidth: float):
        key = ("mat", tuple(months), round(bandwidth, 6))
        if key not in self._cache:
            study, u, _ = self._fit_data(months)
            skey = ("samples", tuple(months))
            if skey not in self._cache:
                self._cache[skey] = self.samples_for(list(study))
            sxy, scell = self._cache[skey]
            own = study.get_indexer(u["code"])
            self._cache[key] = mass_matrix(u[["x", "y"]].to_numpy(), own, sxy, scell, len(study), bandwidth)
        return self._cache[key]

    def scores(self, months, params: Params) -> pd.Series:
        """Score per study-area cell of ``months``: ``own + (kernel - own) / T_eff`` (module docstring), roughly the
        expected offences of the selected types over the history."""
        months = sorted(months)
        study, u, w = self._fit_data(months)
        age = np.arange(len(months))[::-1].astype(float)
        decay = np.power(0.5, age / params.half_life) if math.isfinite(params.half_life) else np.ones(len(months))
        own_w = w @ (np.repeat(decay, 2) * np.tile([1.0, 0.0], len(months)))
        wp = w if params.power == 1 else np.power(w, params.power)
        weight = wp @ (np.repeat(decay, 2) * np.tile([1.0, params.aux_weight], len(months)))
        own = np.asarray(self._matrix(months, 0.0).T @ own_w).ravel()
        kernel = (1 - params.wide_share) * np.asarray(self._matrix(months, params.bandwidth).T @ weight).ravel()
        if params.wide_share > 0:
            kernel = kernel + params.wide_share * np.asarray(self._matrix(months, params.wide).T @ weight).ravel()
        # nothing borrowed (bandwidth 0, no other types, no wide share, power 1): kernel and own are the same product
        # of the same arrays, so the score is the own count exactly
        return pd.Series(own + (kernel - own) / float(decay.sum()), index=study)

    def choose(self, months) -> tuple[Params, float | None]:
        """Rolling-origin choice of parameters on the training ``months`` (see module docstring)."""
        from geo.evaluation import rank_cells, score_selection

        months = sorted(months)
        if self.params is not None:
            return self.params, None
        if len(months) < 2:
            return params_from_grid(FALLBACK, self.spacing), None
        origins = []
        for i in range(1, len(months)):
            fit, v = months[:i], months[i]
            target = self.events[(self.events["month"] == v) & self.events["selected"]].groupby("code").size()
            origins.append((fit, target))
        results = []  # (params, mean PAI, standard error of that mean), in GRID order
        for entry in GRID:
            p = params_from_grid(entry, self.spacing)
            pais, variances = [], []
            for fit, target in origins:
                sc = self.scores(fit, p)
                r = score_selection(rank_cells(sc), target, pd.Series(dtype=float), self.area, [SELECT_SHARE])
                pai = r["pai"].iloc[0] if r["pai"].notna().iloc[0] else 0.0
                hit, n = r["hit_rate"].iloc[0], float(target.sum())
                # binomial standard error of the hit count, carried to PAI (PAI is proportional to hits)
                rel = math.sqrt((1 - hit) / (hit * n)) if hit and 0 < hit < 1 and n > 0 else 0.0
                pais.append(pai)
                variances.append((pai * rel) ** 2)
            results.append((p, float(np.mean(pais)), math.sqrt(sum(variances)) / len(pais)))
        # one-standard-error rule: the plainest entry whose validation PAI is within one standard error of the
        # best one; gains smaller than the noise of the validation months do not buy a more complex model
        top = max(results, key=lambda r: r[1])
        chosen = next(r for r in results if r[1] >= top[1] - top[2])
        return chosen[0], chosen[1]

    def __call__(self, tr, study, months) -> pd.Series:
        """Scorer for ``geo.evaluation.backtest``: only the training ``months`` are used."""
        months = sorted(months)
        p, val = self.choose(months)
        self.chosen[months[-1]] = (p, val)
        return self.scores(months, p).reindex(pd.Index(study).astype(str)).fillna(0.0)
