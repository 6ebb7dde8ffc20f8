"""Emerging hot spots: monthly Gi*, a Mann-Kendall trend per cell, and ArcGIS's category names.

For each month, Gi* (``geo.gistar``) is run on that month's counts over the same study area; a cell is
*hot* in a month when its class is hot at any level (BH-corrected, 90 % or stricter) and *cold* likewise.
The Mann-Kendall trend test runs on each cell's monthly z series: ``S = sum_{i<j} sign(z_j - z_i)``, variance
``(n(n-1)(2n+5) - sum_t t(t-1)(2t+5)) / 18`` (ties corrected), ``Z = (S - sign(S)) / sqrt(var)`` (continuity
correction), two-sided ``p = 2 Phi(-|Z|)``; the trend is significant at p < 0.05. With fewer than 6 months no
trend could be told apart from chance, so the classification is refused.

Rules (n months, ``H``/``C`` hot/cold per month, ``frac`` share of months hot; applied in this order;
the ``cold`` twins swap hot and cold and the sign of the trend):

- ``persistent hot spot``: hot in the final month and in at least 90 % of months, no significant trend;
- ``intensifying hot spot``: as persistent, with a significant upward trend in z;
- ``diminishing hot spot``: as persistent, with a significant downward trend in z;
- ``new hot spot``: hot in the final month and in no earlier month;
- ``consecutive hot spot``: the final months form one unbroken hot run of at least 2 months, never hot
  before the run, and under 90 % of months hot;
- ``oscillating hot spot``: hot in the final month, under 90 % of months hot, and cold in some earlier month;
- ``sporadic hot spot``: hot in the final month, on and off before, under 90 % hot, never cold;
- ``historical hot spot``: not hot in the final month, but hot in at least 90 % of months;
- ``no pattern``: none of the above (hot or cold).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from geo.errors import InputError
from geo.gistar import gistar

MIN_MONTHS = 6
CATEGORIES = tuple(
    f"{name} {kind} spot"
    for kind in ("hot", "cold")
    for name in (
        "new",
        "consecutive",
        "intensifying",
        "persistent",
        "diminishing",
        "sporadic",
        "oscillating",
        "historical",
    )
) + ("no pattern",)


def mann_kendall(series) -> tuple[np.ndarray, np.ndarray]:
    """Mann-Kendall trend test per row of a (cells, months) array: (Z, two-sided p).

    Examples
    --------
    >>> z, p = mann_kendall([[1, 2, 3, 4, 5, 6], [3, 3, 3, 3, 3, 3]])
    >>> z.round(3).tolist(), bool(p[0] < 0.01), float(p[1])
    ([2.63, 0.0], True, 1.0)
    """
    x = np.atleast_2d(np.asarray(series, dtype=float))
    n = x.shape[1]
    i, j = np.triu_indices(n, k=1)
    s = np.sign(x[:, j] - x[:, i]).sum(axis=1)
    # tie correction: per row, group sizes of equal values
    srt = np.sort(x, axis=1)
    new = np.ones_like(srt, dtype=bool)
    new[:, 1:] = srt[:, 1:] != srt[:, :-1]
    ties = np.zeros(x.shape[0])
    grp = np.cumsum(new, axis=1) - 1
    for r in range(n):  # loop over months (n is small), vectorised over cells
        t = (grp == r).sum(axis=1).astype(float)
        ties += t * (t - 1) * (2 * t + 5)
    var = (n * (n - 1) * (2 * n + 5) - ties) / 18.0
    z = np.where(var > 0, (s - np.sign(s)) / np.sqrt(np.where(var > 0, var, 1)), 0.0)
    return z, 2 * stats.norm.sf(np.abs(z))


def classify_trends(hot, cold, z, *, alpha: float = 0.05) -> np.ndarray:
    """ArcGIS emerging-hot-spot categories from monthly hot/cold flags and z series (cells x months).

    Examples
    --------
    >>> hot = np.array([[False] * 11 + [True]])
    >>> classify_trends(hot, ~hot & False, np.zeros((1, 12))).tolist()
    ['new hot spot']
    """
    hot = np.atleast_2d(np.asarray(hot, dtype=bool))
    cold = np.atleast_2d(np.asarray(cold, dtype=bool))
    z = np.atleast_2d(np.asarray(z, dtype=float))
    n = hot.shape[1]
    if n < MIN_MONTHS:
        raise InputError(
            f"emerging hot spots need at least {MIN_MONTHS} months (a Mann-Kendall trend cannot reach 95 % with "
            f"fewer); received {n}",
            param="months",
        )
    mk_z, mk_p = mann_kendall(z)
    up = (mk_p < alpha) & (mk_z > 0)
    down = (mk_p < alpha) & (mk_z < 0)
    out = np.full(hot.shape[0], "no pattern", dtype=object)
    done = np.zeros(hot.shape[0], dtype=bool)
    for kind, a, b, rising, falling in (("hot", hot, cold, up, down), ("cold", cold, hot, down, up)):
        last = a[:, -1]
        frac = a.mean(axis=1)
        earlier = a[:, :-1].any(axis=1)
        # length of the unbroken run ending at the final month
        rev = a[:, ::-1]
        run = np.where(rev.all(axis=1), n, np.argmin(rev, axis=1))
        before_run = np.array([a[r, : n - run[r]].any() for r in range(a.shape[0])]) if a.size else np.zeros(0, bool)
        most = frac >= 0.9
        rules = [
            (last & most & rising, "intensifying"),
            (last & most & falling, "diminishing"),
            (last & most, "persistent"),
            (last & ~earlier, "new"),
            (last & (run >= 2) & ~before_run, "consecutive"),
            (last & b[:, :-1].any(axis=1), "oscillating"),
            (last, "sporadic"),
            (~last & most, "historical"),
        ]
        for mask, name in rules:
            m = mask & ~done
            out[m] = f"{name} {kind} spot"
            done |= m
    return out


def emerging_hotspots(counts_by_month, weights, *, permutations: int = 0, seed: int = 0) -> pd.DataFrame:
    """Monthly Gi* on each month's counts and the emerging category of every cell.

    Parameters
    ----------
    counts_by_month : array-like, shape (cells, months)
        Counts per study-area cell and month, oldest month first.
    weights : scipy.sparse matrix
        Binary neighbours (``geo.weights``).

    Returns
    -------
    pandas.DataFrame
        ``z`` (final month), ``trend_z``, ``trend_p``, ``months_hot``, ``months_cold``, ``category``.

    Examples
    --------
    >>> import h3
    >>> from geo.weights import h3_kring_weights
    >>> cells = sorted(h3.grid_disk(h3.latlng_to_cell(52.19, -2.22, 9), 3))
    >>> y = np.tile(np.where(np.arange(37) < 4, 20.0, 1.0)[:, None], (1, 6))
    >>> f = emerging_hotspots(y, h3_kring_weights(cells))
    >>> len(f), f["category"].iloc[-1]
    (37, 'no pattern')
    """
    y = np.asarray(counts_by_month, dtype=float)
    if y.ndim != 2 or y.shape[1] < MIN_MONTHS:
        got = y.shape[1] if y.ndim == 2 else 1
        raise InputError(
            f"emerging hot spots need at least {MIN_MONTHS} months (a Mann-Kendall trend cannot reach 95 % with "
            f"fewer); received {got}",
            param="months",
        )
    res = [gistar(y[:, t], weights, permutations=permutations, seed=seed + t) for t in range(y.shape[1])]
    z = np.column_stack([r.Zs for r in res])
    cls = np.column_stack([r.classes for r in res]).astype(str)
    hot = np.char.startswith(cls, "hot")
    cold = np.char.startswith(cls, "cold")
    mk_z, mk_p = mann_kendall(z)
    return pd.DataFrame(
        {
            "z": z[:, -1],
            "p": res[-1].p,
            "class": res[-1].classes.astype(str),
            "trend_z": mk_z,
            "trend_p": mk_p,
            "months_hot": hot.sum(axis=1),
            "months_cold": cold.sum(axis=1),
            "category": classify_trends(hot, cold, z),
        }
    )
