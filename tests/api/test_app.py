"""The JSON routes on a real store: shapes, headers, roles, suppression, and 4xx (never 5xx) on bad input."""

from __future__ import annotations

import gzip
import io
import json
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.api.conftest import TELFORD_WARD, auth  # noqa: E402


def strict_json(body: bytes):
    """Parse JSON refusing NaN / Infinity (which Python's json would otherwise accept)."""
    def refuse(c):
        raise AssertionError(f"{c} in JSON")
    return json.loads(body, parse_constant=refuse)


def test_health_and_coverage(client):
    assert client.get("/health").json()["status"] == "ok"
    cov = strict_json(client.get("/coverage").content)
    assert {(r["force"], r["month"]) for r in cov["coverage"]} == {("west-mercia", "2018-12"),
                                                                  ("west-mercia", "2019-01")}
    assert cov["layers"]["parish"]["approximate"] is True


def test_public_wards_are_an_rfc7946_collection_with_suppression(client):
    r = client.get("/areas/ward")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    fc = strict_json(r.content)
    assert fc["type"] == "FeatureCollection" and "crs" not in fc
    feats = fc["features"]
    assert len([f for f in feats if f["properties"]["code"].startswith("E05")]) >= 260
    for f in feats:
        p = f["properties"]
        if p["suppressed"]:
            assert p["count"] is None and p["rate_per_1000"] is None and p["per_km2"] is None
        elif p["count"] is not None:
            assert p["count"] == 0 or p["count"] >= 5
        if f["geometry"] is not None:
            lon, lat = f["geometry"]["coordinates"][0][0][0] if f["geometry"]["type"] == "MultiPolygon" else \
                f["geometry"]["coordinates"][0][0]
            assert -4 < lon < 0 and 51 < lat < 54


def test_analyst_sees_what_the_public_does_not(client):
    public = strict_json(client.get("/areas/parish").content)["features"]
    analyst = strict_json(client.get("/areas/parish", headers=auth("analyst")).content)["features"]
    hidden = {f["properties"]["code"] for f in public if f["properties"]["suppressed"]}
    assert hidden, "expected some small parish counts to be suppressed for the public"
    shown = {f["properties"]["code"]: f["properties"]["count"] for f in analyst}
    assert any(0 < shown[c] < 5 for c in hidden)
    # after the analyst warmed every cache, the public answer is unchanged
    again = strict_json(client.get("/areas/parish").content)["features"]
    assert [f["properties"] for f in again] == [f["properties"] for f in public]


