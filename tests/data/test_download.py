"""Download clients against a local server that answers like police.uk's archive and ONS's ArcGIS REST API.

The server (a thread in this process, never a real host) serves monthly archive zips built from the real West
Mercia street files, with Range support, and the real West Mercia ward polygons as paginated GeoJSON; switches
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

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
            self._send(404, b"not found", "text/plain")

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


@pytest.fixture
def services(archive, ward_features):
    state = FakeServices(archive, ward_features)
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
