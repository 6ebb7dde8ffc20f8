"""Build the assignment table: every stored offence → its area code at each level.

Rules (DESIGN.md "Geography"):

* ``lsoa``: the file's own LSOA 2011 code; point-in-polygon on a loaded LSOA layer only where the file has none.
* ``ward`` and ``parish``: point-in-polygon on the loaded layer (one STRtree query each). An offence in no
  parish polygon falls in the unparished area (E43) of its LAD, when the LAD has one.
* ``lad``, ``csp``, ``pfa``: from the ward through the ONS lookups of the ward layer's vintage, so levels
  nest and totals agree; where no ward was found (no ward layer, or the point lies outside it) from the
  file's LSOA through the best-fit LSOA → ward → LAD lookup of the same vintage.
* Unlocated offences are ``unlocated`` at every level; located ones that no polygon or lookup places are
  ``outside``.
"""

from __future__ import annotations

import functools
import threading

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from boundaries import lookups
from data import batch
from data.store import ASSIGNED_LEVELS
from geo.assign import OUTSIDE, UNLOCATED, check_same_crs, distinct_xy, map_codes, xy_areas

DEFAULT_VINTAGE = 2019


def chain_vintage(layers_meta: dict) -> int:
    """The ONS vintage used for ward → LAD → CSP → PFA: the loaded ward layer's, else 2019."""
    ward = layers_meta.get("ward")
    v = ward.get("vintage") if ward else None
    return int(v) if v in lookups.WARD_VINTAGES else DEFAULT_VINTAGE


@functools.lru_cache(maxsize=8)
def _lookup(name: str, vintage: int, key: str, value: str) -> dict:
    """One ONS lookup as a dict, built once per process (the lookups themselves are cached, read-only tables)."""
    if name == "unparished":
        table = lookups.unparished_areas()
    else:
        table = {"lsoa11_to_ward": lookups.lsoa11_to_ward, "ward_to_lad": lookups.ward_to_lad,
                 "lad_to_csp_pfa": lookups.lad_to_csp_pfa}[name](vintage)
    return dict(zip(table[key].tolist(), table[value].tolist(), strict=True))


@functools.lru_cache(maxsize=1)
def _wgs84() -> gpd.GeoSeries:
    """An empty series in the batch CRS, to compare layers' CRSs with (a CRS is slow to build)."""
    return gpd.GeoSeries([], crs=batch.CRS)


_LOCAL = threading.local()


def _tree(poly: gpd.GeoDataFrame) -> shapely.STRtree:
    """An STRtree of prepared copies of a loaded layer's polygons, built once per layer object *per thread*.

    Prepared geometries are not thread-safe (GEOS builds their indexes lazily on first use) and layers are shared
    by threads (Dask workers with threads, the API's builder threads), so each thread searches its own prepared
    copy; a thread keeps the trees of a few layers.
    """
    trees = getattr(_LOCAL, "trees", None)
    if trees is None:
        trees = _LOCAL.trees = {}
    hit = trees.get(id(poly))
    if hit is None or hit[0] is not poly:
        geoms = shapely.from_wkb(shapely.to_wkb(np.asarray(poly.geometry.values)))  # this thread's own copy
        shapely.prepare(geoms)
        hit = (poly, shapely.STRtree(geoms))
        if len(trees) >= 8:
            trees.pop(next(iter(trees)))
        trees[id(poly)] = hit
    return hit[1]


def warm_assignment(layers: dict[str, tuple[gpd.GeoDataFrame, dict]]) -> None:
    """Build, in this thread, what :func:`assign_batch` would build on first use: the search tree of each polygon
    layer and the lookups of the chain vintage (so that processes forked from here share them)."""
    for level in ("ward", "parish", "lsoa"):
        if level in layers:
            _tree(layers[level][0])
    vintage = chain_vintage({k: v[1] for k, v in layers.items()})
    _lookup("lsoa11_to_ward", vintage, "lsoa11", "lad")
    _lookup("ward_to_lad", vintage, "ward", "lad")
    _lookup("lad_to_csp_pfa", vintage, "lad", "csp")
    _lookup("lad_to_csp_pfa", vintage, "lad", "pfa")
    if "parish" in layers:
        _lookup("unparished", 0, "lad", "ncp")


class _Coded:
    """One code per offence, held as positions into a small array of values (codes repeat a great deal, so
    lookups run once per distinct value and nothing builds a million Python strings)."""

    def __init__(self, idx: np.ndarray, values: np.ndarray):
        self.idx, self.values = idx, np.asarray(values, dtype=object)

    @classmethod
    def from_distinct(cls, per_point: np.ndarray, inverse: np.ndarray, missing: np.ndarray) -> _Coded:
        """Per-offence codes from per-distinct-point codes; ``unlocated`` where the offence has no location."""
        didx, uniq = pd.factorize(np.asarray(per_point, dtype=object), use_na_sentinel=False)
        values = np.append(np.asarray(uniq, dtype=object), UNLOCATED)
        idx = np.where(missing, len(values) - 1, didx[np.maximum(inverse, 0)] if len(didx) else 0)
        return cls(idx.astype(np.int64), values)

    def map(self, mapping: dict) -> _Coded:
        """Codes looked up in ``mapping`` (:func:`geo.assign.map_codes`: ``outside``/``unlocated`` kept, unknown
        codes ``outside``), once per value."""
        return _Coded(self.idx, map_codes(self.values, mapping))

    def equals(self, value: str) -> np.ndarray:
        return (self.values == value)[self.idx] if len(self.values) else np.zeros(len(self.idx), dtype=bool)

    def where(self, mask: np.ndarray, other: _Coded) -> _Coded:
        """This code where ``mask`` is False, ``other``'s where it is True."""
        return _Coded(np.where(mask, other.idx + len(self.values), self.idx), np.append(self.values, other.values))

    def constant_where(self, mask: np.ndarray, value: str) -> _Coded:
        return self.where(mask, _Coded(np.zeros(len(self.idx), dtype=np.int64), np.array([value], dtype=object)))

    def to_arrow(self) -> pa.Array:
        return pa.array(self.values, pa.string()).take(pa.array(self.idx))


