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
        na, nb = (c.to_string() if c is not None else "no CRS" for c in (a.crs, b.crs))
        raise InputError(f"CRS mismatch between {what}: {na} vs {nb}; reproject one first")


def distinct_xy(x, y) -> tuple[np.ndarray, np.ndarray]:
    """Number the distinct (x, y) pairs (bit for bit, so 0.0 and -0.0 differ) in order of first appearance.

    Returns ``(codes, first)``: ``codes[i]`` is pair ``i``'s number and ``first[j]`` the position of the first pair
    numbered ``j``. Hash-based (pandas factorize), linear in the number of pairs.

    Examples
    --------
    >>> codes, first = distinct_xy([1.0, 2.0, 1.0, 1.0], [5.0, 5.0, 5.0, 6.0])
    >>> codes.tolist(), first.tolist()
    ([0, 1, 0, 2], [0, 1, 3])
    """
    bx = np.ascontiguousarray(x, dtype=np.float64).view(np.int64)
    by = np.ascontiguousarray(y, dtype=np.float64).view(np.int64)
    if not len(bx):
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
    cx, _ = pd.factorize(bx)
    cy, _ = pd.factorize(by)
    codes, _ = pd.factorize(cx.astype(np.int64) * (int(cy.max()) + 1) + cy)
    # factorize numbers pairs in order of first appearance: a pair is new where its code exceeds all before it
    first = np.flatnonzero(np.r_[True, codes[1:] > np.maximum.accumulate(codes)[:-1]])
    return codes.astype(np.intp, copy=False), first


def distinct_points(points) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct located points of ``points`` and where each point is among them.

    police.uk snaps every offence to one of a fixed set of points, so a month of a force has several offences per
    point: whatever depends only on the location (point-in-polygon, H3 cell) is computed once per distinct point
    and mapped back through ``inverse``.

    Returns ``(missing, distinct, inverse)``: ``missing`` marks the None or empty geometries; ``distinct`` holds
    one geometry per distinct (x, y) of the others; ``inverse[i]`` is point ``i``'s index into ``distinct``
    (-1 where missing). Geometries other than 2-D points with finite coordinates are not merged: each is its own.

    Examples
    --------
    >>> import shapely
    >>> pts = [shapely.Point(1, 2), None, shapely.Point(3, 4), shapely.Point(1, 2)]
    >>> missing, distinct, inverse = distinct_points(pts)
    >>> missing.tolist(), [g.wkt for g in distinct], inverse.tolist()
    ([False, True, False, False], ['POINT (1 2)', 'POINT (3 4)'], [0, -1, 1, 0])
    """
    geoms = np.asarray(getattr(points, "values", points), dtype=object)
    if geoms.ndim != 1:
        geoms = geoms.ravel()
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    idx = np.flatnonzero(~missing)
    inverse = np.full(len(geoms), -1, dtype=np.intp)
    located = geoms[idx]
    if not len(idx):
        return missing, located, inverse
    xy = shapely.get_coordinates(located)
    simple = (len(xy) == len(idx) and bool((shapely.get_type_id(located) == 0).all())
              and bool(np.isfinite(xy).all()) and not bool(shapely.has_z(located).any()))
    if not simple:  # anything but plain 2-D points: no merging
        inverse[idx] = np.arange(len(idx))
        return missing, located, inverse
    codes, first = distinct_xy(xy[:, 0], xy[:, 1])
    inverse[idx] = codes
    return missing, located[first], inverse


def distinct_areas(distinct, polygons, codes) -> np.ndarray:
    """Code of the polygon each of ``distinct`` (located geometries) lies within, ``"outside"`` when none.

    One vectorised STRtree query; a point within two overlapping polygons goes to the first.
    """
    pts = np.asarray(distinct, dtype=object)
    if len(pts) and bool(((shapely.get_type_id(pts) == 0) & ~shapely.is_empty(pts)).all()):
        xy = shapely.get_coordinates(pts)
        return xy_areas(xy[:, 0], xy[:, 1], polygons, codes)
    out = np.full(len(pts), OUTSIDE, dtype=object)
    if len(polygons) and len(pts):
        src, tgt = shapely.STRtree(np.asarray(getattr(polygons, "values", polygons))).query(pts, predicate="within")
        _first_polygon(out, src, tgt, codes)
    return out


def xy_areas(x, y, polygons, codes, *, points=None, tree=None) -> np.ndarray:
    """Code of the polygon each point (``x``, ``y``) lies within, ``"outside"`` when none (as :func:`distinct_areas`).

    Bounding-box candidates from one STRtree query, then one point-in-polygon test per candidate:
    ``contains_xy(polygon, x, y)`` is ``within(point, polygon)`` (a point on an edge is in neither polygon)
    and tests no Point objects. ``points``, the same points as geometries, saves making them for the tree query
    when several layers are searched. ``tree``, an STRtree of (a copy of) ``polygons`` in the same order, saves
    building it, and its geometries are the ones tested, so a caller can give a tree of *prepared* copies (much
    faster). Prepared geometries are not thread-safe (GEOS builds their indexes lazily), so this function never
    prepares the geometries it is given: a tree of prepared copies belongs to one thread
    (``data.assignment`` keeps one per thread).

    Examples
    --------
    >>> boxes = [shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)]
    >>> xy_areas([0.5, 1.0, 5.0], [0.5, 0.5, 5.0], boxes, ["A", "B"]).tolist()
    ['A', 'outside', 'outside']
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    out = np.full(len(x), OUTSIDE, dtype=object)
    if len(polygons) and len(x):
        if tree is None:
            tree = shapely.STRtree(np.asarray(getattr(polygons, "values", polygons)))
        polys = tree.geometries
        src, tgt = tree.query(shapely.points(x, y) if points is None else points)
        inside = shapely.contains_xy(polys[tgt], x[src], y[src])
        _first_polygon(out, src[inside], tgt[inside], codes)
    return out


