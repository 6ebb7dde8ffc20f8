"""Typed FastAPI dependencies: the services of one app, the caller, and the filters every data route shares."""

from __future__ import annotations

import datetime as dt
import math
import os
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from threading import BoundedSemaphore, Lock
from typing import Annotated

from fastapi import Depends, Header, Query, Request

from api.auth import AuthError, Principal, TokenBook
from api.http_errors import BadParameter
from api.settings import Settings
from data.store import Store
from geo.errors import InputError
from geo.record import CRIME_TYPES, LEVELS, PUBLIC_LEVELS, month_label, parse_crime_types, parse_level, parse_months


class LRU:
    """A small thread-safe LRU cache (tiles, frames) keyed by role, filters and store generation."""

    def __init__(self, size: int):
        self.size, self._d, self._lock, self._making = size, OrderedDict(), Lock(), {}

    def get(self, key):
        with self._lock:
            if key in self._d:
                self._d.move_to_end(key)
                return self._d[key]
        return None

    def put(self, key, value):
        if self.size <= 0:
            return value
        with self._lock:
            self._d[key] = value
            while len(self._d) > self.size:
                self._d.popitem(last=False)
        return value

    def get_or_make(self, key, make):
        """The cached value, or ``make()`` computed once however many requests ask at the same time.

        A map page asks for a dozen tiles at once; without this each of them would build the same aggregate.
        """
        hit = self.get(key)
        if hit is not None:
            return hit
        with self._lock:
            lock = self._making.setdefault(key, Lock())
        with lock:
            hit = self.get(key)
            if hit is None:
                hit = self.put(key, make())
        with self._lock:
            self._making.pop(key, None)
        return hit


class StoreVintage:
    """The store's generation (part of every cache key), read without parsing the catalogue on every request.

    ``Store.generation`` of the embedded store parses catalogue.json, whose size grows with every force and month
    loaded; a request only needs to know whether it changed. Writers replace that file atomically (a new inode),
    so its ``stat`` signature changes exactly when the generation may have: the generation is read again only
    then. A store without such a file (PostGIS) is asked again at most every ``ttl`` seconds.
    """

    def __init__(self, store: Store, ttl: float = 1.0):
        self.store, self.ttl = store, ttl
        root = getattr(store, "root", None)
        self._file = Path(root) / "catalogue.json" if isinstance(root, str | Path) else None
        self._sig: tuple | None = None
        self._gen: int | None = None
        self._at = 0.0

    def __call__(self) -> int:
        if self._file is not None:
            try:
                st = os.stat(self._file)
                sig = (st.st_ino, st.st_mtime_ns, st.st_size)
            except OSError:
                sig = None
            if sig is None or sig != self._sig or self._gen is None:
                self._gen, self._sig = self.store.generation, sig  # stat first: a change in between re-reads
            return self._gen
        now = time.monotonic()
        if self._gen is None or now - self._at >= self.ttl:
            self._gen, self._at = self.store.generation, now
        return self._gen


@dataclass
class Services:
    """Everything one app instance holds (no module-level globals)."""

    settings: Settings
    store: Store
    tokens: TokenBook
    tiles: LRU = field(default_factory=lambda: LRU(4096))
    frames: LRU = field(default_factory=lambda: LRU(64))
    #: finished answers of the cached routes by request (``api.response_cache``), bounded in bytes
    responses: object = None
    generation: StoreVintage = None
    #: threads that may build answers at once (see ``build``)
    builders: BoundedSemaphore = None

    def __post_init__(self):
        from api.response_cache import SizedLRU

        if self.builders is None:
            self.builders = BoundedSemaphore(self.settings.build_threads or os.cpu_count() or 2)
        if self.responses is None:
            self.responses = SizedLRU(int(self.settings.response_cache_mb * 2**20))
        if self.generation is None:
            self.generation = StoreVintage(self.store, self.settings.generation_ttl)


def build(sv: Services, make):
    """``make`` wrapped to run while holding one of ``sv.builders``: at most that many threads build answers
    (aggregates, tiles, GeoJSON) at once, however many requests missed the caches together. They are CPU work
    under the GIL: more of them would not finish sooner, and would slow the event loop answering cached requests.
    """

    def run():
        with sv.builders:
            return make()

    return run


async def services(request: Request) -> Services:
    return request.app.state.services


async def principal(request: Request, authorization: Annotated[str | None, Header(
        description="`Bearer <token>`; without it you get the public (parish) view.")] = None) -> Principal:
    return request.app.state.services.tokens.principal(authorization)


ServicesDep = Annotated[Services, Depends(services)]
PrincipalDep = Annotated[Principal, Depends(principal)]


