"""Assign offences to areas: point-in-polygon with one vectorised STRtree query, and lookups between levels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from geo.errors import InputError

OUTSIDE = "outside"
UNLOCATED = "unlocated"


def check_same_crs(a, b, what: str = "points and polygons") -> None:
    """Raise when two frames' CRSs differ, naming both.

    Examples
    --------
    >>> import geopandas as gpd
    >>> a = gpd.GeoDataFrame(geometry=[], crs=4326); b = gpd.GeoDataFrame(geometry=[], crs=27700)
    >>> check_same_crs(a, b)
    Traceback (most recent call last):
    ...
    geo.errors.InputError: CRS mismatch between points and polygons: EPSG:4326 vs EPSG:27700; reproject one first
    """
    if a.crs != b.crs:
        name = (lambda c: c.to_string() if c is not None else "no CRS")
        raise InputError(f"CRS mismatch between {what}: {name(a.crs)} vs {name(b.crs)}; reproject one first")


def points_to_areas(points, polygons, codes) -> np.ndarray:
    """Code of the polygon each point lies within (``"outside"`` when none, ``"unlocated"`` for a missing point).

    A point on a shared edge lies within no polygon (as ``geopandas.sjoin(predicate="within")``); a point
    within two overlapping polygons goes to the first, so every point is counted exactly once.

    Parameters
    ----------
    points : GeoSeries
        Points (None for unlocated offences).
    polygons : GeoSeries
        Polygons in the same CRS.
    codes : array-like
        The code of each polygon.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> polys = gpd.GeoSeries([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)], crs=4326)
    >>> pts = gpd.GeoSeries([shapely.Point(0.5, 0.5), shapely.Point(1.5, 0.2), shapely.Point(5, 5), None], crs=4326)
    >>> points_to_areas(pts, polys, ["A", "B"]).tolist()
    ['A', 'B', 'outside', 'unlocated']
    """
    check_same_crs(points, polygons)
    geoms = np.asarray(points.values, dtype=object)
    missing = pd.isna(geoms) | np.array([g is None or g.is_empty for g in geoms], dtype=bool)
    out = np.full(len(geoms), OUTSIDE, dtype=object)
    out[missing] = UNLOCATED
    if len(polygons) and (~missing).any():
        tree = shapely.STRtree(np.asarray(polygons.values))
        idx = np.flatnonzero(~missing)
        src, tgt = tree.query(geoms[idx], predicate="within")
        # first polygon per point (lowest polygon index) so overlaps cannot double count
        order = np.lexsort((tgt, src))
        src, tgt = src[order], tgt[order]
        first = np.r_[True, src[1:] != src[:-1]] if len(src) else np.array([], dtype=bool)
        codes = np.asarray(codes, dtype=object)
        out[idx[src[first]]] = codes[tgt[first]]
    return out


def map_codes(codes, mapping: dict, *, keep=(OUTSIDE, UNLOCATED), missing=OUTSIDE) -> np.ndarray:
    """Map area codes through a lookup (e.g. ward → LAD); ``outside``/``unlocated`` pass through.

    Examples
    --------
    >>> map_codes(["w1", "w2", "outside", "zz"], {"w1": "L1", "w2": "L1"}).tolist()
    ['L1', 'L1', 'outside', 'outside']
    """
    s = pd.Series(np.asarray(codes, dtype=object))
    mapped = s.map(mapping)
    mapped = mapped.where(~s.isin(keep), s)
    return mapped.where(mapped.notna(), missing).to_numpy(dtype=object)