def _first_polygon(out: np.ndarray, src: np.ndarray, tgt: np.ndarray, codes) -> None:
    """Write into ``out`` the code of the first (lowest-index) polygon of each point, so overlaps cannot double
    count."""
    order = np.lexsort((tgt, src))
    src, tgt = src[order], tgt[order]
    first = np.r_[True, src[1:] != src[:-1]] if len(src) else np.array([], dtype=bool)
    out[src[first]] = np.asarray(codes, dtype=object)[tgt[first]]


def spread(values: np.ndarray, missing: np.ndarray, inverse: np.ndarray) -> np.ndarray:
    """Per-point values from per-distinct-point ``values``; ``"unlocated"`` where the point is missing."""
    out = np.full(len(inverse), UNLOCATED, dtype=object)
    ok = ~missing
    out[ok] = np.asarray(values, dtype=object)[inverse[ok]]
    return out


def points_to_areas(points, polygons, codes, *, dedupe: bool = True) -> np.ndarray:
    """Code of the polygon each point lies within (``"outside"`` when none, ``"unlocated"`` for a missing point).

    A point on a shared edge lies within no polygon (as ``geopandas.sjoin(predicate="within")``); a point
    within two overlapping polygons goes to the first, so every point is counted exactly once. Each distinct
    point is looked up once (``dedupe=False`` looks up every point; the result is the same).

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
    if dedupe:
        missing, distinct, inverse = distinct_points(points)
    else:
        geoms = np.asarray(points.values, dtype=object)
        missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
        distinct = geoms[~missing]
        inverse = np.full(len(geoms), -1, dtype=np.intp)
        inverse[~missing] = np.arange(len(distinct))
    return spread(distinct_areas(distinct, polygons, codes), missing, inverse)


def map_codes(codes, mapping: dict, *, keep=(OUTSIDE, UNLOCATED), missing=OUTSIDE) -> np.ndarray:
    """Map area codes through a lookup (e.g. ward → LAD); ``outside``/``unlocated`` pass through.

    Examples
    --------
    >>> map_codes(["w1", "w2", "outside", "zz"], {"w1": "L1", "w2": "L1"}).tolist()
    ['L1', 'L1', 'outside', 'outside']
    """
    arr = np.asarray(codes, dtype=object)
    if arr.ndim != 1:
        arr = arr.ravel()
    idx, uniq = pd.factorize(arr, use_na_sentinel=False)  # each distinct code is looked up once
    # plain dict look-ups: Series.map(dict) would turn the whole lookup (35,000 LSOAs) into a Series every call
    mapped = []
    for v in np.asarray(uniq, dtype=object).tolist():
        m = v if v in keep else mapping.get(v)
        mapped.append(missing if m is None or m != m else m)  # m != m: NaN in a lookup table
    mapped = np.array(mapped, dtype=object)
    return mapped[idx] if len(arr) else np.empty(0, dtype=object)