def require(*roles: str):
    """A dependency that lets only ``roles`` through: 401 without a token, 403 with one of another role."""

    async def check(who: PrincipalDep) -> Principal:
        if who.role in roles:
            return who
        if who.anonymous:
            raise AuthError(f"this resource needs a bearer token of role {' or '.join(roles)}; none was given",
                            param="Authorization")
        raise AuthError(f"role {who.role!r} may not see this resource; expected role {' or '.join(roles)}",
                        param="Authorization", status_code=403)

    return check


@dataclass(frozen=True)
class Filters:
    """Months, crime types and bbox of a request, parsed and checked."""

    months: tuple[dt.date, dt.date] | None = None
    crime_types: tuple[str, ...] | None = None
    bbox: tuple[float, float, float, float] | None = None

    @property
    def key(self) -> tuple:
        m = f"{month_label(self.months[0])}..{month_label(self.months[1])}" if self.months else "*"
        return (m, self.crime_types or "*", self.bbox or "*")

    def query(self) -> str:
        """The filters as a query string (for links from pages to the API)."""
        parts = []
        if self.months:
            parts.append(f"months={self.key[0]}")
        for t in self.crime_types or ():
            parts.append("crime_type=" + t.replace(" ", "+"))
        return "&".join(parts)


def parse_bbox(text: str | None, max_km2: float) -> tuple[float, float, float, float] | None:
    """``minlon,minlat,maxlon,maxlat`` → a checked tuple (finite, in range, not larger than ``max_km2``).

    Examples
    --------
    >>> parse_bbox("-2.6,52.6,-2.3,52.8", 60000)
    (-2.6, 52.6, -2.3, 52.8)
    """
    if text is None or not str(text).strip():
        return None
    expected = "minlon,minlat,maxlon,maxlat in degrees (e.g. -2.6,52.6,-2.3,52.8)"
    parts = str(text).split(",")
    try:
        vals = tuple(float(p) for p in parts)
    except ValueError:
        raise BadParameter("bbox", text, expected) from None
    if len(vals) != 4 or not all(math.isfinite(v) for v in vals):
        raise BadParameter("bbox", text, expected)
    x0, y0, x1, y1 = vals
    if not (-180 <= x0 < x1 <= 180 and -90 <= y0 < y1 <= 90):
        raise BadParameter("bbox", text, expected + ", min before max, lon within ±180 and lat within ±90")
    km2 = (x1 - x0) * 111.32 * math.cos(math.radians((y0 + y1) / 2)) * (y1 - y0) * 110.57
    if km2 > max_km2:
        raise BadParameter("bbox", text, f"a box of at most {max_km2:,.0f} km² (this one is {km2:,.0f} km²)")
    return vals


async def filters(
    request: Request,
    months: Annotated[str | None, Query(max_length=40, description="`YYYY-MM` or `YYYY-MM..YYYY-MM` (both included)",
                                        examples=["2018-10..2019-01"])] = None,
    crime_type: Annotated[list[str] | None, Query(description="police.uk category (repeatable); default all crime "
                                                  "excluding anti-social behaviour", examples=[["Drugs"]])] = None,
    bbox: Annotated[str | None, Query(max_length=200, description="minlon,minlat,maxlon,maxlat",
                                      examples=["-2.6,52.6,-2.3,52.8"])] = None,
) -> Filters:
    if crime_type and len(crime_type) > len(CRIME_TYPES) + 2:
        raise BadParameter("crime_type", f"{len(crime_type)} values", f"at most {len(CRIME_TYPES)} crime types")
    for t in crime_type or ():
        if len(t) > 60:
            raise BadParameter("crime_type", t, "a police.uk category: " + ", ".join(CRIME_TYPES))
    types = parse_crime_types(crime_type) if crime_type else None
    return Filters(parse_months(months), types, parse_bbox(bbox, request.app.state.services.settings.max_bbox_km2))


FiltersDep = Annotated[Filters, Depends(filters)]


def level_for(text: str, who: Principal) -> str:
    """A level name checked against what the caller may see (403 for the public asking finer than h3:8)."""
    if len(str(text)) > 40:
        raise BadParameter("level", text, ", ".join(LEVELS))
    try:
        level = parse_level(text)
    except InputError:
        raise BadParameter("level", text, ", ".join(LEVELS)) from None
    if who.audience == "parish" and level not in PUBLIC_LEVELS:
        raise BadParameter("level", text, f"one of {', '.join(PUBLIC_LEVELS)} for the public / parish role "
                           f"(finer levels need an analyst or neighbourhood token)", status_code=403)
    return level


def check_code(code: str) -> str:
    """An area code as sent in a path: short, printable, no spaces."""
    c = str(code).strip()
    if not (1 <= len(c) <= 20) or not c.replace("_", "").isalnum() or not c.isascii():
        raise BadParameter("code", code, "a GSS code such as E04012345 or an H3 cell index", status_code=404)
    return c
