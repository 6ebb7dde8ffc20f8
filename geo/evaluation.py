"""Predictive evaluation of hot-spot methods: PAI, hit rate, recapture rate index and PEI*.

A rolling backtest: for each target month t+1, every method ranks the cells of the study area built from the
months up to t only (cells with at least one offence of any type in those months), and the top-ranked cells
covering 1 %, 5 % and 10 % of that study area are scored on month t+1.

Methods
-------
``naive_last_month``
    Count in month t.
``naive_all_history``
    Total count over all training months.
``gistar``
    Gi* z on the total count over the training months (k-ring, default k=1), see ``geo.gistar``.
``kde``
    Prospective (recency-weighted) kernel density, ``geo.prospective``: each training offence at its police.uk
    location spreads its mass over the study-area cells with a quartic kernel in EPSG:27700 (mixed with a small
    share of a wide kernel), weighted by an exponential decay in age and, for a selection of crime types, a
    smaller weight for every other recorded offence. A cell's score is its own count plus the evidence borrowed
    from neighbouring cells and other types, the latter as a prior worth one month of history (divided by the
    number of training months), so the longer the history the closer the ranking stays to the cell's own count.
    Bandwidth, half-life, other-type weight and wide share are chosen automatically by rolling-origin validation
    on the training months only (PAI at 5 % on each training month from the months before it; a fixed grid and a
    stated fallback with one training month, see ``geo.prospective``), or given.

Ranking ties are broken deterministically: score descending, then code ascending (string order), for every
method alike. Cells are taken in that order while the area taken stays within the share of the study area
(at least one cell); ``area_covered`` reports the share actually covered.

Measures (N = target-month offences in study-area cells; n = those in the selected cells; a/A = covered share)
-------------------------------------------------------------------------------------------------------------
``hit_rate`` = n / N.  ``pai`` = (n / N) / (a / A) (Chainey, Tompson & Uhlig 2008).
``rri`` = (n / n_train) / (N / N_train): recapture rate index (Levine 2008), with n_train, N_train the training
counts in the selected cells and in the whole study area (null when n_train = 0).
``pei`` = n / n*: PEI* (Joshi et al. 2021), n* the most target offences any selection of the same number of cells
could have caught (exact for equal-area cells such as H3; an approximation for polygons).
Offences in the target month outside the training study area cannot be predicted by any method and are not in N.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from geo.errors import InputError
from geo.gistar import counts_on_study_area, gistar

METHODS = ("gistar", "kde", "naive_last_month", "naive_all_history")
AREA_SHARES = (0.01, 0.05, 0.10)
COLUMNS = ["method", "target_month", "area_share", "area_covered", "pai", "hit_rate", "rri", "pei"]


def rank_cells(scores: pd.Series) -> pd.Index:
    """Codes ordered for selection: score descending, ties by code ascending.

    Examples
    --------
    >>> rank_cells(pd.Series({"b": 2.0, "a": 2.0, "c": 5.0})).tolist()
    ['c', 'a', 'b']
    """
    s = pd.Series(scores, dtype=float).fillna(-np.inf)
    f = pd.DataFrame({"code": s.index.astype(str), "score": s.to_numpy()})
    f = f.sort_values(["score", "code"], ascending=[False, True], kind="mergesort")
    return pd.Index(f["code"])


def score_selection(
    ranked: pd.Index, target: pd.Series, train: pd.Series, area: pd.Series | None = None, shares=AREA_SHARES
) -> pd.DataFrame:
    """PAI, hit rate, RRI and PEI* of a ranking at each area share of the study area.

    Parameters
    ----------
    ranked : pandas.Index
        Study-area codes in selection order (:func:`rank_cells`).
    target, train : pandas.Series
        Target-month and training counts per code (missing codes count 0).
    area : pandas.Series, optional
        Area per code (default: equal areas).
    shares : sequence of float

    Examples
    --------
    >>> r = pd.Index(list("abcdefghij"))
    >>> t = pd.Series({"a": 5, "b": 1, "j": 4})
    >>> f = score_selection(r, t, pd.Series({"a": 3}), shares=[0.1])
    >>> f[["area_covered", "pai", "hit_rate", "pei"]].round(3).values.tolist()
    [[0.1, 5.0, 0.5, 1.0]]
    """
    codes = pd.Index(ranked)
    t = pd.Series(target, dtype=float).reindex(codes, fill_value=0.0).to_numpy()
    tr = pd.Series(train, dtype=float).reindex(codes, fill_value=0.0).to_numpy()
    a = np.ones(len(codes)) if area is None else pd.Series(area, dtype=float).reindex(codes).fillna(0).to_numpy()
    total_a, big_n, big_n_train = a.sum(), t.sum(), tr.sum()
    cum_a = np.cumsum(a) / total_a if total_a > 0 else np.zeros(len(codes))
    best = np.cumsum(np.sort(t)[::-1])
    cum_t, cum_tr = np.cumsum(t), np.cumsum(tr)
    rows = []
    for share in shares:
        m = max(1, int(np.searchsorted(cum_a, share + 1e-12, side="right"))) if len(codes) else 0
        covered = float(cum_a[m - 1]) if m else 0.0
        n = float(cum_t[m - 1]) if m else 0.0
        n_train = float(cum_tr[m - 1]) if m else 0.0
        hit = n / big_n if big_n > 0 else None
        pai = hit / covered if hit is not None and covered > 0 else None
        rri = (n / n_train) / (big_n / big_n_train) if n_train > 0 and big_n > 0 and big_n_train > 0 else None
        n_star = float(best[m - 1]) if m else 0.0
        pei = n / n_star if n_star > 0 else None
        rows.append(
            {"area_share": float(share), "area_covered": covered, "pai": pai, "hit_rate": hit, "rri": rri, "pei": pei}
        )
    return pd.DataFrame(rows)


def backtest(
    counts: pd.DataFrame,
    any_counts: pd.DataFrame,
    scorers: dict,
    *,
    target_months=None,
    area: pd.Series | None = None,
    shares=AREA_SHARES,
) -> pd.DataFrame:
    """Rolling one-month-ahead backtest of several ranking methods.

    Parameters
    ----------
    counts : pandas.DataFrame
        ``code, month, count`` of the selected crime types (located, at the evaluation level).
    any_counts : pandas.DataFrame
        ``code, month, count`` of every type (ASB included): defines the study area of each training period.
    scorers : dict
        ``method -> callable(train_counts, study_area, months)`` returning a score per study-area code, where
        ``train_counts`` is ``counts`` restricted to the training months.
    target_months : sequence of datetime.date, optional
        Default: every month after the first.
    area : pandas.Series, optional
        Area per code (default equal).

    Returns
    -------
    pandas.DataFrame
        ``method, target_month, area_share, area_covered, pai, hit_rate, rri, pei``.

    Examples
    --------
    >>> import datetime as dt
    >>> m1, m2 = dt.date(2019, 1, 1), dt.date(2019, 2, 1)
    >>> c = pd.DataFrame({"code": ["a", "b", "a"], "month": [m1, m1, m2], "count": [3, 1, 2]})
    >>> naive = {"naive_all_history": lambda tr, sa, ms: tr.groupby("code")["count"].sum()}
    >>> backtest(c, c, naive, shares=[0.5])[["method", "pai"]].values.tolist()
    [['naive_all_history', 2.0]]
    """
    months = sorted(pd.unique(pd.concat([counts["month"], any_counts["month"]])))
    if len(months) < 2:
        raise InputError(
            f"evaluation needs at least 2 months (training and target); received {len(months)}", param="months"
        )
    targets = months[1:] if target_months is None else sorted(target_months)
    rows = []
    for tm in targets:
        train_months = [m for m in months if m < tm]
        if not train_months:
            raise InputError(f"target month {tm} has no earlier month to train on", param="months")
        tr_any = any_counts[any_counts["month"].isin(train_months) & (any_counts["count"] > 0)]
        study = pd.Index(sorted(tr_any["code"].astype(str).unique()))
        tr = counts[counts["month"].isin(train_months)]
        train_total = tr.groupby("code")["count"].sum()
        target = counts[counts["month"] == tm].groupby("code")["count"].sum()
        for method, scorer in scorers.items():
            score = pd.Series(scorer(tr, study, train_months), dtype=float).reindex(study)
            res = score_selection(rank_cells(score), target, train_total, area, shares)
            res.insert(0, "target_month", tm)
            res.insert(0, "method", method)
            rows.append(res)
    return pd.DataFrame(pd.concat(rows, ignore_index=True), columns=COLUMNS)


def make_scorers(
    weights_for,
    samples_for,
    spacing: float,
    events: pd.DataFrame | None = None,
    *,
    k: int = 1,
    kde_params=None,
    area: pd.Series | None = None,
) -> dict:
    """The four evaluation methods as scorers for :func:`backtest`.

    Parameters
    ----------
    weights_for : callable
        ``codes -> sparse binary weights`` among the study-area codes (``geo.weights``).
    samples_for : callable
        ``codes -> (sample_xy, sample_cell_index)``: integration points of those cells in EPSG:27700
        (``geo.prospective.h3_samples`` / ``polygon_samples``).
    spacing : float
        Typical distance between neighbouring cell centres, metres (scales the KDE bandwidth grid).
    events : pandas.DataFrame, optional
        Located offences ``code, month, x, y, selected`` (every type; ``selected`` marks the evaluated types),
        for ``kde``; without them ``kde`` is left out.
    k : int
        k-ring passed to ``weights_for`` (H3).
    kde_params : geo.prospective.Params, optional
        Fixed KDE parameters (default: chosen by rolling origin on the training months).
    area : pandas.Series, optional
        Area per code, as given to :func:`backtest`, so that the KDE's validation scores its origins the way the
        evaluation scores the target month (default: equal areas).

    Examples
    --------
    >>> sorted(make_scorers(None, None, 300.0))
    ['gistar', 'naive_all_history', 'naive_last_month']
    """
    from geo.prospective import ProspectiveKDE

    def total(tr, study):
        return counts_on_study_area(tr.groupby("code")["count"].sum(), study)

    def naive_last_month(tr, study, months):
        return total(tr[tr["month"] == months[-1]], study)

    def naive_all_history(tr, study, months):
        return total(tr, study)

    def gistar_z(tr, study, months):
        y = total(tr, study)
        return pd.Series(gistar(y.to_numpy(), weights_for(study), permutations=0).Zs, index=study)

    scorers = {"gistar": gistar_z}
    if events is not None:
        scorers["kde"] = ProspectiveKDE(events, samples_for, spacing, kde_params, area)
    scorers["naive_last_month"] = naive_last_month
    scorers["naive_all_history"] = naive_all_history
    return scorers
