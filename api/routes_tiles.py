"""/tiles/{layer}/{z}/{x}/{y}.mvt: crime tiles cut from the same (suppressed where needed) aggregate tables."""

from __future__ import annotations

from typing import Annotated

import numpy as np
import shapely
from fastapi import APIRouter, Request, Response
from fastapi import Path as PathParam
from starlette.concurrency import run_in_threadpool

from api.auth import Principal
from api.deps import FiltersDep, PrincipalDep, ServicesDep, build
from api.http_errors import BadParameter
from api.response_cache import remember
from api.responses import Encoded, encode
from api.scope import in_scope
from api.tables import TileSource, tile_source
from api.tiles import LAYERS, MVT, check_tile, encode_tile, h3_resolution_for_zoom


def scoped_source(sv, who: Principal, key: tuple, level: str, src: TileSource) -> TileSource:
    """The features of ``src`` inside the caller's area scope (kept per scope, like the source itself)."""

    def make() -> TileSource:
        if not len(src.frame):
            return src
        keep = np.flatnonzero(in_scope(sv, who, level, src.frame["code"]))
        geoms = src.geoms[keep]
        return TileSource(src.frame.iloc[keep].reset_index(drop=True), geoms, shapely.STRtree(geoms))

    return sv.frames.get_or_make(("scoped-tiles", sv.generation(), who.cache_key, *key), make)


def make_tile(sv, who: Principal, f, t, layer: str, level: str) -> Encoded:
    """One tile for the caller: the layer's (suppressed where needed) aggregate, scoped, cut and encoded."""
    if layer == "hotspots":
        from api.routes_hotspots import hotspot_tile_source

        level, src = hotspot_tile_source(sv, who, f, t.z)
    else:
        src = tile_source(sv, who, level, f)
    if who.scope is not None:
        src = scoped_source(sv, who, (layer, level, f.key), level, src)
    body = encode_tile(t, layer, src.frame, src.geoms, src.tree, src.props)
    return encode(body, MVT, sv.settings.cache_seconds, {"X-Crimemap-Level": level})


def tiles_router() -> APIRouter:
    r = APIRouter(tags=["tiles"])

    @r.get("/tiles/{layer}/{z}/{x}/{y}.mvt", summary="Mapbox vector tile of offences per area",
           response_class=Response,
           responses={200: {"content": {MVT: {}}, "description": "MVT; empty body for an empty tile"}})
    async def tile(request: Request,
                   layer: Annotated[str, PathParam(description=", ".join(LAYERS), examples=["h3"])],
                   z: Annotated[int, PathParam(description="zoom 0-18", examples=[12])],
                   x: Annotated[int, PathParam(examples=[2017])],
                   y: Annotated[int, PathParam(examples=[1356])],
                   sv: ServicesDep, who: PrincipalDep, f: FiltersDep) -> Response:
        if layer not in LAYERS:
            raise BadParameter("layer", layer, ", ".join(LAYERS), status_code=404)
        t = check_tile(z, x, y)
        # the hot-spot layer's level depends on the cached results (fixed for a generation, filters and zoom)
        level = f"h3:{h3_resolution_for_zoom(z, public=who.audience == 'parish')}" if layer == "h3" else layer
        key = ("tile", sv.generation(), who.cache_key, layer, level, f.key, z, x, y)
        enc = sv.tiles.get(key)
        if enc is None:  # cut and encoded in a worker thread, once however many requests ask at the same time
            enc = await run_in_threadpool(sv.tiles.get_or_make, key,
                                          build(sv, lambda: make_tile(sv, who, f, t, layer, level)))
        return remember(request, who, sv, enc)

    return r
