"""Pages: small (≤ 300 KB), no outside hosts, attribution, notices, tables beside maps, roles and scope."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.api.conftest import TELFORD_WARD, WELLINGTON_PARISH, auth  # noqa: E402
from tests.conftest import need  # noqa: E402

EXTERNAL = re.compile(rb"""<(script|link|img|iframe)[^>]+(src|href)=["']https?://""", re.I)
PAGES = [(f"/maps/parish/{WELLINGTON_PARISH}", None), (f"/reports/parish/{WELLINGTON_PARISH}", None),
         (f"/maps/area/ward/{TELFORD_WARD}", "neighbourhood"), (f"/briefings/ward/{TELFORD_WARD}", "neighbourhood"),
         (f"/briefings/parish/{WELLINGTON_PARISH}", None), ("/maps/hotspots", "analyst"), ("/?q=Wellington", None)]


@pytest.mark.parametrize("path, role", PAGES)
def test_pages_are_small_local_and_attributed(client, path, role):
    r = client.get(path, headers=auth(role))
    assert r.status_code == 200, r.text[:300]
    assert r.headers["content-type"].startswith("text/html")
    assert len(r.content) <= 300_000
    assert not EXTERNAL.search(r.content), "page loads code or styles from another host"
    html = r.text
    assert "Contains public sector information licensed under the Open Government Licence v3.0" in html
    assert "Contains OS data © Crown copyright and database right" in html and "ODbL" in html
    assert 'lang="en-GB"' in html and "Skip to content" in html


def test_parish_page_for_the_public(client):
    html = client.get(f"/maps/parish/{WELLINGTON_PARISH}").text
    assert "Approximate boundary" in html
    assert "<table" in html and "Offences per month" in html and "<svg" in html
    assert "/tiles/parish/{z}/{x}/{y}.mvt" in html and "Map legend" in html
    assert "Top locations" not in html  # no points for the public
    assert "Wellington" in html and "Telford and Wrekin" in html  # compared with its local authority


def test_briefing_is_printable_and_marked(client):
    html = client.get(f"/briefings/ward/{TELFORD_WARD}", headers=auth("neighbourhood")).text
    assert "OFFICIAL" in html and "@media print" not in html  # print CSS lives in the stylesheet
    for section in ("Top crime types", "Top locations", "Trend", "Caveats", "Boundaries: ward 2019"):
        assert section in html
    css = self_css(client)
    assert "@media print" in css and "@page" in css


def self_css(client) -> str:
    return client.get("/static/app/crimemap.css").text


def test_page_roles(client):
    assert client.get(f"/maps/area/ward/{TELFORD_WARD}").status_code == 401
    assert client.get(f"/maps/area/ward/{TELFORD_WARD}", headers=auth("parish")).status_code == 403
    assert client.get("/maps/hotspots", headers=auth("neighbourhood")).status_code == 403
    public = client.get(f"/briefings/parish/{WELLINGTON_PARISH}").text
    assert "Not shown at this handling level" in public


def test_vendor_assets_are_served(client):
    need((Path(__file__).resolve().parents[2] / "api/static/vendor/leaflet").is_dir(),
         "npm assets in api/static/vendor (scripts/setup copies them)")
    for path in ("/static/vendor/leaflet/dist/leaflet.js", "/static/vendor/leaflet/dist/leaflet.css",
                 "/static/vendor/leaflet.vectorgrid/dist/Leaflet.VectorGrid.bundled.min.js", "/static/app/crimemap.js"):
        assert client.get(path).status_code == 200, path