def test_headers_gzip_etag_vary(client):
    r = client.get("/areas/ward", headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"
    assert "Authorization" in r.headers["vary"] and r.headers["cache-control"].startswith("public")
    again = client.get("/areas/ward", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    private = client.get("/areas/ward", headers=auth("analyst"))
    assert private.headers["cache-control"].startswith("private")
    assert private.headers["etag"] != r.headers["etag"]  # unsuppressed figures differ


def test_filters_and_bbox(client):
    params = {"months": "2019-01", "crime_type": ["Drugs", "Robbery"], "bbox": "-2.55,52.62,-2.35,52.75"}
    fc = client.get("/areas/ward", params=params, headers=auth("analyst")).json()
    assert 5 < len(fc["features"]) < 100
    counted = [f["properties"] for f in fc["features"] if f["properties"]["count"]]
    assert counted and all(p["month"] == "2019-01" and p["crime_type"] == "Drugs; Robbery" for p in counted)
    # the public gets all crime or one type at a time (the aggregate's disclosure rule), with a 4xx naming it
    r = client.get("/areas/ward", params=params)
    assert r.status_code == 400 and r.json()["param"] == "crime_type"
    one = client.get("/areas/ward", params={**params, "crime_type": "Drugs"}).json()
    assert one["features"] and not any(0 < (f["properties"]["count"] or 0) < 5 for f in one["features"])


def test_h3_levels_follow_the_role(client):
    assert client.get("/areas/h3:8").status_code == 200
    r = client.get("/areas/h3:9")
    assert r.status_code == 403 and r.json()["param"] == "level"
    assert client.get("/areas/h3:9", headers=auth("analyst")).status_code == 200


@pytest.mark.parametrize("path, param", [
    ("/areas/nonsense", "level"),
    ("/areas/county", "level"),
    ("/areas/ward?months=2019-13", "months"),
    ("/areas/ward?months=2019-02..2018-01", "months"),
    ("/areas/ward?months=yesterday", "months"),
    ("/areas/ward?crime_type=knife%20crime", "crime_type"),
    ("/areas/ward?crime_type=%27%3B%20DROP%20TABLE%20offences%3B--", "crime_type"),
    ("/areas/ward?bbox=-10,49,2,59", "bbox"),
    ("/areas/ward?bbox=nan,52,-2,53", "bbox"),
    ("/areas/ward?bbox=inf,52,-2,53", "bbox"),
    ("/areas/ward?bbox=1,2,3", "bbox"),
    ("/areas/ward?bbox=-2,53,-3,52", "bbox"),
    ("/areas/%F0%9F%92%A3%E2%80%AE", "level"),
    ("/areas/ward%27%20OR%201%3D1", "level"),
    ("/tiles/nonsense/1/0/0.mvt", "layer"),
    ("/tiles/ward/30/0/0.mvt", "z"),
    ("/tiles/ward/3/8/0.mvt", "x"),
    ("/tiles/ward/3/0/-1.mvt", "y"),
    ("/tiles/ward/a/0/0.mvt", "z"),
    ("/search?q=", "q"),
    ("/search?q=" + "x" * 500, "q"),
    ("/export/ward.shp", "format"),
    ("/maps/parish/E04999999", "code"),
    ("/maps/parish/%3Cscript%3E", "code"),
    ("/hotspots?level=h3:99", "level"),
])
def test_bad_input_is_a_4xx_naming_the_parameter(client, path, param):
    r = client.get(path, headers=auth("analyst"))
    assert 400 <= r.status_code < 500, (path, r.status_code, r.text[:200])
    body = strict_json(r.content)
    assert body["param"] == param and body["error"]


def test_very_long_query_string_is_refused(client):
    r = client.get("/areas/ward?months=" + "9" * 5000)
    assert r.status_code == 414 and r.json()["param"] == "query"


def test_tokens_and_roles(client):
    assert client.get("/areas/ward", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/areas/ward", headers={"Authorization": "Basic abc"}).json()["param"] == "Authorization"
    for path in ("/countylines/summary", "/countylines/flows", "/countylines/graph", "/maps/hotspots"):
        assert client.get(path).status_code == 401, path
        assert client.get(path, headers=auth("parish")).status_code == 403, path
        assert client.get(path, headers=auth("neighbourhood")).status_code == 403, path
        assert client.get(path, headers=auth("analyst")).status_code == 200, path
    assert client.get("/hotspots").status_code == 401
    assert client.get("/hotspots", headers=auth("parish")).status_code == 403


def test_county_lines_for_analysts(client):
    s = client.get("/countylines/summary", headers=auth("analyst")).json()
    assert s["lines"] == 76 and s["synthetic"] is True
    flows = strict_json(client.get("/countylines/flows", headers=auth("analyst")).content)
    assert flows["type"] == "FeatureCollection" and flows["features"]
    g = client.get("/countylines/graph", headers=auth("analyst")).json()
    assert g["nodes"] and g["edges"]


def test_hotspots_come_from_the_cache(client):
    fc = client.get("/hotspots", params={"level": "h3:8"}, headers=auth("analyst")).json()
    assert fc["features"] and {"z", "class", "count"} <= set(fc["features"][0]["properties"])
    r = client.get("/hotspots", params={"level": "h3:10"}, headers=auth("analyst"))
    assert r.status_code == 404 and "crimemap hotspots run" in r.json()["error"]


def test_exports_are_what_the_map_shows(client):
    r = client.get("/export/ward.csv")
    assert r.status_code == 200
    lines = r.text.splitlines()
    assert lines[0] == "code,name,level,month,crime_type,count,rate_per_1000,per_km2,population,vintage,suppressed"
    csv = pd.read_csv(io.StringIO(r.text))
    geo = client.get("/areas/ward").json()
    assert len(csv) == len(geo["features"])
    assert (csv.loc[csv["suppressed"], "count"].isna()).all()
    one = client.get("/export/parish.geojson", params={"code": "E04000947"}).json()
    assert [f["properties"]["code"] for f in one["features"]] == ["E04000947"]
    gpkg = client.get("/export/ward.gpkg", headers=auth("analyst"))
    assert gpkg.content[:15] == b"SQLite format 3"


def test_search_finds_parishes_and_wards(client):
    res = client.get("/search", params={"q": "Ludlow"}).json()["results"]
    assert {"parish", "ward"} <= {r["level"] for r in res}
    assert client.get("/search", params={"q": "'; DROP TABLE x;--"}).json()["results"] == []


def test_neighbourhood_scope(client):
    assert client.get(f"/maps/area/ward/{TELFORD_WARD}", headers=auth("neighbourhood")).status_code == 200
    worcester = "E05007876"  # a Worcester ward, outside the Telford & Wrekin scope
    r = client.get(f"/briefings/ward/{worcester}", headers=auth("neighbourhood"))
    assert r.status_code in (403, 404) and r.json()["param"] == "code"


def test_unexpected_errors_are_a_generic_500(web_app, client, monkeypatch, caplog):
    from api import routes_meta

    def boom(*a, **k):
        raise RuntimeError("secret /internal/path")

    monkeypatch.setattr(routes_meta.agg, "search_areas", boom)
    r = client.get("/search", params={"q": "Wellington"})
    assert r.status_code == 500
    assert "secret" not in r.text and "Traceback" not in r.text and r.json()["reference"]
    assert any("secret" in rec.getMessage() for rec in caplog.records)


def test_gzip_body_is_valid(client):
    r = client.get("/areas/lad", headers={"Accept-Encoding": "gzip"})
    data = r.content if r.content[:2] != b"\x1f\x8b" else gzip.decompress(r.content)
    assert strict_json(data)["features"]


def test_openapi_has_examples(client):
    spec = client.get("/openapi.json").json()
    assert {"/areas/{level}", "/tiles/{layer}/{z}/{x}/{y}.mvt", "/maps/parish/{code}"} <= set(spec["paths"])
