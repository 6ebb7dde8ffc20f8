"""Mapbox vector tiles cut from the aggregate tables (mapbox-vector-tile + morecantile's WebMercatorQuad)."""

from __future__ import annotations

import math

import mapbox_vector_tile
import morecantile
import numpy as np
import shapely

from api.http_errors import BadParameter
from geo.record import POLYGON_LEVELS

TMS = morecantile.tms.get("WebMercatorQuad")
EXTENT = 4096
MAX_ZOOM = 18
#: tile layers: the polygon levels, h3 (resolution from the zoom) and hot spots
LAYERS = POLYGON_LEVELS + ("h3", "hotspots")
MVT = "application/vnd.mapbox-vector-tile"
#: properties a tile carries, in the order of the aggregate's columns
PROPERTIES = ("code", "name", "count", "rate_per_1000", "per_km2", "suppressed", "no_data", "class", "z",
              "category")


def h3_resolution_for_zoom(z: int, *, public: bool) -> int:
    """DESIGN.md: z ≤ 9 → 7, 10–11 → 8, 12–13 → 9, ≥ 14 → 10; capped at 8 for the parish / public audience.

    Examples
    --------
    >>> [h3_resolution_for_zoom(z, public=False) for z in (5, 9, 10, 12, 13, 14, 18)]
    [7, 7, 8, 9, 9, 10, 10]
    >>> h3_resolution_for_zoom(15, public=True)
    8
    """
    res = 7 if z <= 9 else 8 if z <= 11 else 9 if z <= 13 else 10
    return min(res, 8) if public else res


def check_tile(z: int, x: int, y: int) -> morecantile.Tile:
    """A tile address inside WebMercatorQuad, or a 4xx naming the coordinate that is out of range."""
    if not 0 <= z <= MAX_ZOOM:
        raise BadParameter("z", z, f"a zoom from 0 to {MAX_ZOOM}")
    n = 2 ** z
    if not 0 <= x < n:
        raise BadParameter("x", x, f"a column from 0 to {n - 1} at zoom {z}")
    if not 0 <= y < n:
        raise BadParameter("y", y, f"a row from 0 to {n - 1} at zoom {z}")
    return morecantile.Tile(x, y, z)


def encode_tile(tile: morecantile.Tile, layer: str, frame, geoms: np.ndarray, tree: shapely.STRtree,
                props: list[dict] | None = None) -> bytes:
    """The features of ``frame`` (Web Mercator ``geoms`` indexed by ``tree``) that touch ``tile``, as MVT bytes.

    Empty tiles are empty bytes (found by one index query, nothing encoded). ``props`` (``tile_properties`` of
    the frame, computed once per source) saves converting rows per tile. Geometries are clipped, simplified,
    quantised to the tile grid and oriented (exterior rings clockwise) with vectorised shapely calls, which is
    what mapbox-vector-tile's ``quantize_bounds`` and winding-order check do one coordinate at a time in Python;
    the encoder then only writes them.
    """
    b = TMS.xy_bounds(tile)
    hits = tree.query(shapely.box(b.left, b.bottom, b.right, b.top), predicate="intersects")
    if not len(hits):
        return b""
    hits = np.sort(hits)
    size = b.right - b.left
    pad = size * 16 / EXTENT
    clipped = shapely.clip_by_rect(geoms[hits], b.left - pad, b.bottom - pad, b.right + pad, b.top + pad)
    clipped = shapely.simplify(clipped, size / EXTENT / 2, preserve_topology=True)
    origin = np.array([b.left, b.bottom])
    scale = np.array([EXTENT / (b.right - b.left), EXTENT / (b.top - b.bottom)])
    grid = shapely.transform(clipped, lambda c: np.round((c - origin) * scale))
    grid = shapely.orient_polygons(grid, exterior_cw=True)
    rows = props if props is not None else tile_properties(frame)
    keep = ~(shapely.is_missing(grid) | shapely.is_empty(grid))
    feats = [{"geometry": g, "properties": rows[i]} for g, i in zip(grid[keep], hits[keep], strict=True)]
    if not feats:
        return b""
    return mapbox_vector_tile.encode(
        [{"name": layer, "features": feats}],
        default_options={"extents": EXTENT, "check_winding_order": False},
    )


def tile_properties(frame) -> list[dict]:
    """Each row's tile properties (``PROPERTIES`` present in ``frame``), MVT-ready: once per tile source."""
    cols = [c for c in PROPERTIES if c in frame.columns]
    return [_props(r) for r in frame[cols].to_dict("records")]


def _props(row: dict) -> dict:
    """MVT cannot hold nulls: hidden values are left out (a missing ``count`` with ``suppressed: true``)."""
    out = {}
    for k, v in row.items():
        if isinstance(v, np.generic):
            v = v.item()
        if v is None or (isinstance(v, float) and not math.isfinite(v)):
            continue
        if k == "class" and isinstance(v, float):
            v = int(v)
        elif isinstance(v, float):
            v = round(v, 3)
        out[k] = v
    return out
