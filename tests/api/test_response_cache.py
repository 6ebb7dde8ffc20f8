"""Finished answers served again from the response cache (``api.response_cache``): roles and scopes kept apart
after an analyst warmed it, a wrong token still refused, gzip negotiated, 304 on a held ETag, and a store write
seen at once."""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import mapbox_vector_tile
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.api.conftest import TELFORD, auth  # noqa: E402
from tests.api.test_tiles import tile_of  # noqa: E402

TILE = "/tiles/parish/11/{}/{}.mvt".format(*tile_of(*TELFORD, 11))
PATHS = ["/areas/parish", "/areas/ward?months=2019-01", TILE]


def _served_by_cache_only(monkeypatch, client):
    """Make every route that could rebuild an answer fail: what still answers 200 came from the cache."""
    import api.routes_areas
    import api.routes_tiles
    from api.deps import LRU

    def boom(*a, **k):
        raise AssertionError("rebuilt instead of served from the response cache")

    sv = client.app.state.services
    monkeypatch.setattr(sv, "frames", LRU(0))
    monkeypatch.setattr(sv, "tiles", LRU(0))
    monkeypatch.setattr(api.routes_areas, "area_table", boom)
    monkeypatch.setattr(api.routes_tiles, "make_tile", boom)


def _suppression_kept(path: str, body: bytes) -> None:
    if path.startswith("/tiles/"):
        feats = mapbox_vector_tile.decode(body)["parish"]["features"]
        props = [f["properties"] for f in feats]
    else:
        props = [f["properties"] for f in json.loads(body)["features"]]
    assert props
    for p in props:
        if p.get("suppressed"):
            assert p.get("count") is None and p.get("rate_per_1000") is None and p.get("per_km2") is None
        elif p.get("count") is not None:
            assert p["count"] == 0 or p["count"] >= 5, p


def test_warm_cache_keeps_roles_and_scopes_apart(client, monkeypatch):
    analyst = {p: client.get(p, headers=auth("analyst")) for p in PATHS}
    public = {p: client.get(p) for p in PATHS}
    parish = {p: client.get(p, headers=auth("parish")) for p in PATHS}
    scoped = {p: client.get(p, headers=auth("neighbourhood")) for p in PATHS}
    sv = client.app.state.services
    assert len(sv.responses) >= len(PATHS)

    _served_by_cache_only(monkeypatch, client)
    for p in PATHS:
        a = client.get(p, headers=auth("analyst"))
        assert a.status_code == 200 and a.content == analyst[p].content
        anon, par = client.get(p), client.get(p, headers=auth("parish"))
        assert anon.status_code == par.status_code == 200
        # the public body is the public one, never the analyst's the cache also holds
        assert anon.content == par.content == public[p].content == parish[p].content != a.content
        _suppression_kept(p, anon.content)
        assert anon.headers["cache-control"].startswith("public")
        assert par.headers["cache-control"].startswith("private")
        assert "Authorization" in anon.headers["vary"] and "Accept-Encoding" in anon.headers["vary"]
        n = client.get(p, headers=auth("neighbourhood"))
        assert n.status_code == 200 and n.content == scoped[p].content != a.content
        # a wrong token is refused even though every role's answer is cached
        bad = client.get(p, headers={"Authorization": "Bearer not-a-token"})
        assert bad.status_code == 401 and bad.json()["param"] == "Authorization"


def test_gzip_negotiation_and_revalidation(client):
    plain = client.get("/areas/lad", headers={"Accept-Encoding": "identity"})
    zipped = client.get("/areas/lad", headers={"Accept-Encoding": "gzip, deflate, br"})
    refused = client.get("/areas/lad", headers={"Accept-Encoding": "gzip;q=0, deflate"})
    assert "content-encoding" not in plain.headers and "content-encoding" not in refused.headers
    assert zipped.headers["content-encoding"] == "gzip"
    # httpx decodes gzip: the same JSON either way, under two tags of one content
    assert zipped.content == plain.content == refused.content and json.loads(plain.content)["features"]
    assert zipped.headers["etag"] != plain.headers["etag"]
    for tag in (plain.headers["etag"], zipped.headers["etag"], f'W/{zipped.headers["etag"]}, "other"'):
        again = client.get("/areas/lad", headers={"If-None-Match": tag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] and "Authorization" in again.headers["vary"]
    assert client.get("/areas/lad", headers={"If-None-Match": '"stale"'}).status_code == 200


def test_gzip_bytes_are_the_body(client):
    """The raw gzip stream (not decoded by the client) inflates to the identity body."""
    plain = client.get("/areas/ward", headers={"Accept-Encoding": "identity"}).content
    with client.stream("GET", "/areas/ward", headers={"Accept-Encoding": "gzip"}) as r:
        raw = b"".join(r.iter_raw())
    assert r.headers["content-encoding"] == "gzip" and int(r.headers["content-length"]) == len(raw) < len(plain)
    assert gzip.decompress(raw) == plain


def test_store_generation_follows_writes(tmp_path):
    import pandas as pd

    from api.deps import StoreVintage
    from data.store import open_store

    st = open_store(tmp_path / "store")
    st.write_table("t", pd.DataFrame({"a": [1]}))
    gen = StoreVintage(st)
    first = gen()
    assert first == st.generation and gen() == first
    st.write_table("t", pd.DataFrame({"a": [2]}))
    assert gen() == st.generation > first


def test_store_generation_without_catalogue_is_checked_every_ttl():
    from api.deps import StoreVintage

    class Counter:
        calls = 0

        @property
        def generation(self):
            self.calls += 1
            return self.calls

    c = Counter()
    cached = StoreVintage(c, ttl=3600)
    assert cached() == cached() == 1
    always = StoreVintage(Counter(), ttl=0)
    assert always() < always()


@pytest.mark.parametrize("path, status", [("/areas/ward?bbox=1,2", 400), ("/tiles/parish/30/1/1.mvt", 400),
                                          ("/areas/ward?bbox=-3.3,51.8,-1.7,53.0&months=2019-13", 400)])
def test_errors_are_not_cached(client, path, status):
    for _ in range(2):
        r = client.get(path)
        assert r.status_code == status and r.json()["param"]
    cached_paths = {k[0] + "?" + k[1].decode() for k in list(client.app.state.services.responses._d)}
    assert path not in cached_paths
