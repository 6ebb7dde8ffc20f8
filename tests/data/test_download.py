"""Download clients against a local server that answers like police.uk's archive and API and ONS's ArcGIS REST API.

The server (a thread in this process, never a real host) serves monthly archive zips built from the real West
Mercia street files, with Range support; the police.uk API's JSON (``crimes-street/all-crime`` by polygon, with
its 503 over the crime cap, and ``crimes-no-location`` by force) made from the real street files of West Mercia,
its neighbours and British Transport Police; and the real West Mercia ward polygons as paginated GeoJSON. Switches
make it answer 429/503 with Retry-After, break off a download half-way, or send a corrupt payload.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import socket
import threading
import time
import urllib.parse
import zipfile
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pandas as pd
import pytest
import shapely

from data import download as dl
from geo.errors import InputError
from tests.conftest import SHARED, STREET

FORCE = "west-mercia"
MONTHS = ["2018-12", "2019-01"]
PAGE = 100


class FakeServices:
    """What the local server serves, what it should do wrong next, and what it was asked."""

    def __init__(self, archive: bytes, features: list[dict]):
        self.archive = archive
        self.features = features
        self.log: list[tuple[str, dict, str]] = []
        self.fail_next: list[int] = []  # statuses to answer (with Retry-After: 1) before serving
        self.break_once = False  # send half the archive, then hang up
        self.corrupt = False  # send bytes that are not a zip
        self.bad_page_at: int | None = None  # answer this resultOffset with non-JSON
        self.no_count = False
        self.api: dict[str, list[dict]] = {}  # month -> crimes, as the police.uk API gives them
        self.cap = API_TEST_CAP  # more crimes than this in a polygon: 503 without Retry-After
        self.api_corrupt = 0  # answer this many API requests with a truncated JSON body
        self.api_wrong_month = False  # answer with crimes of another month
        self.api_fail_after: int | None = None  # after this many API answers, answer 500 (a run that stops)
        self.api_break_once = False  # send half an API answer, then hang up
        self._located: dict[str, tuple] = {}

    def located(self, month: str) -> tuple[list[dict], np.ndarray, np.ndarray]:
        """The crimes of ``month`` that have a location, and their longitudes and latitudes."""
        if month not in self._located:
            got = [c for c in self.api[month] if c["location"] is not None]
            self._located[month] = (got, np.array([float(c["location"]["longitude"]) for c in got]),
                                    np.array([float(c["location"]["latitude"]) for c in got]))
        return self._located[month]


def _handler(state: FakeServices):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _send(self, status: int, body: bytes, ctype: str, extra: dict | None = None):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query))
            state.log.append((url.path, query, self.headers.get("Range", "")))
            if state.fail_next:
                status = state.fail_next.pop(0)
                return self._send(status, b"slow down", "text/plain", {"Retry-After": "1"})
            if url.path.startswith("/archive/"):
                return self._archive(url.path.rsplit("/", 1)[-1])
            if url.path.endswith("/FeatureServer/0/query"):
                return self._query(query)
            if url.path in ("/api/crimes-street/all-crime", "/api/crimes-no-location"):
                return self._api(url.path, query)
            self._send(404, b"not found", "text/plain")

        def _api(self, path: str, q: dict):
            served = sum(1 for p, _, _ in state.log if p.startswith("/api/")) - 1
            if state.api_fail_after is not None and served >= state.api_fail_after:
                return self._send(500, b"<html>Internal Server Error</html>", "text/html")
            crimes = state.api.get(q.get("date"))
            if crimes is None:
                return self._send(404, b"", "text/html")
            if path.endswith("no-location"):
                if q.get("category") != "all-crime":
                    return self._send(400, b"", "text/html")
                got = [c for c in crimes if c["location"] is None and c["_force"] == q.get("force")]
            else:  # poly: lat,lng:lat,lng:... (police.uk closes the ring)
                pts = [tuple(map(float, p.split(","))) for p in q["poly"].split(":")]
                poly = shapely.Polygon([(lng, lat) for lat, lng in pts])
                located, x, y = state.located(q["date"])
                got = [located[i] for i in np.flatnonzero(shapely.intersects_xy(poly, x, y))]
                if len(got) > state.cap:
                    return self._send(503, b"", "text/html")
            body = json.dumps([{k: v for k, v in c.items() if k != "_force"} for c in got]).encode()
            if state.api_wrong_month:
                body = body.replace(q["date"].encode(), b"2011-01")
            if state.api_corrupt:
                state.api_corrupt -= 1
                body = body[: len(body) // 2]
            if state.api_break_once:
                state.api_break_once = False
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self._send(200, body, "application/json")

        def _archive(self, name: str):
            if name != "2019-01.zip":
                return self._send(404, b"no such archive", "text/html")
            body = b"<html>Service unavailable</html>" * 50 if state.corrupt else state.archive
            start = 0
            rng = self.headers.get("Range", "")
            if rng.startswith("bytes="):
                start = int(rng[6:].split("-")[0])
                if start >= len(body):
                    return self._send(416, b"", "text/plain", {"Content-Range": f"bytes */{len(body)}"})
            part = body[start:]
            self.send_response(206 if start else 200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(len(part)))
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            self.end_headers()
            if state.break_once:
                state.break_once = False
                self.wfile.write(part[: len(part) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.wfile.write(part)

        def _query(self, q: dict):
            if q.get("returnCountOnly") == "true":
                if state.no_count:
                    return self._send(200, json.dumps({"error": {"code": 400, "message": "nope"}}).encode(),
                                      "application/json")
                return self._send(200, json.dumps({"count": len(state.features)}).encode(), "application/json")
            offset, n = int(q["resultOffset"]), int(q["resultRecordCount"])
            if state.bad_page_at == offset:
                return self._send(200, b'{"type": "FeatureCollection", "features": [', "application/geo+json")
            page = state.features[offset: offset + n]
            doc = {"type": "FeatureCollection", "features": page}
            if offset + n < len(state.features):
                doc["properties"] = {"exceededTransferLimit": True}
            self._send(200, json.dumps(doc).encode(), "application/geo+json")

    return Handler


@pytest.fixture(scope="module")
def archive(shared_data) -> bytes:
    """A police.uk-style monthly archive: YYYY-MM/YYYY-MM-force-street.csv members."""
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as z:
        for m in MONTHS:
            for force in (FORCE, "staffordshire"):
                raw = gzip.decompress((STREET / force / f"{m}-{force}-street.csv.gz").read_bytes())
                z.writestr(f"{m}/{m}-{force}-street.csv", raw)
    return sink.getvalue()


@pytest.fixture(scope="module")
def ward_features(shared_data) -> list[dict]:
    return json.loads((SHARED / "boundaries/wards/wards_dec2019_west_mercia.geojson").read_text())["features"]


API_TEST_CAP = 2000  # the real cap is 10,000; a smaller one makes the real West Mercia months split several times
API_FORCES = [FORCE, "staffordshire", "warwickshire", "gloucestershire", "dyfed-powys", "north-wales", "btp"]
# the police.uk API's category slugs (https://data.police.uk/api/crime-categories), written out independently
SLUGS = {"Anti-social behaviour": "anti-social-behaviour", "Bicycle theft": "bicycle-theft",
         "Burglary": "burglary", "Criminal damage and arson": "criminal-damage-arson", "Drugs": "drugs",
         "Other crime": "other-crime", "Other theft": "other-theft", "Possession of weapons": "possession-of-weapons",
         "Public order": "public-order", "Robbery": "robbery", "Shoplifting": "shoplifting",
         "Theft from the person": "theft-from-the-person", "Vehicle crime": "vehicle-crime",
         "Violence and sexual offences": "violent-crime"}
ROW_KEY = ["Crime ID", "Longitude", "Latitude", "Location", "Crime type", "Last outcome category", "Context"]


def _street_rows(force: str, month: str) -> pd.DataFrame:
    return pd.read_csv(STREET / force / f"{month}-{force}-street.csv.gz", dtype=str, keep_default_na=False,
                       encoding="utf-8-sig")


@pytest.fixture(scope="module")
def api_crimes(shared_data) -> dict[str, list[dict]]:
    """The real street rows of West Mercia, its neighbours and BTP in the police.uk API's JSON shape."""
    out, next_id = {}, 60_000_000
    for month in MONTHS:
        crimes = []
        for force in API_FORCES:
            for r in _street_rows(force, month).itertuples(index=False):
                located = r.Longitude != ""
                crimes.append({
                    "category": SLUGS[r[9]],
                    "location_type": ("BTP" if force == "btp" else "Force") if located else None,
                    "location": {"latitude": r.Latitude, "longitude": r.Longitude,
                                 "street": {"id": zlib.crc32(r.Location.encode()), "name": r.Location}}
                    if located else None,
                    "context": r.Context,
                    "outcome_status": {"category": r[10], "date": month} if r[10] else None,
                    "persistent_id": r[0], "id": next_id, "location_subtype": "", "month": month, "_force": force,
                })
                next_id += 1
        out[month] = crimes
    return out


