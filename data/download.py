"""Download clients: police.uk monthly archives and ONS Open Geography boundaries (ArcGIS REST, GeoJSON).

Both are resumable (a partial archive continues with an HTTP ``Range`` request; boundary pages already fetched
are kept in a ``.parts`` folder), write a ``.sha256`` file beside every file they produce (and skip a file whose
checksum still matches), wait as long as a 429/503 ``Retry-After`` asks, keep to a request rate (police.uk
publishes 15 requests a second), and turn an unreachable network into one :class:`geo.errors.InputError` line.
Base URLs come from arguments, so tests point them at a local server; the CLI reads them from the environment
(``CRIMEMAP_POLICE_ARCHIVE_URL``, ``CRIMEMAP_ONS_URL``).

Progress is reported through an ``advance(n)`` callback, so this module stays free of terminal code.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import time
import urllib.parse
import zipfile
from collections.abc import Callable
from pathlib import Path

import httpx

from geo.errors import InputError
from geo.record import month_label

POLICE_ARCHIVE_URL = "https://data.police.uk/data/archive"
ONS_URL = "https://services1.arcgis.com/ESMARspQHYMw9BZ9/arcgis/rest/services"
#: police.uk's published rate limit: 15 requests a second (bursts of 30).
POLICE_RATE = 15.0
#: Months each police.uk monthly archive holds (the archive of month M has M and the 35 before it).
ARCHIVE_SPAN = 36
#: ONS feature service names by level; ``{year}`` is filled in. Names vary between releases: pass ``service``.
ONS_SERVICES = {
    "parish": "Parishes_December_{year}_Boundaries_EW_BGC",
    "ward": "Wards_December_{year}_Boundaries_UK_BGC",
    "lsoa": "Lower_Layer_Super_Output_Areas_December_{year}_Boundaries_EW_BGC",
    "lad": "Local_Authority_Districts_December_{year}_Boundaries_UK_BGC",
    "pfa": "Police_Force_Areas_December_{year}_EW_BGC",
}
_RETRY_STATUS = {429, 502, 503, 504}

Advance = Callable[..., None]


def _nothing(n: int = 1, description: str | None = None) -> None:
    return None


# ---- HTTP with manners ---------------------------------------------------------------------------

class PoliteClient:
    """An httpx client that keeps to a request rate, honours ``Retry-After`` and reports outages in one line.

    Parameters
    ----------
    rate : float
        Requests per second at most.
    attempts : int
        Tries per request for 429/5xx answers and broken connections.
    max_wait : float
        Longest ``Retry-After`` it accepts (seconds); a longer one is an error that says how long.
    """

    def __init__(self, *, rate: float = POLICE_RATE, attempts: int = 6, max_wait: float = 300.0,
                 timeout: float = 60.0):
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.attempts = attempts
        self.max_wait = max_wait
        self._last = 0.0
        self._http = httpx.Client(timeout=timeout, follow_redirects=True,
                                  headers={"User-Agent": "crimemap (https://github.com/crimemap)"})

    def close(self) -> None:
        self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _pace(self) -> None:
        wait = self._last + self.interval - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last = time.monotonic()

    def retry_after(self, response: httpx.Response, attempt: int) -> float:
        """Seconds to wait before the next try: the server's ``Retry-After`` or a short back-off."""
        value = response.headers.get("Retry-After", "").strip()
        if value.isdigit():
            wait = float(value)
        elif value:
            when = email.utils.parsedate_to_datetime(value)
            wait = max(0.0, when.timestamp() - time.time()) if when else 1.0
        else:
            wait = min(2.0 ** attempt, 30.0)
        if wait > self.max_wait:
            raise InputError(f"{_host(str(response.request.url))} asks to wait {wait:.0f} s before retrying "
                             f"(HTTP {response.status_code}); try again later")
        return wait

    def send(self, method: str, url: str, *, stream: bool = False, **kwargs) -> httpx.Response:
        """One request, retried on 429/502/503/504 (after ``Retry-After``) and on dropped connections."""
        for attempt in range(self.attempts):
            self._pace()
            try:
                request = self._http.build_request(method, url, **kwargs)
                response = self._http.send(request, stream=stream)
            except httpx.ConnectError as e:
                raise InputError(f"cannot reach {_host(url)} ({_reason(e)}); check the network connection "
                                 "or the base URL", param="url") from None
            except (httpx.TimeoutException, httpx.RemoteProtocolError, httpx.ReadError) as e:
                if attempt == self.attempts - 1:
                    raise InputError(f"{_host(url)} stopped answering ({_reason(e)}) after {self.attempts} tries; "
                                     "run the same command again to resume", param="url") from None
                time.sleep(min(2.0 ** attempt, 10.0))
                continue
            if response.status_code in _RETRY_STATUS and attempt < self.attempts - 1:
                wait = self.retry_after(response, attempt)
                response.close()
                time.sleep(wait)
                continue
            return response
        return response


