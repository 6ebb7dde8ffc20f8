"""Response bodies: JSON with no NaN or infinity, GeoJSON (RFC 7946), ETag / Cache-Control / Vary headers."""

from __future__ import annotations

import hashlib
import json
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from fastapi import Request, Response

from api.auth import Principal


def clean(value):
    """Plain JSON values: NaN, infinity and pandas NA become None; numpy scalars become Python ones.

    Examples
    --------
    >>> clean({"a": float("nan"), "b": [1.5, float("inf")], "c": np.int64(3)})
    {'a': None, 'b': [1.5, None], 'c': 3}
    """
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m")
    return value


def dumps(value) -> bytes:
    return json.dumps(clean(value), allow_nan=False, separators=(",", ":"), ensure_ascii=False).encode()


def records(frame: pd.DataFrame) -> list[dict]:
    """Rows of a frame as JSON-safe dicts (geometry dropped)."""
    cols = [c for c in frame.columns if c != "geometry"]
    return [clean(r) for r in frame[cols].astype(object).to_dict("records")]


def feature_collection(frame: gpd.GeoDataFrame, *, precision: int = 6, meta: dict | None = None) -> dict:
    """An RFC 7946 FeatureCollection: lon/lat, coordinates rounded, null geometry for rows without one."""
    props = records(frame)
    geoms = frame.geometry.to_numpy() if isinstance(frame, gpd.GeoDataFrame) else np.full(len(frame), None)
    present = np.array([g is not None and not shapely.is_empty(g) for g in geoms], dtype=bool)
    texts = np.full(len(frame), None, dtype=object)
    if present.any():
        rounded = shapely.set_precision(np.asarray(geoms)[present], 10 ** -precision, mode="pointwise")
        texts[present] = shapely.to_geojson(rounded)
    feats = [{"type": "Feature", "geometry": json.loads(t) if t is not None else None, "properties": p}
             for t, p in zip(texts, props, strict=True)]
    fc = {"type": "FeatureCollection", "features": feats}
    if meta:
        fc["metadata"] = clean(meta)
    return fc


def cache_headers(principal: Principal, max_age: int) -> dict[str, str]:
    """Public answers may be cached by anyone; answers to a token are private. Both vary on the token."""
    scope = "public" if principal.anonymous else "private"
    return {"Cache-Control": f"{scope}, max-age={max_age}", "Vary": "Authorization"}


def etagged(request: Request, body: bytes, media_type: str, headers: dict[str, str]) -> Response:
    """A response with a strong ETag; 304 when the client already holds it."""
    tag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    h = {**headers, "ETag": tag}
    inm = request.headers.get("if-none-match", "")
    if tag in [t.strip() for t in inm.split(",")]:
        return Response(status_code=304, headers=h)
    return Response(body, media_type=media_type, headers=h)


def json_response(request: Request, principal: Principal, value, max_age: int,
                  media_type: str = "application/json") -> Response:
    return etagged(request, dumps(value), media_type, cache_headers(principal, max_age))