@pytest.fixture(scope="module")
def wm_area(shared_data):
    from boundaries.layers import read_boundary_file

    pfa, _ = read_boundary_file(SHARED / "boundaries/pfa/pfa_dec2020_ew_buc.geojson", "pfa")
    return dl.force_area(pfa, FORCE)


def _expected_api_rows(month: str, area) -> pd.DataFrame:
    """What the API path must give: located rows of the territorial forces inside the area, West Mercia's others."""
    frames = []
    for force in API_FORCES:
        rows = _street_rows(force, month)
        located = rows["Longitude"] != ""
        inside = np.zeros(len(rows), dtype=bool)
        inside[located.to_numpy()] = shapely.intersects_xy(area, rows["Longitude"][located].astype(float),
                                                           rows["Latitude"][located].astype(float))
        keep = inside & (force != "btp") | (~located.to_numpy() & (force == FORCE))
        frames.append(rows[keep])
    return pd.concat(frames, ignore_index=True)


def _multiset(frame: pd.DataFrame) -> list[tuple]:
    return sorted(map(tuple, frame[ROW_KEY].itertuples(index=False)))


@pytest.fixture
def services(archive, ward_features, api_crimes):
    state = FakeServices(archive, ward_features)
    state.api = api_crimes
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


def _client():
    return dl.PoliteClient(rate=1000, attempts=4, max_wait=5)


