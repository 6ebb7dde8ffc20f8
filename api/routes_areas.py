"""/areas/{level} (GeoJSON) and /export/{level}.{geojson|gpkg|csv}: the aggregate tables for the caller."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path
from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as PathParam
from starlette.concurrency import run_in_threadpool

from api.attribution import ATTRIBUTION_TEXT
from api.deps import FiltersDep, PrincipalDep, ServicesDep, build, check_code, level_for
from api.http_errors import BadParameter
from api.response_cache import remember
from api.responses import cache_headers, dumps, encode, etagged, feature_collection
from api.scope import in_scope
from api.tables import area_table

GEOJSON = "application/geo+json"
FORMATS = {"geojson": GEOJSON, "gpkg": "application/geopackage+sqlite3", "csv": "text/csv; charset=utf-8"}
COLUMNS = ["code", "name", "level", "month", "crime_type", "count", "rate_per_1000", "per_km2", "population",
           "vintage", "suppressed"]
LevelPath = Annotated[str, PathParam(description="parish, ward, lsoa, lad, csp, pfa or h3:7 … h3:10",
                                     examples=["ward"])]


def _meta(table) -> dict:
    a = table.attrs
    return {"level": a.get("level"), "months": a.get("months"), "crime_types": a.get("crime_types"),
            "audience": a.get("audience"), "scope": a.get("scope"), "suppression_threshold": a.get("threshold"),
            "approximate_boundary_notice": a.get("notice"), "attribution": ATTRIBUTION_TEXT,
            "no_data": "count null with no_data true: the force had no data for the period (not zero)"}


def areas_router() -> APIRouter:
    r = APIRouter(tags=["areas"])

    @r.get("/areas/{level}", summary="Offences per area as an RFC 7946 FeatureCollection",
           response_class=Response,
           responses={200: {"content": {GEOJSON: {"example": {"type": "FeatureCollection", "features": [
               {"type": "Feature", "geometry": None, "properties": {
                   "code": "E05009919", "name": "Wellington", "count": None, "suppressed": True}}]}}}}})
    async def areas(request: Request, level: LevelPath, sv: ServicesDep, who: PrincipalDep, f: FiltersDep):
        lv = level_for(level, who)

        def body():
            table = scoped(sv, who, lv, area_table(sv, who, lv, f))
            if len(table) > sv.settings.max_features:
                raise BadParameter("bbox", f.bbox or "none", f"a bbox or a coarser level giving at most "
                                   f"{sv.settings.max_features} features (this request gives {len(table)})",
                                   status_code=413)
            return encode(dumps(feature_collection(table, meta=_meta(table))), GEOJSON, sv.settings.cache_seconds)

        # the encoded body (bytes, gzip, ETag) is cached per store generation, role/scope and filters: building
        # the FeatureCollection costs ~200 ms for 271 ward polygons and gzip ~40 ms, serving it again nothing.
        # The work runs in a worker thread; a hit is answered on the event loop.
        key = ("areas", sv.store.location, sv.generation(), who.cache_key, lv, f.key)
        enc = sv.frames.get(key)
        if enc is None:
            enc = await run_in_threadpool(sv.frames.get_or_make, key, build(sv, body))
        return remember(request, who, sv, enc)

    @r.get("/export/{level}.{fmt}", summary="Download exactly what the map shows: GeoJSON, GeoPackage or CSV",
           response_class=Response)
    def export(request: Request, level: LevelPath, fmt: Annotated[str, PathParam(examples=["csv"])],
               sv: ServicesDep, who: PrincipalDep, f: FiltersDep,
               code: Annotated[list[str] | None, Query(description="area codes to keep (repeatable)",
                                                       examples=[["E04000947"]])] = None):
        if fmt not in FORMATS:
            raise BadParameter("format", fmt, ", ".join(FORMATS), status_code=404)
        lv = level_for(level, who)
        codes = [check_code(c) for c in code] if code else None
        table = scoped(sv, who, lv, area_table(sv, who, lv, f, codes=codes))
        if len(table) > sv.settings.max_features:
            raise BadParameter("bbox", f.bbox or "none", f"at most {sv.settings.max_features} features",
                               status_code=413)
        name = f"crimemap-{lv.replace(':', '')}.{fmt}"
        headers = {**cache_headers(who, sv.settings.cache_seconds),
                   "Content-Disposition": f'attachment; filename="{name}"'}
        if fmt == "geojson":
            body = dumps(feature_collection(table, meta=_meta(table)))
        elif fmt == "csv":
            buf = io.StringIO()
            pd.DataFrame(table[COLUMNS]).to_csv(buf, index=False)
            body = buf.getvalue().encode()
        else:
            body = _gpkg(table)
        return etagged(request, body, FORMATS[fmt], headers)

    return r


def scoped(sv, who, level: str, table):
    """Only the rows of areas inside the caller's scope (a neighbourhood token sees its own areas)."""
    if who.scope is None:
        return table
    t = table[in_scope(sv, who, level, table["code"]).tolist()]
    t.attrs.update(table.attrs, scope=list(who.scope))
    return t


def _gpkg(table) -> bytes:
    """A GeoPackage of the table (areas with geometry) with the attribution and filters as layer metadata."""
    t = table[table.geometry.notna().to_numpy()][COLUMNS + ["geometry"]].copy()
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "export.gpkg"
        t.to_file(p, layer="areas", driver="GPKG", engine="pyogrio",
                  metadata={"DESCRIPTION": json.dumps(_meta(table), default=str)})
        return p.read_bytes()