def assign_batch(offences: pa.Table, layers: dict[str, tuple[gpd.GeoDataFrame, dict]]) -> pa.Table:
    """The assignment table of a batch of offences (:mod:`data.batch`) given the loaded ``layers``.

    Returns an Arrow table ``force, month, offence_id, lsoa, ward, parish, lad, csp, pfa``; ``ward`` and
    ``parish`` are null when their layer is not loaded.
    """
    n = len(offences)
    ids = {c: offences.column(c) for c in ("force", "month", "offence_id")}
    if n == 0:
        return pa.table({**ids, **{lv: pa.array([], pa.string()) for lv in ASSIGNED_LEVELS}})
    for poly, _ in layers.values():
        check_same_crs(_wgs84(), poly.geometry)
    lon = offences.column("lon").to_numpy(zero_copy_only=False).astype(float)
    lat = offences.column("lat").to_numpy(zero_copy_only=False).astype(float)
    located = np.isfinite(lon) & np.isfinite(lat)
    missing = ~located
    # police.uk snaps offences to a fixed set of points: each layer is searched once per distinct point
    inverse = np.full(n, -1, dtype=np.intp)
    codes, first = distinct_xy(lon[located], lat[located])
    inverse[located] = codes
    dx, dy = lon[located][first], lat[located][first]
    points = shapely.points(dx, dy) if {"ward", "parish"} & set(layers) else None

    def areas(level: str) -> np.ndarray:
        """The code of each distinct point on a polygon layer (``outside`` where none)."""
        poly, _ = layers[level]
        return xy_areas(dx, dy, poly.geometry, poly["code"].to_numpy(), points=points, tree=_tree(poly))

    vintage = chain_vintage({k: v[1] for k, v in layers.items()})

    # LSOA: the file's own code; point in polygon only where the file has none
    enc = offences.column("lsoa11").combine_chunks().dictionary_encode()
    lidx = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    lsoa = _Coded(lidx, np.array(enc.dictionary.to_pylist(), dtype=object))
    no_lsoa = lidx < 0
    placed = _Coded(np.zeros(n, dtype=np.int64), np.array([OUTSIDE], dtype=object))
    if "lsoa" in layers and (no_lsoa & located).any():
        poly, _ = layers["lsoa"]
        want = np.unique(inverse[no_lsoa & located])
        found = np.full(len(dx), OUTSIDE, dtype=object)
        found[want] = xy_areas(dx[want], dy[want], poly.geometry, poly["code"].to_numpy(), tree=_tree(poly))
        placed = _Coded.from_distinct(found, inverse, missing)
    lsoa = lsoa.where(no_lsoa, placed.constant_where(missing, UNLOCATED))

    lad_from_lsoa = lsoa.map(_lookup("lsoa11_to_ward", vintage, "lsoa11", "lad"))
    if "ward" in layers:
        ward = _Coded.from_distinct(areas("ward"), inverse, missing)
        lad = ward.map(_lookup("ward_to_lad", vintage, "ward", "lad"))
        lad = lad.where(lad.equals(OUTSIDE), lad_from_lsoa)
        ward_col = ward.to_arrow()
    else:
        lad = lad_from_lsoa
        ward_col = pa.nulls(n, pa.string())
    lad = lad.constant_where(missing, UNLOCATED)
    if "parish" in layers:
        parish = _Coded.from_distinct(areas("parish"), inverse, missing)
        parish = parish.where(parish.equals(OUTSIDE), lad.map(_lookup("unparished", 0, "lad", "ncp")))
        parish_col = parish.to_arrow()
    else:
        parish_col = pa.nulls(n, pa.string())
    return pa.table({
        **ids,
        "lsoa": lsoa.to_arrow(),
        "ward": ward_col,
        "parish": parish_col,
        "lad": lad.to_arrow(),
        "csp": lad.map(_lookup("lad_to_csp_pfa", vintage, "lad", "csp")).to_arrow(),
        "pfa": lad.map(_lookup("lad_to_csp_pfa", vintage, "lad", "pfa")).to_arrow(),
    })


def assign_offences(offences: gpd.GeoDataFrame, layers: dict[str, tuple[gpd.GeoDataFrame, dict]]) -> pd.DataFrame:
    """The assignment rows of canonical ``offences`` (a GeoDataFrame of points) given the loaded ``layers``.

    Returns a DataFrame ``force, month, offence_id, lsoa, ward, parish, lad, csp, pfa`` (codes as str objects;
    ``ward`` and ``parish`` None when their layer is not loaded). Same rules and code as :func:`assign_batch`.
    """
    if len(offences):
        check_same_crs(offences.geometry, _wgs84(), "offences and EPSG:4326")
    table = assign_batch(batch.from_frame(offences), layers)
    out = pd.DataFrame({c: table.column(c).to_numpy(zero_copy_only=False) for c in table.column_names})
    out["month"] = pd.to_datetime(out["month"])
    return out
