"""Getis-Ord Gi* local hot spots: z-scores equal to esda's, analytical p with Benjamini-Hochberg classes.

The statistic, its expectation and variance are esda's ``G_Local(star=True, transform="B")`` (Getis & Ord
1992; Ord & Getis 1995) computed with one sparse matrix product, so there is no numba compile on first use.
Weights are binary and the self-weight is 1 (the cell counts in its own neighbourhood).

Classes (DESIGN.md "Hot spots"): the two-sided analytical p = 2 Phi(-|z|) is corrected with Benjamini-Hochberg
(as statsmodels ``multipletests(method="fdr_bh")``) separately at alpha 0.01, 0.05 and 0.10; a cell is
``hot_99`` when rejected at 0.01 with z > 0, else ``hot_95`` when rejected at 0.05, else ``hot_90`` at 0.10
(cold twins for z < 0), else ``not_significant``. Conditional permutation p-values (``p_sim``, folded one-sided
pseudo p as esda's) are reported beside them but never decide a class: on all-zero neighbourhoods they tie.

Degenerate cells whose analytical variance is zero (every study-area cell in the neighbourhood, or all counts
equal) get z = 0 and p = 1 rather than NaN.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats

from geo.errors import InputError

#: Fewest events a Gi* run accepts (DESIGN.md).
MIN_EVENTS = 50
#: Confidence levels and their class suffixes, strictest first.
LEVELS = ((0.01, "99"), (0.05, "95"), (0.10, "90"))
CLASSES = ("hot_99", "hot_95", "hot_90", "not_significant", "cold_90", "cold_95", "cold_99")


def bh_reject(p, alpha: float) -> np.ndarray:
    """Benjamini-Hochberg rejections at false discovery rate ``alpha`` (as statsmodels ``fdr_bh``).

    Parameters
    ----------
    p : array-like of float
        p-values (NaN is treated as 1).
    alpha : float
        False discovery rate.

    Returns
    -------
    numpy.ndarray of bool
        True where the hypothesis is rejected.

    Examples
    --------
    >>> bh_reject([0.001, 0.03, 0.02, 0.5], 0.05).tolist()
    [True, True, True, False]
    """
    p = np.nan_to_num(np.asarray(p, dtype=float), nan=1.0)
    m = p.size
    if m == 0:
        return np.zeros(0, dtype=bool)
    order = np.argsort(p, kind="mergesort")
    below = p[order] <= alpha * np.arange(1, m + 1) / m
    reject = np.zeros(m, dtype=bool)
    if below.any():
        last = np.flatnonzero(below).max()
        reject[order[: last + 1]] = True
    return reject


def classify(z, p) -> np.ndarray:
    """Hot/cold classes from z and two-sided p, Benjamini-Hochberg at each confidence level.

    Examples
    --------
    >>> classify([4.0, -3.0, 0.1], [6e-5, 0.0027, 0.92]).tolist()
    ['hot_99', 'cold_99', 'not_significant']
    """
    z = np.asarray(z, dtype=float)
    out = np.full(z.shape, "not_significant", dtype=object)
    done = np.zeros(z.shape, dtype=bool)
    for alpha, suffix in LEVELS:
        rej = bh_reject(p, alpha) & ~done
        out[rej & (z > 0)] = f"hot_{suffix}"
        out[rej & (z < 0)] = f"cold_{suffix}"
        done |= rej
    return out


def _check(counts, weights) -> tuple[np.ndarray, sp.csr_matrix]:
    y = np.asarray(counts, dtype=float).ravel()
    if y.size < 2:
        raise InputError(f"Gi* needs at least 2 study-area cells; received {y.size}", param="counts")
    if not np.isfinite(y).all() or (y < 0).any():
        raise InputError(
            "Gi* counts must be finite and non-negative; received missing or negative values", param="counts"
        )
    total = y.sum()
    if total < MIN_EVENTS:
        raise InputError(
            f"Gi* needs at least {MIN_EVENTS} events for a meaningful test; received {total:g} "
            "(choose more months, more crime types or a coarser level)",
            param="counts",
        )
    w = sp.csr_matrix(weights, dtype=float)
    if w.shape != (y.size, y.size):
        raise InputError(
            f"weights are {w.shape[0]}x{w.shape[1]}; expected {y.size}x{y.size} to match the counts", param="weights"
        )
    w = w.copy()
    w.setdiag(0)
    w.eliminate_zeros()
    w.data[:] = 1.0
    return y, w


class GiStar:
    """Local Gi* (self included, binary weights) computed on construction, esda-shaped.

    Parameters
    ----------
    counts : array-like of float
        Events per study-area cell (zeros included).
    weights : scipy.sparse matrix
        Binary neighbours without self (``geo.weights``); the self-weight is added here.
    permutations : int, default 999
        Conditional permutations for ``p_sim`` (0 to skip).
    seed : int, default 0
        Seed of the permutation generator (``numpy.random.default_rng``).

    Attributes
    ----------
    Gs, EGs, VGs, Zs : numpy.ndarray
        Statistic, its expectation and variance, and z (as esda's ``G_Local``).
    p : numpy.ndarray
        Two-sided analytical p = 2 Phi(-|z|).
    p_sim : numpy.ndarray or None
        Folded one-sided permutation pseudo p-value, ``(larger + 1) / (permutations + 1)``.
    classes : numpy.ndarray of str
        ``hot_99`` ... ``not_significant`` ... ``cold_99`` (BH at each level; see module docstring).

    Examples
    --------
    >>> from geo.weights import h3_kring_weights
    >>> import h3
    >>> cells = sorted(h3.grid_disk(h3.latlng_to_cell(52.19, -2.22, 9), 3))
    >>> counts = np.arange(len(cells), dtype=float)
    >>> g = GiStar(counts, h3_kring_weights(cells), permutations=99, seed=1)
    >>> g.Zs.shape, bool(np.isfinite(g.Zs).all()), bool(g.p_sim.min() >= 0.01)
    ((37,), True, True)
    """

    def __init__(self, counts, weights, *, permutations: int = 999, seed: int = 0):
        y, w = _check(counts, weights)
        self.y = y
        self.n = y.size
        self.permutations = int(permutations)
        self.seed = seed
        self.cardinalities = np.diff(w.indptr)  # neighbours without self
        wy = w @ y + y  # self-weight 1
        y_sum = y.sum()
        n = self.n
        self.Gs = wy / y_sum
        mean = y_sum / n
        var = (y**2).sum() / n - mean**2
        card = self.cardinalities + 1.0
        self.EGs = card / n
        self.VGs = card * (n - card) / (n - 1) * (1 / n**2) * (var / mean**2)
        ok = self.VGs > 0
        z = np.zeros(n)
        z[ok] = (self.Gs[ok] - self.EGs[ok]) / np.sqrt(self.VGs[ok])
        self.Zs = z
        self.p = np.where(ok, 2 * stats.norm.sf(np.abs(z)), 1.0)
        self.classes = classify(z, self.p)
        self.p_sim = self._permute(w) if self.permutations > 0 else None

    def _permute(self, w: sp.csr_matrix, chunk_elems: int = 4_000_000) -> np.ndarray:
        """Conditional randomisation: y_i fixed, k_i neighbours drawn without replacement from the other n-1.

        As esda, one draw of ``max k`` positions per permutation is shared by all cells, shifted past cell i
        so it never draws itself; all in numpy chunks, no Python loop over cells.
        """
        y, n, perms = self.y, self.n, self.permutations
        k = self.cardinalities
        m = int(k.max()) if n else 0
        if m == 0:
            return np.ones(n)
        rng = np.random.default_rng(self.seed)
        draws = np.stack([rng.choice(n - 1, size=m, replace=False) for _ in range(perms)])  # (P, m)
        larger = np.empty(n)
        step = max(1, chunk_elems // (perms * m))
        y_sum = y.sum()
        for start in range(0, n, step):
            idx = np.arange(start, min(n, start + step))
            pos = draws[None, :, :] + (draws[None, :, :] >= idx[:, None, None])  # (c, P, m) skip self
            csum = np.cumsum(y[pos], axis=2)
            kk = k[idx]
            sims = np.where(kk[:, None] > 0, csum[np.arange(idx.size), :, np.maximum(kk - 1, 0)], 0.0)
            sims = (sims + y[idx, None]) / y_sum
            larger[idx] = (sims >= self.Gs[idx, None]).sum(axis=1)
        flip = (perms - larger) < larger
        larger[flip] = perms - larger[flip]
        return (larger + 1) / (perms + 1)


def gistar(counts, weights, *, permutations: int = 999, seed: int = 0) -> GiStar:
    """Gi* hot spots on study-area counts: see :class:`GiStar`.

    Examples
    --------
    >>> from geo.weights import h3_kring_weights
    >>> import h3
    >>> cells = sorted(h3.grid_disk(h3.latlng_to_cell(52.19, -2.22, 9), 2))
    >>> counts = np.where(np.arange(len(cells)) < 3, 30.0, 1.0)
    >>> gistar(counts, h3_kring_weights(cells), permutations=0).classes[:3].tolist()
    ['hot_95', 'not_significant', 'not_significant']
    """
    return GiStar(counts, weights, permutations=permutations, seed=seed)


def counts_on_study_area(counts: pd.Series, study_area) -> pd.Series:
    """Counts per code re-indexed onto the study area: every study-area code once, 0 where none.

    Codes outside the study area (including ``outside`` and ``unlocated``) are dropped.

    Examples
    --------
    >>> counts_on_study_area(pd.Series({"a": 3, "unlocated": 2}), ["a", "b"]).tolist()
    [3.0, 0.0]
    """
    idx = pd.Index([str(c) for c in study_area]).unique()
    s = pd.Series(counts, dtype=float)
    s.index = s.index.astype(str)
    s = s.groupby(level=0).sum()
    return s.reindex(idx, fill_value=0.0).astype(float)


def gistar_frame(result: GiStar, codes) -> pd.DataFrame:
    """The result as rows ``code, count, z, p, p_sim, class`` (no NaN: p_sim is null only when not computed).

    Examples
    --------
    >>> from geo.weights import h3_kring_weights
    >>> import h3
    >>> cells = sorted(h3.grid_disk(h3.latlng_to_cell(52.19, -2.22, 9), 2))
    >>> f = gistar_frame(gistar(np.arange(19.0), h3_kring_weights(cells), permutations=9), cells)
    >>> list(f.columns), len(f)
    (['code', 'count', 'z', 'p', 'p_sim', 'class'], 19)
    """
    return pd.DataFrame(
        {
            "code": [str(c) for c in codes],
            "count": result.y.astype(np.int64),
            "z": result.Zs,
            "p": result.p,
            "p_sim": result.p_sim if result.p_sim is not None else np.full(result.n, np.nan),
            "class": result.classes.astype(str),
        }
    )
