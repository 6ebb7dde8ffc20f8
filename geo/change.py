"""Period change flags (this quarter vs the last): an exact conditional binomial test of two Poisson counts
with Benjamini–Hochberg across areas and crime types, so tiny counts are not called surges."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests


def poisson_change(previous, current, *, alpha: float = 0.05) -> pd.DataFrame:
    """Test each (previous, current) pair of counts for a change in the underlying Poisson rate.

    Given n = previous + current, current ~ Binomial(n, 1/2) under "no change" (equal periods); the
    two-sided exact p-value is then corrected with Benjamini–Hochberg over all pairs.

    Returns ``previous, current, change, ratio, p, q, flag`` (flag: ``up``, ``down`` or ``none``).

    Examples
    --------
    >>> r = poisson_change([2, 40, 10], [5, 90, 10])
    >>> r["flag"].tolist()
    ['none', 'up', 'none']
    """
    prev = np.asarray(previous, dtype=float)
    cur = np.asarray(current, dtype=float)
    n = prev + cur
    p = np.ones(len(n))
    for i in np.flatnonzero(n > 0):
        p[i] = stats.binomtest(int(cur[i]), int(n[i]), 0.5).pvalue
    q = multipletests(p, alpha=alpha, method="fdr_bh")[1] if len(p) else p
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(prev > 0, cur / prev, np.nan)
    flag = np.where(q <= alpha, np.where(cur > prev, "up", "down"), "none")
    return pd.DataFrame({"previous": prev, "current": cur, "change": cur - prev, "ratio": ratio, "p": p, "q": q,
                         "flag": flag})
