"""The web service: ``create_app(settings)`` builds a FastAPI app from small router factories (titiler-style).

No module-level state: the store, the tokens and the caches hang off ``app.state.services``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from api.auth import load_tokens
from api.deps import LRU, Services
from api.http_errors import error_body, install_error_handlers
from api.response_cache import CachedResponses
from api.routes_areas import areas_router
from api.routes_countylines import countylines_router
from api.routes_hotspots import hotspots_router
from api.routes_meta import meta_router
from api.routes_pages import pages_router
from api.routes_tiles import tiles_router
from api.settings import Settings
from data.store import open_store

STATIC = Path(__file__).resolve().parent / "static"
#: npm files served under /static/vendor/<package>/… (copied there by scripts/setup from api/static/package.json)
VENDOR = STATIC / "vendor"
log = logging.getLogger("crimemap.api")

DESCRIPTION = """Crime counts per parish, ward, LSOA, local authority, CSP, force area and H3 cell from police.uk
data, as GeoJSON, vector tiles, downloads, printable briefings and maps.

Without a token you get the public (parish) view: counts below the threshold are suppressed (null with
`suppressed: true`), no level finer than h3:8, no points, no hot-spot page and no county lines.
Send `Authorization: Bearer <token>` for the analyst or neighbourhood views.

Contains public sector information licensed under the Open Government Licence v3.0."""


class QueryLimit:
    """ASGI middleware: 414 with the usual error body for a query string longer than ``limit`` characters."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        n = len(scope.get("query_string", b""))
        if scope["type"] != "http" or n <= self.limit:
            return await self.app(scope, receive, send)
        body = error_body(414, f"query string of {n} characters; expected at most {self.limit}", "query",
                          expected=f"at most {self.limit} characters")
        await JSONResponse(body, status_code=414)(scope, receive, send)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for ``settings`` (default: from the environment, ``CRIMEMAP_`` prefix)."""
    settings = settings or Settings()
    store = open_store(settings.store)
    services = Services(settings=settings, store=store, tokens=load_tokens(settings.tokens_file),
                        tiles=LRU(settings.tile_cache_size))
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        if settings.warm:
            threading.Thread(target=_warm, args=(app, list(settings.warm)), daemon=True).start()
        yield

    app = FastAPI(title="crimemap", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.services = services
    install_error_handlers(app)

    # outermost last: the query limit, then cached answers, then gzip for the answers built per request
    # (cached routes send their own, compressed once). All pure ASGI: no per-request task group or stream.
    app.add_middleware(GZipMiddleware, minimum_size=1000, compresslevel=6)
    app.add_middleware(CachedResponses, services=services)
    app.add_middleware(QueryLimit, limit=settings.max_query_length)
    for router in (meta_router(), areas_router(), tiles_router(), hotspots_router(), countylines_router(),
                   pages_router()):
        app.include_router(router)
    app.mount("/static/app", StaticFiles(directory=STATIC / "app"), name="static-app")
    if VENDOR.is_dir():
        app.mount("/static/vendor", StaticFiles(directory=VENDOR), name="static-vendor")
    else:
        log.warning("front-end assets missing (%s): run scripts/setup (npm assets into api/static/vendor)", VENDOR)
    return app


def _warm(app: FastAPI, paths: list[str]) -> None:
    """Request ``paths`` of ``app`` in process (best effort), so its caches are full before visitors come."""
    from fastapi.testclient import TestClient

    c = TestClient(app, raise_server_exceptions=False)  # not entered: no second lifespan
    for p in paths:
        try:
            c.get(p)
        except Exception:  # noqa: BLE001 - warming is best effort
            log.warning("warming %s failed", p)