SPAN = (dt.date(2018, 12, 1), dt.date(2019, 1, 1))


def _expected(m: str) -> bytes:
    return gzip.decompress((STREET / FORCE / f"{m}-{FORCE}-street.csv.gz").read_bytes())


def test_police_archive_gives_the_real_street_files_with_checksums(services, tmp_path):
    files = dl.download_police(FORCE, SPAN, tmp_path, base_url=services.base + "/archive", client=_client())
    assert [f.name for f in files] == [f"{m}-{FORCE}-street.csv" for m in MONTHS]
    for f, m in zip(files, MONTHS, strict=True):
        assert f.read_bytes() == _expected(m)
        assert (tmp_path / f"{f.name}.sha256").read_text().split()[0] == hashlib.sha256(_expected(m)).hexdigest()
    assert not list((tmp_path / ".archives").glob("*.zip*"))
    # run again: the checksums hold, nothing is fetched
    before = len(services.log)
    dl.download_police(FORCE, SPAN, tmp_path, base_url=services.base + "/archive", client=_client())
    assert len(services.log) == before


def test_police_download_waits_as_retry_after_asks(services, tmp_path):
    services.fail_next = [429, 503]
    t = time.monotonic()
    files = dl.download_police(FORCE, SPAN, tmp_path, base_url=services.base + "/archive", client=_client())
    assert time.monotonic() - t >= 2.0
    assert len(files) == 2 and files[1].read_bytes() == _expected("2019-01")


def test_an_interrupted_download_resumes_with_a_range_request(services, tmp_path):
    services.break_once = True
    files = dl.download_police(FORCE, SPAN, tmp_path, base_url=services.base + "/archive", client=_client())
    ranges = [r for path, _, r in services.log if path.endswith(".zip")]
    assert ranges[0] == "" and ranges[1].startswith("bytes=") and int(ranges[1][6:-1]) > 0
    assert files[0].read_bytes() == _expected("2018-12")


def test_a_partial_file_from_an_earlier_run_is_continued(services, tmp_path, archive):
    part = tmp_path / ".archives" / "2019-01.zip.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(archive[:1000])
    dl.download_police(FORCE, SPAN, tmp_path, base_url=services.base + "/archive", client=_client())
    assert [r for _, _, r in services.log] == ["bytes=1000-"]


