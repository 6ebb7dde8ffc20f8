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

import geopandas as gpd
import numpy as np
import pandas as pd

from boundaries import lookups
from data.store import ASSIGNED_LEVELS
from geo.assign import (
    OUTSIDE,
    UNLOCATED,
    check_same_crs,
    distinct_areas,
    distinct_points,
    map_codes,
    points_to_areas,
    spread,
)

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
    return table.set_index(key)[value].to_dict()


def assign_offences(offences: gpd.GeoDataFrame, layers: dict[str, tuple[gpd.GeoDataFrame, dict]]) -> pd.DataFrame:
    """The assignment rows of ``offences`` given the loaded ``layers`` ({level: (polygons, meta)}).

    Returns a DataFrame ``force, month, offence_id, lsoa, ward, parish, lad, csp, pfa``; ``ward`` and
    ``parish`` are None when their layer is not loaded.
    """
    n = len(offences)
    out = pd.DataFrame({"force": offences["force"].to_numpy(dtype=object),
                        "month": pd.to_datetime(offences["month"]).to_numpy(),
                        "offence_id": offences["offence_id"].to_numpy(dtype=object)})
    if n == 0:
        for lv in ASSIGNED_LEVELS:
            out[lv] = pd.Series([], dtype=object)
        return out
    pts = offences.geometry
    # police.uk snaps offences to a fixed set of points: each layer is searched once per distinct point
    missing, distinct, inverse = distinct_points(pts)
    located = ~missing

    def areas(level: str) -> np.ndarray:
        """The code of each distinct point on a polygon layer (``outside`` where none)."""
        poly, _ = layers[level]
        check_same_crs(pts, poly.geometry)
        return distinct_areas(distinct, poly.geometry, poly["code"].to_numpy())

    vintage = chain_vintage({k: v[1] for k, v in layers.items()})

    lsoa = offences["lsoa11"].to_numpy(dtype=object).copy()
    no_lsoa = pd.isna(lsoa)
    if "lsoa" in layers and no_lsoa.any():
        poly, _ = layers["lsoa"]
        lsoa[no_lsoa] = points_to_areas(pts[no_lsoa], poly.geometry, poly["code"].to_numpy())
    lsoa = np.where(pd.isna(lsoa), np.where(located, OUTSIDE, UNLOCATED), lsoa)
    out["lsoa"] = lsoa

    via_lsoa = _lookup("lsoa11_to_ward", vintage, "lsoa11", "lad")
    lad_from_lsoa = map_codes(lsoa, via_lsoa)
    if "ward" in layers:
        ward = areas("ward")
        lad = spread(map_codes(ward, _lookup("ward_to_lad", vintage, "ward", "lad")), missing, inverse)
        lad = np.where(lad == OUTSIDE, lad_from_lsoa, lad)
        out["ward"] = spread(ward, missing, inverse)
    else:
        out["ward"] = None
        lad = lad_from_lsoa
    lad = np.where(located, lad, UNLOCATED)
    out["lad"] = lad
    lad_idx, lads = pd.factorize(lad, use_na_sentinel=False)  # LAD → CSP, PFA, unparished area once per LAD
    lads = np.asarray(lads, dtype=object)
    out["csp"] = map_codes(lads, _lookup("lad_to_csp_pfa", vintage, "lad", "csp"))[lad_idx]
    out["pfa"] = map_codes(lads, _lookup("lad_to_csp_pfa", vintage, "lad", "pfa"))[lad_idx]

    if "parish" in layers:
        parish = spread(areas("parish"), missing, inverse)
        unparished = map_codes(lads, _lookup("unparished", 0, "lad", "ncp"))[lad_idx]
        parish = np.where(parish == OUTSIDE, unparished, parish)
        out["parish"] = parish
    else:
        out["parish"] = None
    return out
