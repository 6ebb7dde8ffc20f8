"""Finished responses of the cached routes (/areas, /tiles), served again without entering the framework.

A route that builds an ``Encoded`` body files it here under the request as sent — path, raw query string, the
caller's role and scope (``Principal.cache_key``) and the store generation — and ``CachedResponses``, an ASGI
middleware in front of FastAPI, answers the same request again from it: one token hash, one dict lookup, no
routing, no parameter validation, no thread hop. What it serves is exactly what the route answered to the same
role and scope (the key holds them, never the token), so a parish or anonymous caller can only ever receive a
body the route built for the parish view. Anything not in the cache (a first request, an error, a bad token)
goes on to the app unchanged.
"""

from __future__ import annotations

from collections import OrderedDict
from threading import Lock

from fastapi import Request

from api.auth import AuthError, Principal
from api.responses import Encoded, EncodedResponse, negotiate

#: path prefixes whose routes file their answers here (anything else skips the lookup)
CACHED_PREFIXES = ("/areas/", "/tiles/")
#: marks an answer sent from here (for benchmarks and for operators looking at headers)
HIT = (b"x-crimemap-cache", b"hit")


class SizedLRU:
    """A thread-safe LRU bounded by the bytes of what it holds (``value.nbytes``)."""

    def __init__(self, max_bytes: int):
        self.max_bytes, self.nbytes = max_bytes, 0
        self._d: OrderedDict = OrderedDict()
        self._lock = Lock()

    def __len__(self) -> int:
        return len(self._d)

    def get(self, key):
        d = self._d
        if key not in d:
            return None
        with self._lock:
            try:
                d.move_to_end(key)
                return d[key]
            except KeyError:  # evicted by another thread in between
                return None

    def put(self, key, value):
        size = value.nbytes
        if size > self.max_bytes:
            return value
        with self._lock:
            old = self._d.pop(key, None)
            if old is not None:
                self.nbytes -= old.nbytes
            self._d[key] = value
            self.nbytes += size
            while self.nbytes > self.max_bytes and self._d:
                _, gone = self._d.popitem(last=False)
                self.nbytes -= gone.nbytes
        return value


def request_key(path: str, query: bytes, who: Principal, generation) -> tuple:
    """What a cached answer may depend on: the request as sent, the caller's role and scope, the data."""
    return (path, query, who.cache_key, generation)


def remember(request: Request, who: Principal, sv, enc: Encoded) -> EncodedResponse:
    """File ``enc`` as the answer to this request and role, and send it (304 / gzip as the client asks)."""
    sv.responses.put(request_key(request.scope["path"], request.scope["query_string"], who, sv.generation()), enc)
    return EncodedResponse(enc, who, request)


class CachedResponses:
    """ASGI middleware: answer a GET from ``services.responses`` when a route has already answered it."""

    def __init__(self, app, services):
        self.app, self.services = app, services

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "GET" or not scope["path"].startswith(CACHED_PREFIXES):
            return await self.app(scope, receive, send)
        sv = self.services
        if not len(sv.responses):
            return await self.app(scope, receive, send)
        authorization = accept = inm = ""
        for k, v in scope["headers"]:
            if k == b"authorization":
                authorization = v.decode("latin-1")
            elif k == b"accept-encoding":
                accept = v.decode("latin-1")
            elif k == b"if-none-match":
                inm = v.decode("latin-1")
        try:
            who = sv.tokens.principal(authorization)
        except AuthError:  # the app answers 401 with its usual body
            return await self.app(scope, receive, send)
        enc = sv.responses.get(request_key(scope["path"], scope["query_string"], who, sv.generation()))
        if enc is None:
            return await self.app(scope, receive, send)
        status, headers, body = negotiate(enc, who, accept, inm)
        headers.append(HIT)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