def test_a_corrupt_archive_is_one_line_and_leaves_nothing(services, tmp_path):
    services.corrupt = True
    with pytest.raises(InputError, match="corrupt") as e:
        dl.download_police(FORCE, SPAN, tmp_path, base_url=services.base + "/archive", client=_client())
    assert "\n" not in str(e.value)
    assert not list(tmp_path.glob("*.csv")) and not list((tmp_path / ".archives").iterdir())


def test_a_month_missing_from_the_archive_is_named(services, tmp_path):
    with pytest.raises(InputError, match="2019-01"):
        dl.download_police("cheshire", SPAN, tmp_path, base_url=services.base + "/archive", client=_client())


def test_an_unreachable_network_is_one_line(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(InputError, match=f"cannot reach 127.0.0.1:{port}") as e:
        dl.download_police(FORCE, SPAN, tmp_path, base_url=f"http://127.0.0.1:{port}/archive", client=_client())
    assert "\n" not in str(e.value)


def test_police_client_keeps_to_the_rate_limit():
    client = dl.PoliteClient(rate=15)
    t = time.monotonic()
    for _ in range(16):
        client._pace()
    assert time.monotonic() - t >= 1.0 - 1e-3
    client.close()


def test_months_spanning_archives_take_the_fewest_archives():
    plan = dl.archives_for(dl.month_range(dt.date(2015, 1, 1), dt.date(2019, 6, 1)))
    assert [dl.month_label(a) for a, _ in plan] == ["2019-06", "2016-06"]
    assert sum(len(ms) for _, ms in plan) == 54


def test_ons_boundaries_page_through_exceeded_transfer_limit(services, tmp_path, ward_features):
    out = dl.download_boundaries("ward", 2019, tmp_path, base_url=services.base + "/ons", page_size=PAGE,
                                 client=_client())
    doc = json.loads(out.read_text())
    assert [f["properties"]["WD19CD"] for f in doc["features"]] == [f["properties"]["WD19CD"] for f in ward_features]
    offsets = [int(q["resultOffset"]) for _, q, _ in services.log if "resultOffset" in q]
    assert offsets == [0, 100, 200]
    assert all(q["f"] == "geojson" and q["outSR"] == "4326" for _, q, _ in services.log if "resultOffset" in q)
    assert services.log[0][0] == "/ons/Wards_December_2019_Boundaries_UK_BGC/FeatureServer/0/query"
    assert (tmp_path / "ward_2019.geojson.sha256").exists()
    import geopandas as gpd

    assert len(gpd.read_file(out)) == len(ward_features)


def test_ons_download_resumes_after_a_bad_page(services, tmp_path, ward_features):
    services.bad_page_at = 200
    with pytest.raises(InputError, match="not JSON"):
        dl.download_boundaries("ward", 2019, tmp_path, base_url=services.base + "/ons", page_size=PAGE,
                               client=_client())
    services.bad_page_at = None
    services.log.clear()
    services.fail_next = [503]
    out = dl.download_boundaries("ward", 2019, tmp_path, base_url=services.base + "/ons", page_size=PAGE,
                                 client=_client())
    offsets = [int(q["resultOffset"]) for _, q, _ in services.log if "resultOffset" in q]
    assert offsets == [200]  # pages 0 and 100 were kept from the first run
    assert len(json.loads(out.read_text())["features"]) == len(ward_features)


def test_ons_service_error_is_reported(services, tmp_path):
    services.no_count = True
    with pytest.raises(InputError, match="ONS service error"):
        dl.download_boundaries("ward", 2019, tmp_path, base_url=services.base + "/ons", client=_client())
    with pytest.raises(InputError, match="csp"):
        dl.download_boundaries("csp", 2019, tmp_path, base_url=services.base + "/ons")


def test_cli_download_police_through_env_url(services, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from api.cli import app

    monkeypatch.setenv("CRIMEMAP_POLICE_ARCHIVE_URL", services.base + "/archive")
    r = CliRunner().invoke(app, ["download", "police", "--force", "West Mercia Police", "--months",
                                 "2018-12..2019-01", "--dest", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "2019-01-west-mercia-street.csv").read_bytes() == _expected("2019-01")


# ---- police.uk API ---------------------------------------------------------------------------------------------

def _api(services, tmp_path, area, **kw):
    return dl.download_police_api(FORCE, SPAN, tmp_path, area, base_url=services.base + "/api", client=_client(),
                                  **kw)


def _api_log(services):
    return [(p, q) for p, q, _ in services.log if p.startswith("/api/")]


def test_api_gives_the_force_crimes_as_street_files_that_ingest_reads(services, tmp_path, wm_area):
    from data.readers import read_crime_file

    files = _api(services, tmp_path, wm_area)
    assert [f.name for f in files] == [f"{m}-{FORCE}-street.csv" for m in MONTHS]
    log = _api_log(services)
    polys = [q for p, q in log if p.endswith("all-crime")]
    assert any(len(q["poly"].split(":")) == 4 for q in polys)
    assert len(polys) > 4  # the whole box was over the cap, so it was split
    assert [q for p, q in log if p.endswith("no-location")] == [
        {"category": "all-crime", "force": FORCE, "date": m} for m in MONTHS]
    for f, m in zip(files, MONTHS, strict=True):
        got = pd.read_csv(f, dtype=str, keep_default_na=False)
        want = _expected_api_rows(m, wm_area)
        assert _multiset(got) == _multiset(want)  # every crime once, though boxes share edges
        assert set(got["Falls within"]) == {"West Mercia Police"} and set(got["Month"]) == {m}
        assert (tmp_path / f"{f.name}.sha256").read_text().split()[0] == hashlib.sha256(f.read_bytes()).hexdigest()
        read = read_crime_file(f.name, f.read_bytes())  # the normal ingest reader takes it with no rejects
        assert read.fmt == "street" and read.rejects.empty and len(read.offences) == len(want)
        assert set(read.offences["force"]) == {FORCE}
        # the archive file of the force: all its crimes inside the force area, and its unlocated ones, are there
        archive = _street_rows(FORCE, m)
        ids = set(got["Crime ID"])
        own = archive[archive["Crime ID"] != ""]
        assert own["Crime ID"].isin(ids).mean() > 0.99
    assert not (tmp_path / ".api").exists()  # the kept answers go once the months are written
    before = len(services.log)  # again: the checksums hold, nothing is asked
    _api(services, tmp_path, wm_area)
    assert len(services.log) == before


def test_api_categories_are_the_street_file_names():
    from geo.record import CRIME_TYPES

    assert {dl.API_CATEGORIES[slug] for slug in SLUGS.values()} == set(CRIME_TYPES)


def test_api_waits_as_retry_after_asks_and_does_not_split_a_busy_answer(services, tmp_path, wm_area):
    services.fail_next = [429, 503]  # both with Retry-After: 1
    t = time.monotonic()
    files = _api(services, tmp_path, wm_area)
    assert time.monotonic() - t >= 2.0
    log = _api_log(services)
    assert log[0] == log[1] == log[2]  # the same whole-area box, three times: no split on a 503 with Retry-After
    assert _multiset(pd.read_csv(files[1], dtype=str, keep_default_na=False)) == _multiset(
        _expected_api_rows("2019-01", wm_area))


def test_api_answer_broken_off_is_asked_again(services, tmp_path, wm_area):
    services.api_break_once = True  # the first answer that is not a 503 stops half-way
    files = _api(services, tmp_path, wm_area)
    log = _api_log(services)
    assert sum(a == b for a, b in zip(log, log[1:], strict=False)) == 1  # that box was asked for twice in a row
    assert not services.api_break_once
    assert _multiset(pd.read_csv(files[0], dtype=str, keep_default_na=False)) == _multiset(
        _expected_api_rows("2018-12", wm_area))


def test_an_interrupted_api_run_resumes_without_asking_again(services, tmp_path, wm_area):
    services.api_fail_after = 5
    with pytest.raises(InputError, match="HTTP 500") as e:
        _api(services, tmp_path, wm_area)
    assert "\n" not in str(e.value)
    first = _api_log(services)[:5]
    assert not list(tmp_path.glob("*.csv"))
    services.api_fail_after = None
    services.log.clear()
    files = _api(services, tmp_path, wm_area)
    again = _api_log(services)
    assert not [q for q in again if q in first]  # the five answered (or over-cap) boxes were kept
    assert _multiset(pd.read_csv(files[0], dtype=str, keep_default_na=False)) == _multiset(
        _expected_api_rows("2018-12", wm_area))


def test_a_corrupt_api_answer_is_asked_once_more_then_reported(services, tmp_path, wm_area):
    services.api_corrupt = 1
    files = _api(services, tmp_path, wm_area)
    assert len(files) == 2
    services.api_corrupt = 2
    with pytest.raises(InputError, match="not JSON") as e:
        _api(services, tmp_path / "again", wm_area)
    assert "\n" not in str(e.value) and not list((tmp_path / "again").glob("*.csv"))
    services.api_wrong_month = True
    with pytest.raises(InputError, match="month '2011-01'"):
        _api(services, tmp_path / "third", wm_area)


def test_api_unreachable_network_is_one_line(tmp_path, wm_area):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(InputError, match=f"cannot reach 127.0.0.1:{port}") as e:
        dl.download_police_api(FORCE, SPAN, tmp_path, wm_area, base_url=f"http://127.0.0.1:{port}/api",
                               client=_client())
    assert "\n" not in str(e.value)


def test_api_gives_up_when_splitting_does_not_help(services, tmp_path, wm_area):
    services.cap = 0  # every box with a crime is "over the cap"
    with pytest.raises(InputError, match="after 3 splits"):
        _api(services, tmp_path, wm_area, max_depth=3)


def test_force_area_needs_a_territorial_force(wm_area):
    from boundaries.layers import read_boundary_file

    pfa, _ = read_boundary_file(SHARED / "boundaries/pfa/pfa_dec2020_ew_buc.geojson", "pfa")
    with pytest.raises(InputError, match="btp has no force area"):
        dl.force_area(pfa, "btp")
    with pytest.raises(InputError, match="E23000016"):
        dl.force_area(pfa[pfa["code"] != "E23000016"], FORCE)
    assert wm_area.contains(shapely.Point(-2.22, 52.19))  # Worcester


def test_cli_download_police_from_the_api(services, tmp_path, monkeypatch, capsys):
    from api.cli import main

    monkeypatch.setenv("CRIMEMAP_POLICE_API_URL", services.base + "/api")
    monkeypatch.setenv("CRIMEMAP_QUIET", "1")
    args = ["download", "police", "--source", "api", "--force", "west-mercia", "--months", "2019-01",
            "--dest", str(tmp_path), "--boundary", str(SHARED / "boundaries/pfa/pfa_dec2020_ew_buc.geojson")]
    with pytest.raises(SystemExit) as e:
        main(args)
    err = capsys.readouterr().err
    assert e.value.code in (0, None), err
    assert "1 street files for west-mercia, 2019-01..2019-01 (police.uk api)" in err
    assert (tmp_path / "2019-01-west-mercia-street.csv.sha256").exists()
    for bad, message in ((["--source", "ftp"], "source 'ftp' is not archive or api"),
                         (["--source", "api", "--force", "btp", "--store", str(tmp_path / "s")], "btp has no force"),
                         (["--source", "api", "--store", str(tmp_path / "empty-store")], "--boundary PFA_FILE")):
        base = ["download", "police", "--force", "west-mercia", "--months", "2019-01", "--dest", str(tmp_path / "x")]
        opts = dict(zip(base[2::2], base[3::2], strict=True)) | dict(zip(bad[::2], bad[1::2], strict=True))
        with pytest.raises(SystemExit) as e:
            main(["download", "police", *[t for kv in opts.items() for t in kv]])
        err = capsys.readouterr().err.strip()
        assert e.value.code == 2 and message in err and len(err.splitlines()) == 1, err


def test_cli_api_takes_the_force_area_from_the_store_wards(services, tmp_path, monkeypatch, capsys, wm_store):
    from api.cli import main
    from data.aggregate import area_geometry

    monkeypatch.setenv("CRIMEMAP_POLICE_API_URL", services.base + "/api")
    monkeypatch.setenv("CRIMEMAP_QUIET", "1")
    with pytest.raises(SystemExit) as e:
        main(["download", "police", "--source", "api", "--force", FORCE, "--months", "2019-01", "--dest",
              str(tmp_path), "--store", wm_store.location])
    assert e.value.code in (0, None), capsys.readouterr().err
    pfa = area_geometry(wm_store, "pfa")  # the West Mercia wards, dissolved
    area = pfa[pfa["code"] == "E23000016"].geometry.union_all()
    got = pd.read_csv(tmp_path / "2019-01-west-mercia-street.csv", dtype=str, keep_default_na=False)
    assert _multiset(got) == _multiset(_expected_api_rows("2019-01", area))
