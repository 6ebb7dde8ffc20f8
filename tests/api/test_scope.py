"""A neighbourhood token sees its own areas only: GeoJSON, exports, tiles and pages are limited to its scope
(Telford & Wrekin, E06000020, in the fixtures); the analyst sees everything."""

from __future__ import annotations

import csv
import io
import re
import sys
from pathlib import Path

import mapbox_vector_tile
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.api.conftest import TELFORD, TELFORD_WARD, WELLINGTON_PARISH, auth  # noqa: E402
from tests.api.test_tiles import tile_of  # noqa: E402

TELFORD_LAD = "E06000020"
WORCESTER = (52.1920, -2.2200)
WORCESTER_WARD = "E05007876"


@pytest.fixture(scope="module")
def telford_wards(web_store) -> set[str]:
    from boundaries import lookups
    from data.assignment import chain_vintage

    w2l = lookups.ward_to_lad(chain_vintage(web_store.layers()))
    return set(w2l.loc[w2l["lad"] == TELFORD_LAD, "ward"])


def codes(fc: dict) -> set[str]:
    return {f["properties"]["code"] for f in fc["features"]}


def test_areas_are_limited_to_the_scope(client, telford_wards):
    mine = codes(client.get("/areas/ward", headers=auth("neighbourhood")).json())
    everyone = codes(client.get("/areas/ward", headers=auth("analyst")).json())
    assert mine and mine <= telford_wards, sorted(mine - telford_wards)[:5]
    assert len(mine) >= 0.9 * len(telford_wards & everyone) and len(everyone) > 5 * len(mine)
    # coarser and finer levels too: nothing force-wide, nothing outside Telford
    assert codes(client.get("/areas/lad", headers=auth("neighbourhood")).json()) == {TELFORD_LAD}
    assert codes(client.get("/areas/pfa", headers=auth("neighbourhood")).json()) == set()
    cells = client.get("/areas/h3:8", headers=auth("neighbourhood")).json()["features"]
    all_cells = client.get("/areas/h3:8", headers=auth("analyst")).json()["features"]
    assert 20 < len(cells) < len(all_cells) / 3
    assert all(52.6 < f["geometry"]["coordinates"][0][0][1] < 52.85 for f in cells)


def test_exports_are_limited_to_the_scope(client, telford_wards):
    r = client.get("/export/ward.csv", headers=auth("neighbourhood"))
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert rows and {row["code"] for row in rows} <= telford_wards
    # asking for an area outside the scope by code gives nothing
    r = client.get("/export/ward.geojson", params={"code": WORCESTER_WARD}, headers=auth("neighbourhood"))
    assert r.status_code == 200 and r.json()["features"] == []
    assert r.json()["metadata"]["scope"] == [TELFORD_LAD]


@pytest.mark.parametrize("layer", ["ward", "h3", "hotspots"])
def test_tiles_are_limited_to_the_scope(client, layer):
    def decoded(at, role, z=11):
        x, y = tile_of(*at, z)
        r = client.get(f"/tiles/{layer}/{z}/{x}/{y}.mvt", headers=auth(role))
        assert r.status_code == 200
        return mapbox_vector_tile.decode(r.content).get(layer, {}).get("features", []) if r.content else []

    assert decoded(WORCESTER, "analyst"), "the analyst sees Worcester"
    assert decoded(WORCESTER, "neighbourhood") == []
    here = decoded(TELFORD, "neighbourhood")
    assert here and len(here) <= len(decoded(TELFORD, "analyst"))


def test_pages_outside_the_scope_are_refused(client):
    for path in (f"/maps/area/ward/{WORCESTER_WARD}", f"/briefings/ward/{WORCESTER_WARD}", "/maps/area/pfa/E23000016"):
        r = client.get(path, headers=auth("neighbourhood"))
        assert r.status_code == 403 and r.json()["param"] == "code", path
    for path in (f"/maps/area/ward/{TELFORD_WARD}", f"/briefings/lad/{TELFORD_LAD}"):
        assert client.get(path, headers=auth("neighbourhood")).status_code == 200, path


def test_public_pages_outside_the_scope_show_the_public_view(client):
    # a neighbourhood token on a parish page outside its scope sees what anyone sees (suppressed), no more

    outside = client.get("/search", params={"q": "Malvern"}).json()["results"]
    parish = next(r["code"] for r in outside if r["level"] == "parish")
    theirs = client.get(f"/maps/parish/{parish}", headers=auth("neighbourhood"))
    public = client.get(f"/maps/parish/{parish}")
    same = re.compile(r"_[0-9a-f]{32}")  # Folium's element ids differ on every render
    assert theirs.status_code == 200 and same.sub("", theirs.text) == same.sub("", public.text)
    inside = client.get(f"/maps/parish/{WELLINGTON_PARISH}", headers=auth("neighbourhood"))
    assert inside.headers["cache-control"].startswith("private")


def test_hot_spots_and_kde_contours_are_limited_to_the_scope(client):
    from shapely.geometry import shape

    mine = client.get("/hotspots", params={"level": "h3:8"}, headers=auth("neighbourhood"))
    everyone = client.get("/hotspots", params={"level": "h3:8"}, headers=auth("analyst"))
    assert mine.status_code == everyone.status_code == 200
    cells, all_cells = mine.json()["features"], everyone.json()["features"]
    assert 20 < len(cells) < len(all_cells) / 3
    assert all(52.6 < f["geometry"]["coordinates"][0][0][1] < 52.85 for f in cells)  # Telford & Wrekin only
    kde = client.get("/hotspots/kde", headers=auth("neighbourhood")).json()["features"]
    full = client.get("/hotspots/kde", headers=auth("analyst")).json()["features"]
    assert kde and len(kde) <= len(full)
    for f in kde:
        minx, miny, maxx, maxy = shape(f["geometry"]).bounds
        assert 52.6 < miny and maxy < 52.85 and -2.7 < minx and maxx < -2.2, (minx, miny, maxx, maxy)
    assert sum(shape(f["geometry"]).area for f in kde) < sum(shape(f["geometry"]).area for f in full)
