"""Point-in-polygon assignment: every point placed exactly once per level, and the distinct-point path (each snap
point looked up once) gives exactly what looking up every point gives, on random grids of boxes."""

from __future__ import annotations

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.assign import OUTSIDE, UNLOCATED, distinct_points, distinct_xy, map_codes, points_to_areas
from geo.errors import InputError
from geo.hexgrid import points_to_h3


@st.composite
def box_grids(draw):
    """A grid of boxes with some cells left out and, now and then, one box laid over another."""
    nx, ny = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    size = draw(st.sampled_from([1.0, 0.5, 2.0]))
    keep = draw(st.lists(st.booleans(), min_size=nx * ny, max_size=nx * ny))
    boxes = [shapely.box(i * size, j * size, (i + 1) * size, (j + 1) * size)
             for i in range(nx) for j in range(ny) if keep[i * ny + j]]
    if boxes and draw(st.booleans()):  # an overlap: a box straddling others
        i, j = draw(st.integers(0, nx - 1)), draw(st.integers(0, ny - 1))
        boxes.insert(draw(st.integers(0, len(boxes))),
                     shapely.box((i + 0.25) * size, (j + 0.25) * size, (i + 1.25) * size, (j + 1.25) * size))
    codes = [f"C{k}" for k in range(len(boxes))]
    return gpd.GeoSeries(boxes, crs=4326), codes, nx * size, ny * size


@st.composite
def grids_and_points(draw):
    polys, codes, w, h = draw(box_grids())
    # coordinates on a quarter-cell lattice reaching past the grid: many repeats, edges, corners, outside points
    xs = np.arange(-0.5, w + 0.75, 0.25)
    ys = np.arange(-0.5, h + 0.75, 0.25)
    cell = st.one_of(st.none(), st.tuples(st.sampled_from(xs.tolist()), st.sampled_from(ys.tolist())))
    pts = draw(st.lists(cell, max_size=80))
    geoms = [None if p is None else shapely.Point(p) for p in pts]
    if geoms and draw(st.booleans()):
        geoms[draw(st.integers(0, len(geoms) - 1))] = shapely.Point()  # an empty point is unlocated too
    return polys, codes, gpd.GeoSeries(geoms, crs=4326)


def brute_force(points, polygons, codes) -> list[str]:
    """Each point against each polygon in order: the first it lies strictly within."""
    out = []
    for p in points:
        if p is None or p.is_empty:
            out.append(UNLOCATED)
            continue
        out.append(next((c for poly, c in zip(polygons, codes, strict=True) if p.within(poly)), OUTSIDE))
    return out


@settings(max_examples=200, deadline=None)
@given(grids_and_points())
def test_every_point_assigned_exactly_once(case):
    polys, codes, pts = case
    got = points_to_areas(pts, polys, codes)
    assert len(got) == len(pts)
    assert set(got) <= set(codes) | {OUTSIDE, UNLOCATED}
    # a count per code plus outside plus unlocated is every point, once
    counts = pd.Series(got).value_counts()
    assert counts.sum() == len(pts)
    missing = np.array([p is None or p.is_empty for p in pts], dtype=bool)
    assert ((got == UNLOCATED) == missing).all()
    assert got.tolist() == brute_force(pts, polys, codes)


@settings(max_examples=200, deadline=None)
@given(grids_and_points())
def test_distinct_point_path_equals_plain_path(case):
    polys, codes, pts = case
    assert points_to_areas(pts, polys, codes).tolist() == points_to_areas(pts, polys, codes, dedupe=False).tolist()


@settings(max_examples=200, deadline=None)
@given(grids_and_points())
def test_distinct_points_map_back_to_each_point(case):
    _, _, pts = case
    missing, distinct, inverse = distinct_points(pts)
    for p, m, i in zip(pts, missing, inverse, strict=True):
        assert m == (p is None or p.is_empty)
        if m:
            assert i == -1
        else:
            assert shapely.equals_exact(distinct[i], p, tolerance=0)
    assert len({(g.x, g.y) for g in distinct}) == len(distinct)  # distinct really are distinct


@given(st.lists(st.tuples(st.sampled_from([0.0, -0.0, 1.5, -2.25, 1e-300]),
                          st.sampled_from([0.0, -0.0, 52.5, 3.0])), max_size=50))
def test_distinct_xy_is_bitwise(pairs):
    x = np.array([p[0] for p in pairs], dtype=float)
    y = np.array([p[1] for p in pairs], dtype=float)
    codes, first = distinct_xy(x, y)
    assert len(codes) == len(pairs)
    key = [(a.tobytes(), b.tobytes()) for a, b in zip(x, y, strict=True)]
    for i in range(len(pairs)):
        for j in range(len(pairs)):
            assert (codes[i] == codes[j]) == (key[i] == key[j])
    assert first.tolist() == sorted({k: n for n, k in reversed(list(enumerate(key)))}.values())
    assert (codes[first] == np.arange(len(first))).all()


def test_other_geometries_are_not_merged():
    pts = [shapely.Point(0.5, 0.5), shapely.box(0, 0, 0.2, 0.2), shapely.Point(0.5, 0.5), None]
    missing, distinct, inverse = distinct_points(pts)
    assert inverse.tolist() == [0, 1, 2, -1] and len(distinct) == 3
    polys = gpd.GeoSeries([shapely.box(0, 0, 1, 1)], crs=4326)
    assert points_to_areas(gpd.GeoSeries(pts, crs=4326), polys, ["A"]).tolist() == ["A", "A", "A", UNLOCATED]


def test_crs_mismatch_names_both():
    with pytest.raises(InputError, match="EPSG:4326 vs EPSG:27700"):
        points_to_areas(gpd.GeoSeries([shapely.Point(0, 0)], crs=4326),
                        gpd.GeoSeries([shapely.box(0, 0, 1, 1)], crs=27700), ["A"])


@given(st.lists(st.sampled_from(["w1", "w2", "w3", OUTSIDE, UNLOCATED, None]), max_size=40))
def test_map_codes_equals_row_by_row(codes):
    mapping = {"w1": "L1", "w2": "L2"}
    want = [c if c in (OUTSIDE, UNLOCATED) else mapping.get(c, OUTSIDE) for c in codes]
    assert map_codes(codes, mapping).tolist() == want


@settings(max_examples=50, deadline=None)
@given(st.lists(st.one_of(st.none(), st.tuples(st.sampled_from([-2.45, -2.4497, -0.0, 0.0, 1.25]),
                                               st.sampled_from([52.68, 52.6766, 0.0, 51.5]))), max_size=30),
       st.sampled_from([7, 9, 10]))
def test_points_to_h3_equals_point_by_point(pts, res):
    lon = [np.nan if p is None else p[0] for p in pts]
    lat = [np.nan if p is None else p[1] for p in pts]
    want = [None if p is None else h3.latlng_to_cell(p[1], p[0], res) for p in pts]
    assert points_to_h3(lon, lat, res).tolist() == want
