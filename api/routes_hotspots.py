"""/hotspots: Gi* results from the hot-spot cache (``data.hotspot_cache``), never recomputed per request.

The cache is filled by ``crimemap hotspots run`` (and by ``crimemap demo``); a request for a result that is not
cached answers 404 with the command that makes it.

/hotspots/kde: kernel-density contours (``geo.kde``) of the located offences for the filters. No permutations are
involved (one FFT convolution, well under a second for a force's month), so they are computed on the first request
and kept in the app's frame cache keyed by filters and store generation.
"""

from __future__ import annotations

from typing import Annotated

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from fastapi import APIRouter, Depends, Query, Request, Response

from api.auth import Principal
from api.deps import Filters, FiltersDep, PrincipalDep, ServicesDep, require
from api.http_errors import BadParameter
from api.responses import cache_headers, dumps, etagged, feature_collection
from api.scope import in_scope, scope_area
from api.tables import TileSource
from api.tiles import h3_resolution_for_zoom
from data import aggregate as agg
from data import hotspot_cache
from geo.errors import NotFoundError
from geo.hexgrid import cells_to_polygons
from geo.record import ALL_CRIME_TYPES, LEVELS, h3_resolution, month_label

#: the parameters ``crimemap hotspots run`` caches by default
DEFAULTS = {"k": 1, "permutations": 999, "seed": 0}
METHODS = ("gistar", "emerging")
HotspotReader = Depends(require("analyst", "neighbourhood"))


def cache_params(sv, method: str, level: str, f: Filters) -> dict:
    """The cache key parameters of a hot-spot run, as ``crimemap hotspots run`` writes them."""
    months = agg.loaded_months(sv.store)
    if f.months:
        months = [m for m in months if f.months[0] <= m <= f.months[1]]
    return {"method": method, "level": level, "months": [month_label(m) for m in months],
            "types": list(f.crime_types or ALL_CRIME_TYPES), **DEFAULTS}


def cached_hotspots(sv, method: str, level: str, f: Filters) -> gpd.GeoDataFrame | None:
    """The cached result with polygons (EPSG:4326), or None when it has not been computed."""
    hit = hotspot_cache.get(sv.store, cache_params(sv, method, level, f))
    if hit is None:
        return None
    frame = pd.DataFrame(hit[0]).copy()
    codes = frame["code"].astype(str).tolist()
    if h3_resolution(level) is not None:
        geoms = cells_to_polygons(codes)
        names = codes
    else:
        g = agg.area_geometry(sv.store, level).set_index("code")
        geoms = g.geometry.reindex(codes).to_numpy()
        names = g["name"].reindex(codes).tolist()
    frame.insert(1, "name", names)
    frame.insert(2, "level", level)
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs="EPSG:4326"), crs="EPSG:4326")


def hotspot_tile_source(sv, who: Principal, f: Filters, z: int) -> tuple[str, TileSource]:
    """The cached Gi* result nearest the zoom's H3 resolution, projected for tiles (empty when none is cached)."""
    if who.audience == "parish":
        raise BadParameter("layer", "hotspots", "a layer the public may see (hot spots need an analyst or "
                           "neighbourhood token)", status_code=401 if who.anonymous else 403)
    want = h3_resolution_for_zoom(z, public=False)
    for res in sorted(range(7, 11), key=lambda r: abs(r - want)):
        level = f"h3:{res}"
        key = ("hotspot-tiles", sv.generation(), level, f.key)
        src = sv.frames.get(key)
        if src is None:
            g = cached_hotspots(sv, "gistar", level, f)
            if g is None:
                continue
            g = g[g.geometry.notna().to_numpy()].reset_index(drop=True)
            geoms = g.to_crs("EPSG:3857").geometry.to_numpy()
            src = sv.frames.put(key, TileSource(pd.DataFrame(g.drop(columns="geometry")), geoms,
                                                shapely.STRtree(geoms)))
        return level, src
    empty = np.array([], dtype=object)
    return f"h3:{want}", TileSource(pd.DataFrame(), empty, shapely.STRtree(empty))


#: the shares of the non-zero-density area each contour encloses (densest first), as ``crimemap hotspots run``
KDE_SHARES = (0.01, 0.05, 0.10)


def kde_months(sv, f: Filters) -> list:
    """The loaded months inside the filter (all loaded months without one)."""
    months = agg.loaded_months(sv.store)
    return [m for m in months if not f.months or f.months[0] <= m <= f.months[1]]


