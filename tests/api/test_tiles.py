"""Vector tiles decode to the right features: the aggregate's codes and counts, the zoom's H3 resolution,
capped at res 8 and suppressed for the public."""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import h3
import mapbox_vector_tile
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.api.conftest import TELFORD, auth  # noqa: E402


def tile_of(lat: float, lon: float, z: int) -> tuple[int, int]:
    x = int((lon + 180) / 360 * 2 ** z)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2 ** z)
    return x, y


def features(client, layer: str, z: int, role=None, at=TELFORD, **params) -> list[dict]:
    x, y = tile_of(*at, z)
    r = client.get(f"/tiles/{layer}/{z}/{x}/{y}.mvt", headers=auth(role), params=params)
    assert r.status_code == 200, r.text[:200]
    assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert "Authorization" in r.headers["vary"]
    return mapbox_vector_tile.decode(r.content).get(layer, {}).get("features", [])


@pytest.mark.parametrize("z, role, res", [(9, None, 7), (11, None, 8), (12, None, 8), (14, None, 8),
                                          (12, "analyst", 9), (14, "analyst", 10), (10, "analyst", 8)])
def test_h3_resolution_follows_zoom_and_role(client, z, role, res):
    feats = features(client, "h3", z, role)
    assert feats
    assert {h3.get_resolution(f["properties"]["code"]) for f in feats} == {res}


def test_tile_features_are_the_aggregate(client, web_store):
    from data import aggregate as agg

    feats = features(client, "ward", 12, "analyst")
    table = agg.aggregate(web_store, "ward", geometry=False).set_index("code")
    assert len(feats) >= 3
    for f in feats:
        p = f["properties"]
        assert p["count"] == table.loc[p["code"], "count"]
        assert p["name"] == table.loc[p["code"], "name"]
    telford_cell = h3.latlng_to_cell(*TELFORD, 9)
    assert telford_cell in {f["properties"]["code"] for f in features(client, "h3", 12, "analyst")}


def test_public_tiles_are_suppressed(client, web_store):
    feats = features(client, "parish", 11)
    assert feats
    for f in feats:
        p = f["properties"]
        if p.get("suppressed"):
            assert "count" not in p and "rate_per_1000" not in p
        else:
            assert p.get("no_data") or p["count"] == 0 or p["count"] >= 5
    # an analyst warming the same tile does not change what the public receives
    features(client, "parish", 11, "analyst")
    assert features(client, "parish", 11) == feats


def test_empty_tiles_are_fast_and_empty(client):
    features(client, "ward", 12)  # warm
    t = time.perf_counter()
    r = client.get("/tiles/ward/12/0/0.mvt")
    assert r.status_code == 200 and r.content == b""
    assert time.perf_counter() - t < 0.5


def test_hotspot_tiles_need_a_token(client):
    x, y = tile_of(*TELFORD, 10)
    assert client.get(f"/tiles/hotspots/10/{x}/{y}.mvt").status_code == 401
    feats = features(client, "hotspots", 10, "analyst")
    assert feats and {"z", "class"} <= set(feats[0]["properties"])


def test_serve_warms_public_areas_and_tiles_where_the_data_is(web_store, client):
    """`crimemap serve` requests these of itself as it starts: each answers, and the tiles hold areas."""
    from api.cli_serve import serve_warm_paths

    paths = serve_warm_paths(web_store)
    assert paths[:3] == ["/areas/ward", "/areas/parish", "/areas/lad"]
    tiles = [p for p in paths if p.startswith("/tiles/")]
    assert {p.split("/")[2] for p in tiles} == {"h3", "parish", "ward"}
    assert {p.split("/")[3] for p in tiles} == {"8", "12"}
    for p in paths:
        r = client.get(p)
        assert r.status_code == 200, (p, r.text[:200])
        if p.startswith("/tiles/"):
            layer = p.split("/")[2]
            found = mapbox_vector_tile.decode(r.content).get(layer, {}).get("features", [])
            assert found, p  # public cells may be suppressed, but they are there