def _host(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return parts.netloc or url[:60]


def _reason(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return (text[-1] if text else type(e).__name__)[:120]


# ---- checksums -----------------------------------------------------------------------------------

def sha256_file(path: Path) -> str:
    """The sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_checksum(path: Path) -> str:
    """Write ``PATH.sha256`` (``sha256sum`` format) beside ``path``; return the digest."""
    digest = sha256_file(path)
    path.with_name(path.name + ".sha256").write_text(f"{digest}  {path.name}\n")
    return digest


def checksum_holds(path: Path) -> bool:
    """True when ``path`` exists and matches its ``.sha256`` file."""
    side = path.with_name(path.name + ".sha256")
    if not path.exists() or not side.exists():
        return False
    return side.read_text().split()[0] == sha256_file(path)


# ---- resumable file download ---------------------------------------------------------------------

def fetch_file(client: PoliteClient, url: str, dest: Path, *, advance: Advance = _nothing) -> Path:
    """Download ``url`` to ``dest``, resuming a ``dest.part`` left by an earlier, interrupted run.

    The file appears under its final name only when complete (length checked against the server's), with its
    checksum beside it; a file whose checksum already holds is not fetched again.
    """
    if checksum_holds(dest):
        return dest
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(client.attempts):
        have = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        response = client.send("GET", url, stream=True, headers=headers)
        try:
            if response.status_code == 416:  # nothing left to send: the part is complete
                total = have
            elif response.status_code == 404:
                raise InputError(f"{url} does not exist (HTTP 404)", param="url")
            elif response.status_code not in (200, 206):
                raise InputError(f"{_host(url)} answered HTTP {response.status_code} for {url}", param="url")
            else:
                if response.status_code == 200:
                    have = 0  # the server ignored the range: start again
                length = response.headers.get("Content-Length")
                total = have + int(length) if length and length.isdigit() else None
                try:
                    with open(part, "ab" if have else "wb") as f:
                        for block in response.iter_bytes(1 << 16):
                            f.write(block)
                            advance(len(block))
                except (httpx.RemoteProtocolError, httpx.ReadError, httpx.TimeoutException):
                    continue  # keep the part; resume with a Range request
        finally:
            response.close()
        size = part.stat().st_size if part.exists() else 0
        if total is not None and size < total:
            continue
        part.replace(dest)
        write_checksum(dest)
        return dest
    raise InputError(f"{_host(url)} kept breaking off the download of {url}; run the same command again to "
                     f"resume from {part}", param="url")


# ---- police.uk -----------------------------------------------------------------------------------

def month_range(first, last) -> list:
    """Every first-of-month from ``first`` to ``last`` inclusive."""
    out, y, m = [], first.year, first.month
    while (y, m) <= (last.year, last.month):
        out.append(first.replace(year=y, month=m, day=1))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def archives_for(months: list) -> list[tuple]:
    """Which monthly archives to fetch: (archive month, months it supplies), latest first.

    Examples
    --------
    >>> import datetime as dt
    >>> [(month_label(a), len(ms)) for a, ms in archives_for(month_range(dt.date(2019, 1, 1), dt.date(2019, 6, 1)))]
    [('2019-06', 6)]
    """
    left = sorted(months)
    plan = []
    while left:
        archive = left[-1]
        k = archive.year * 12 + archive.month
        covered = [m for m in left if k - ARCHIVE_SPAN < m.year * 12 + m.month <= k]
        plan.append((archive, covered))
        left = [m for m in left if m not in covered]
    return plan


def download_police(force: str, months: tuple, dest: Path, *, base_url: str = POLICE_ARCHIVE_URL,
                    client: PoliteClient | None = None, advance: Advance = _nothing) -> list[Path]:
    """Fetch the street files of one force for a range of months from the police.uk monthly archives.

    Parameters
    ----------
    force : str
        police.uk force slug (``west-mercia``).
    months : tuple of datetime.date
        (first, last), both included.
    dest : Path
        Folder for the street CSV files (``YYYY-MM-FORCE-street.csv``, each with a ``.sha256``); the archives
        are kept in ``dest/.archives`` until every month is extracted, so an interrupted run resumes.

    Returns
    -------
    list of Path
        The street files, oldest first.
    """
    dest = Path(dest)
    own = client is None
    client = client or PoliteClient()
    wanted = month_range(*months)
    out: dict = {}
    try:
        for archive, covered in archives_for(wanted):
            targets = {m: dest / f"{month_label(m)}-{force}-street.csv" for m in covered}
            if all(checksum_holds(p) for p in targets.values()):
                out.update(targets)
                continue
            url = f"{base_url.rstrip('/')}/{month_label(archive)}.zip"
            zpath = fetch_file(client, url, dest / ".archives" / f"{month_label(archive)}.zip", advance=advance)
            out.update(_extract(zpath, force, targets))
            zpath.unlink(missing_ok=True)
            zpath.with_name(zpath.name + ".sha256").unlink(missing_ok=True)
    finally:
        if own:
            client.close()
    return [out[m] for m in sorted(out)]


def _extract(zpath: Path, force: str, targets: dict) -> dict:
    try:
        with zipfile.ZipFile(zpath) as z:
            names = {Path(n).name: n for n in z.namelist()}
            missing = [month_label(m) for m, p in targets.items() if p.name not in names]
            if missing:
                raise InputError(f"police.uk archive {zpath.name} has no {force} street file for "
                                 f"{', '.join(missing)}; check the force slug and the months published")
            for p in targets.values():
                tmp = p.with_name(p.name + ".part")
                with z.open(names[p.name]) as src, open(tmp, "wb") as f:
                    for block in iter(lambda src=src: src.read(1 << 20), b""):
                        f.write(block)
                tmp.replace(p)
                write_checksum(p)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as e:
        zpath.unlink(missing_ok=True)
        zpath.with_name(zpath.name + ".sha256").unlink(missing_ok=True)
        raise InputError(f"the downloaded police.uk archive {zpath.name} is corrupt ({_reason(e)}); it was deleted, "
                         "run the same command again to fetch it afresh") from None
    return targets


# ---- ONS Open Geography ------------------------------------------------------------------------

def ons_query_url(base_url: str, service: str, layer: int = 0) -> str:
    """The ArcGIS REST query endpoint of an ONS feature service.

    Examples
    --------
    >>> ons_query_url("https://example.org/rest/services", "Wards_December_2019_Boundaries_UK_BGC")
    'https://example.org/rest/services/Wards_December_2019_Boundaries_UK_BGC/FeatureServer/0/query'
    """
    return f"{base_url.rstrip('/')}/{service}/FeatureServer/{layer}/query"


def _page_json(client: PoliteClient, url: str, params: dict, what: str) -> dict:
    for attempt in range(2):
        response = client.send("GET", url, params=params)
        if response.status_code != 200:
            raise InputError(f"{_host(url)} answered HTTP {response.status_code} for {what}", param="url")
        try:
            doc = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            if attempt == 0:
                continue
            raise InputError(f"{_host(url)} sent something that is not JSON for {what}; try again later") from None
        if "error" in doc:
            err = doc["error"]
            raise InputError(f"ONS service error for {what}: {err.get('code', '')} {err.get('message', '')}".strip())
        return doc
    raise AssertionError("unreachable")


def download_boundaries(level: str, year: int, dest: Path, *, base_url: str = ONS_URL, service: str | None = None,
                        page_size: int = 1000, client: PoliteClient | None = None,
                        advance: Advance = _nothing, total: Callable[[int], None] | None = None) -> Path:
    """Fetch one ONS boundary layer as GeoJSON (EPSG:4326), page by page.

    Pages are requested with ``resultOffset``/``resultRecordCount`` until the service stops saying
    ``exceededTransferLimit``; each page is kept in ``dest/.parts`` so an interrupted run resumes, and the
    feature count is checked against ``returnCountOnly`` when the service gives one.

    Returns
    -------
    Path
        ``dest/{level}_{year}.geojson`` (with its ``.sha256``).
    """
    if level not in ONS_SERVICES:
        raise InputError(f"level {level!r} has no ONS boundary download; expected one of {', '.join(ONS_SERVICES)}",
                         param="level")
    dest = Path(dest)
    name = service or ONS_SERVICES[level].format(year=year)
    out = dest / f"{level}_{year}.geojson"
    if checksum_holds(out):
        return out
    url = ons_query_url(base_url, name)
    parts = dest / ".parts" / f"{level}_{year}"
    parts.mkdir(parents=True, exist_ok=True)
    own = client is None
    client = client or PoliteClient()
    try:
        count = _page_json(client, url, {"where": "1=1", "returnCountOnly": "true", "f": "json"},
                           f"the feature count of {name}").get("count")
        if count is not None and total is not None:
            total(int(count))
        features, offset = [], 0
        while True:
            page_file = parts / f"{offset:09d}.json"
            if page_file.exists():
                doc = json.loads(page_file.read_text())
            else:
                params = {"where": "1=1", "outFields": "*", "outSR": "4326", "f": "geojson",
                          "resultOffset": str(offset), "resultRecordCount": str(page_size)}
                doc = _page_json(client, url, params, f"{name} features from {offset}")
                if doc.get("type") != "FeatureCollection" or not isinstance(doc.get("features"), list):
                    raise InputError(f"{_host(url)} answered {name} features from {offset} with JSON that is not "
                                     "a GeoJSON FeatureCollection")
                tmp = page_file.with_suffix(".tmp")
                tmp.write_text(json.dumps(doc))
                tmp.replace(page_file)
            got = doc["features"]
            features.extend(got)
            advance(len(got))
            offset += len(got)
            more = doc.get("exceededTransferLimit", (doc.get("properties") or {}).get("exceededTransferLimit", False))
            if not more or not got:
                break
        if count is not None and len(features) != int(count):
            for p in parts.glob("*.json"):
                p.unlink()
            raise InputError(f"{name}: received {len(features)} features; the service reports {count}. "
                             f"Run again to re-fetch")
        tmp = out.with_name(out.name + ".part")
        tmp.write_text(json.dumps({"type": "FeatureCollection", "name": name, "features": features}))
        tmp.replace(out)
        write_checksum(out)
    finally:
        if own:
            client.close()
    for p in parts.glob("*.json"):
        p.unlink()
    parts.rmdir()
    return out