def kde_contour_frame(sv, f: Filters) -> tuple[gpd.GeoDataFrame, dict]:
    """KDE contour polygons (EPSG:4326) of the located offences for the filters, and the run's parameters.

    Cached in ``sv.frames`` by months, crime types and store generation (not bbox: that is cut per request). The
    stepped, cell-edged polygons are simplified by half a cell in EPSG:27700 so the answer stays small; a
    contour's area share and density threshold are its properties. No located offence → an empty frame.
    """
    from geo.kde import kde_contours, kde_grid

    months = kde_months(sv, f)
    types = list(f.crime_types or ALL_CRIME_TYPES)
    key = ("kde-contours", sv.generation(), tuple(months), tuple(types))

    def make():
        meta = {"method": "kde", "months": [month_label(m) for m in months], "crs_computed": "EPSG:27700",
                "contours": "densest cells covering each share of the non-zero-density area"}
        empty = gpd.GeoDataFrame({"contour": [], "area_share": [], "density_threshold": []},
                                 geometry=gpd.GeoSeries([], crs="EPSG:4326"), crs="EPSG:4326")
        if not months:
            return empty, {**meta, "offences": 0}
        o = sv.store.read_offences(months=(months[0], months[-1]), columns=["month", "crime_type", "geometry"])
        o = o[o["crime_type"].astype(str).isin(types).to_numpy() & o.geometry.notna().to_numpy()
              & ~o.geometry.is_empty.to_numpy()]
        if len(o) == 0:
            return empty, {**meta, "offences": 0}
        pts = o.to_crs("EPSG:27700").geometry
        grid = kde_grid(np.column_stack([pts.x, pts.y]))
        c = kde_contours(grid, KDE_SHARES)
        c["geometry"] = c.geometry.simplify(grid.cell_size / 2, preserve_topology=True)
        c.insert(0, "contour", [f"densest {s:.0%} of the area" for s in c["area_share"]])
        c = c.to_crs("EPSG:4326")
        c["geometry"] = shapely.orient_polygons(c.geometry.to_numpy())  # RFC 7946 right-hand rule
        return c, {**meta, "offences": int(len(o)), "kernel": grid.kernel, "bandwidth_m": grid.bandwidth,
                   "cell_size_m": grid.cell_size, "density_unit": "offences per km2"}

    return sv.frames.get_or_make(key, make)


def hotspots_router() -> APIRouter:
    r = APIRouter(tags=["hot spots"])

    @r.get("/hotspots", summary="Cached Gi* / emerging hot spots (analyst, neighbourhood)",
           response_class=Response, dependencies=[HotspotReader],
           responses={200: {"content": {"application/geo+json": {"example": {"type": "FeatureCollection",
                                                                              "features": []}}}}})
    def hotspots(request: Request, sv: ServicesDep, who: PrincipalDep, f: FiltersDep,
                 level: Annotated[str, Query(max_length=10, description="h3:7 … h3:10 or a polygon level",
                                             examples=["h3:9"])] = "h3:9",
                 method: Annotated[str, Query(max_length=20, description="gistar or emerging",
                                              examples=["gistar"])] = "gistar"):
        if level not in LEVELS:
            raise BadParameter("level", level, ", ".join(LEVELS))
        if method not in METHODS:
            raise BadParameter("method", method, ", ".join(METHODS))
        g = cached_hotspots(sv, method, level, f)
        if g is None:
            raise NotFoundError(
                f"no cached {method} result for level {level} and these filters; expected one made with "
                f"`crimemap hotspots run --method {method} --level {level} --out FILE`", param="level")
        if who.scope is not None:  # a neighbourhood token sees the hot spots of its own areas
            g = g[in_scope(sv, who, level, g["code"])]
        if f.bbox is not None:
            g = g[g.intersects(shapely.box(*f.bbox)).to_numpy()]
        meta = {"level": level, "method": method, "classes": "Benjamini-Hochberg FDR on analytical p"}
        return etagged(request, dumps(feature_collection(g, meta=meta)), "application/geo+json",
                       cache_headers(who, sv.settings.cache_seconds))

    @r.get("/hotspots/kde", summary="Kernel-density contours of offences (analyst, neighbourhood)",
           response_class=Response, dependencies=[HotspotReader],
           responses={200: {"content": {"application/geo+json": {"example": {
               "type": "FeatureCollection", "features": [{"type": "Feature", "geometry": None, "properties": {
                   "contour": "densest 1% of the area", "area_share": 0.01, "density_threshold": 812.5}}]}}}}})
    def kde(request: Request, sv: ServicesDep, who: PrincipalDep, f: FiltersDep):
        g, meta = kde_contour_frame(sv, f)
        if who.scope is not None and len(g):  # contours cut to the token's own areas
            area = scope_area(sv, who.scope)
            g = g.iloc[:0] if area is None else g.assign(geometry=g.geometry.intersection(area))
            g = g[~g.geometry.is_empty.to_numpy()]
        if f.bbox is not None and len(g):
            g = g.assign(geometry=g.geometry.clip_by_rect(*f.bbox))
            g = g[~g.geometry.is_empty.to_numpy()]
        return etagged(request, dumps(feature_collection(g, meta=meta)), "application/geo+json",
                       cache_headers(who, sv.settings.cache_seconds))

    return r
