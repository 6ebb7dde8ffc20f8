"""Response bodies: JSON with no NaN or infinity, GeoJSON (RFC 7946), ETag / Cache-Control / Vary headers, and
bodies encoded once (``Encoded``: bytes, gzip bytes and ETag) that cached routes serve without redoing any work."""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import math
from dataclasses import dataclass

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


#: bodies smaller than this are sent as they are (gzip would save less than its header costs)
GZIP_MIN_BYTES = 1000


@dataclass(frozen=True, eq=False)
class Encoded:
    """A response body encoded once: the bytes, their gzip (None when it does not pay) and a strong ETag.

    Cached routes keep this instead of the bytes, so a repeated request costs a lookup: no JSON, no hashing and
    no compression (gzip at level 9 of a 350 KB GeoJSON costs ~40 ms of CPU, every time, in a gzip middleware).
    ``max_age`` and ``extra`` (header pairs) complete the headers; Cache-Control (public or private) is added at
    send time from the caller, since an anonymous caller and a parish token share the body but not the header.
    """

    body: bytes
    gz: bytes | None
    etag: str
    media_type: str
    max_age: int
    extra: tuple[tuple[str, str], ...] = ()

    @property
    def nbytes(self) -> int:
        return len(self.body) + len(self.gz or b"") + 200


def encode(body: bytes, media_type: str, max_age: int, extra: dict[str, str] | None = None) -> Encoded:
    """``body`` with its gzip (compressed once, at the best level, with no timestamp) and its ETag."""
    gz = None
    if len(body) >= GZIP_MIN_BYTES:
        z = gzip.compress(body, compresslevel=9, mtime=0)
        gz = z if len(z) < len(body) else None
    tag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return Encoded(body, gz, tag, media_type, max_age, tuple((extra or {}).items()))


@functools.lru_cache(maxsize=256)
def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` value accepts gzip (RFC 9110 §12.5.3: ``gzip`` or ``*`` with q > 0).

    Examples
    --------
    >>> [accepts_gzip(v) for v in ("gzip, deflate, br", "", "br", "gzip;q=0", "*", "*;q=0.5, gzip;q=0", "x-gzip")]
    [True, False, False, False, True, False, True]
    """
    q = {}
    for part in accept_encoding.lower().split(","):
        name, _, params = part.strip().partition(";")
        if not name:
            continue
        weight = 1.0
        for prm in params.split(";"):
            k, _, v = prm.strip().partition("=")
            if k == "q":
                try:
                    weight = float(v)
                except ValueError:
                    weight = 0.0
        q[name.strip()] = weight
    w = q.get("gzip", q.get("x-gzip", q.get("*", 0.0)))
    return w > 0


def negotiate(enc: Encoded, who: Principal, accept_encoding: str, if_none_match: str) -> tuple[int, list, bytes]:
    """Status, raw headers and body for ``enc``: 304 when the client holds it, gzip when the client takes it.

    Both representations share the identity body's tag (``"…"`` and ``"…-gz"``); either in If-None-Match means
    the client holds this content (If-None-Match uses the weak comparison, RFC 9110 §13.1.2).
    """
    zipped = enc.gz is not None and accepts_gzip(accept_encoding)
    tag = enc.etag[:-1] + '-gz"' if zipped else enc.etag
    headers = [(b"etag", tag.encode()), (b"vary", b"Accept-Encoding, Authorization"),
               (b"cache-control", f"{'public' if who.anonymous else 'private'}, max-age={enc.max_age}".encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in enc.extra]
    if if_none_match and _holds(if_none_match, enc.etag):
        return 304, headers, b""
    body = enc.gz if zipped else enc.body
    headers += [(b"content-type", enc.media_type.encode()), (b"content-length", str(len(body)).encode())]
    if zipped:
        headers.append((b"content-encoding", b"gzip"))
    return 200, headers, body


def _holds(if_none_match: str, etag: str) -> bool:
    """Whether an If-None-Match value names ``etag`` or its gzip tag (weak or strong), or is ``*``."""
    if if_none_match.strip() == "*":
        return True
    core = etag.strip('"')
    for t in if_none_match.split(","):
        t = t.strip().removeprefix("W/").strip('"')
        if t == core or t == core + "-gz":
            return True
    return False


class EncodedResponse(Response):
    """A starlette response sending what ``negotiate`` chose (headers complete; nothing recomputed)."""

    def __init__(self, enc: Encoded, who: Principal, request: Request):
        status, headers, body = negotiate(enc, who, request.headers.get("accept-encoding", ""),
                                          request.headers.get("if-none-match", ""))
        self.status_code, self.body, self.background = status, body, None
        self.raw_headers = headers


def json_response(request: Request, principal: Principal, value, max_age: int,
                  media_type: str = "application/json") -> Response:
    return etagged(request, dumps(value), media_type, cache_headers(principal, max_age))
