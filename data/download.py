"""Download clients: police.uk street crimes (monthly archive or API) and ONS Open Geography boundaries (ArcGIS REST).

police.uk comes two ways. The monthly archive (the default) has each force's street files as published. The API
(``crimes-street/all-crime`` by area, ``crimes-no-location`` by force) answers at most 10,000 crimes a request and
HTTP 503 for an area with more, so the force area is asked for box by box, splitting a box in four until each answer
is under the cap; its JSON is written as street CSV files, so ingest reads and checks both alike.

All are resumable (a partial archive continues with an HTTP ``Range`` request; API answers and boundary pages already
fetched are kept in ``.api`` / ``.parts`` folders), write a ``.sha256`` file beside every file they produce (and skip
a file whose checksum still matches), wait as long as a 429/503 ``Retry-After`` asks, keep to a request rate
(police.uk publishes 15 requests a second, bursts of 30), and turn an unreachable network into one
:class:`geo.errors.InputError` line. Base URLs come from arguments, so tests point them at a local server; the CLI
reads them from the environment (``CRIMEMAP_POLICE_ARCHIVE_URL``, ``CRIMEMAP_POLICE_API_URL``, ``CRIMEMAP_ONS_URL``).

Progress is reported through an ``advance(n)`` callback, so this module stays free of terminal code.
"""

from __future__ import annotations

import csv
import email.utils
import hashlib
import io
import json
import time
import urllib.parse
import zipfile
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np

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

    def send(self, method: str, url: str, *, stream: bool = False, retry_status=_RETRY_STATUS,
             **kwargs) -> httpx.Response:
        """One request, retried on ``retry_status`` (429/502/503/504, after ``Retry-After``) and on dropped
        connections."""
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
            if response.status_code in retry_status and attempt < self.attempts - 1:
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


# ---- police.uk API -------------------------------------------------------------------------------

POLICE_API_URL = "https://data.police.uk/api"
#: Most crimes the police.uk API returns for one custom area; for more it answers 503 (without Retry-After).
API_CAP = 10_000
#: police.uk API category slugs → the "Crime type" of the street files. ``public-disorder-weapons`` is the 2011–13
#: category, which the street files of those months name this way (and which ingest rejects as not current).
API_CATEGORIES = {
    "anti-social-behaviour": "Anti-social behaviour",
    "bicycle-theft": "Bicycle theft",
    "burglary": "Burglary",
    "criminal-damage-arson": "Criminal damage and arson",
    "drugs": "Drugs",
    "other-crime": "Other crime",
    "other-theft": "Other theft",
    "possession-of-weapons": "Possession of weapons",
    "public-order": "Public order",
    "robbery": "Robbery",
    "shoplifting": "Shoplifting",
    "theft-from-the-person": "Theft from the person",
    "vehicle-crime": "Vehicle crime",
    "violent-crime": "Violence and sexual offences",
    "public-disorder-weapons": "Public disorder and weapons",
}
#: The street-file header (``data.readers.STREET_HEADER``), which the API rows are written under.
STREET_COLUMNS = ["Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location",
                  "LSOA code", "LSOA name", "Crime type", "Last outcome category", "Context"]
#: Deepest quadtree split of the force area's bounding box (2**-16 of it: a few metres) before giving up.
MAX_SPLIT_DEPTH = 16
# 503 is not retried blindly: without Retry-After it means "over the cap", and the area is split instead
_API_RETRY_STATUS = {429, 502, 504}


def api_crime_row(crime: dict, force_name: str) -> list[str]:
    """One crime of the police.uk API as a row of the 12 street-file columns.

    The API gives no LSOA (ingest places the point on a loaded LSOA layer, as it does for street-file rows without
    one); ``persistent_id`` is the street files' Crime ID (empty for anti-social behaviour, as there).

    Examples
    --------
    >>> api_crime_row({"category": "violent-crime", "location_type": "Force", "context": "", "month": "2019-01",
    ...                "location": {"latitude": "52.19", "longitude": "-2.22",
    ...                             "street": {"id": 1, "name": "On or near Foregate Street"}},
    ...                "outcome_status": {"category": "Under investigation", "date": "2019-01"},
    ...                "persistent_id": "ab12", "id": 7, "location_subtype": ""}, "West Mercia Police")
    ['ab12', '2019-01', 'West Mercia Police', 'West Mercia Police', '-2.22', '52.19', 'On or near Foregate Street', \
'', '', 'Violence and sexual offences', 'Under investigation', '']
    """
    loc = crime.get("location") or {}
    outcome = crime.get("outcome_status") or {}
    slug = crime["category"]
    return [crime.get("persistent_id") or "", crime["month"], force_name, force_name,
            str(loc.get("longitude") or ""), str(loc.get("latitude") or ""),
            ((loc.get("street") or {}).get("name") or "No Location") if loc else "No Location", "", "",
            API_CATEGORIES.get(slug, slug), outcome.get("category") or "", crime.get("context") or ""]


def crimes_to_street_csv(crimes: list[dict], force_name: str) -> bytes:
    """API crimes as a police.uk street CSV file (header and one row per crime, in API id order)."""
    sink = io.StringIO()
    w = csv.writer(sink, lineterminator="\n")
    w.writerow(STREET_COLUMNS)
    for crime in sorted(crimes, key=lambda c: c["id"]):
        w.writerow(api_crime_row(crime, force_name))
    return sink.getvalue().encode("utf-8")


def api_crimes_problem(doc, month: str) -> str | None:
    """What makes ``doc`` not an API answer of crimes for ``month`` (None when it is one).

    Examples
    --------
    >>> api_crimes_problem([{"category": "drugs", "month": "2019-01", "id": 1, "location": None}], "2019-01")
    >>> api_crimes_problem({"error": "x"}, "2019-01")
    'JSON that is not a list of crimes'
    """
    if not isinstance(doc, list):
        return "JSON that is not a list of crimes"
    for i, c in enumerate(doc):
        if not isinstance(c, dict) or not isinstance(c.get("category"), str) or not isinstance(c.get("id"), int):
            return f"crime {i} without a category and an integer id"
        if c.get("month") != month:
            return f"crime {i} of month {str(c.get('month'))[:10]!r} in an answer for {month}"
        loc = c.get("location")
        if loc is not None:
            try:
                x, y = float(loc["longitude"]), float(loc["latitude"])
            except (KeyError, TypeError, ValueError):
                return f"crime {i} with a location that has no longitude and latitude"
            if not (-180 <= x <= 180 and -90 <= y <= 90):
                return f"crime {i} at longitude {x}, latitude {y}"
    return None


def poly_param(bounds: tuple) -> str:
    """The API's ``poly`` (``lat,lng:lat,lng:…``) for a (minx, miny, maxx, maxy) box in lon/lat.

    Examples
    --------
    >>> poly_param((-2.5, 52.0, -2.0, 52.5))
    '52.000000,-2.500000:52.500000,-2.500000:52.500000,-2.000000:52.000000,-2.000000'
    """
    x0, y0, x1, y1 = bounds
    return ":".join(f"{y:.6f},{x:.6f}" for x, y in ((x0, y0), (x0, y1), (x1, y1), (x1, y0)))


def split_bounds(bounds: tuple) -> list[tuple]:
    """The four quadrants of a (minx, miny, maxx, maxy) box: south-west, south-east, north-west, north-east.

    Examples
    --------
    >>> split_bounds((0.0, 0.0, 2.0, 2.0))
    [(0.0, 0.0, 1.0, 1.0), (1.0, 0.0, 2.0, 1.0), (0.0, 1.0, 1.0, 2.0), (1.0, 1.0, 2.0, 2.0)]
    """
    x0, y0, x1, y1 = bounds
    xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
    return [(x0, y0, xm, ym), (xm, y0, x1, ym), (x0, ym, xm, y1), (xm, ym, x1, y1)]


def _api_crimes(client: PoliteClient, url: str, params: dict, what: str) -> list[dict] | None:
    """One API request: its list of crimes, or None when the area is over the cap (503 without Retry-After).

    A 503 with Retry-After is the service asking to wait; an answer that is not a list of crimes of the month is
    asked for once more, then reported.
    """
    host = _host(url)
    waits = corrupt = 0
    while True:
        response = client.send("GET", url, params=params, retry_status=_API_RETRY_STATUS)
        status = response.status_code
        if status == 503 and not response.headers.get("Retry-After"):
            return None
        if status == 503 and waits < client.attempts - 1:
            time.sleep(client.retry_after(response, waits))
            waits += 1
            continue
        if status == 404:
            raise InputError(f"police.uk API has no {what} (HTTP 404); check the force and that the month is "
                             "published", param="months")
        if status != 200:
            raise InputError(f"{host} answered HTTP {status} for {what}; try again later", param="url")
        try:
            doc = response.json()
            problem = api_crimes_problem(doc, params["date"])
        except (json.JSONDecodeError, UnicodeDecodeError):
            problem = "something that is not JSON"
        if problem is None:
            return doc
        if corrupt == 0:
            corrupt += 1
            continue
        raise InputError(f"{host} answered {what} with {problem}; run the same command again later to resume")


def _cached_crimes(path: Path, fetch: Callable[[], list[dict] | None]) -> list[dict] | None:
    """The answer kept at ``path`` by an earlier run (``.over`` beside it: over the cap), else fetch and keep it."""
    over = path.with_suffix(".over")
    if over.exists():
        return None
    if path.exists():
        try:
            return json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            path.unlink()  # a damaged cache file is fetched again
    got = fetch()
    if got is None:
        over.touch()
        return None
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(got))
    tmp.replace(path)
    return got


def api_month_crimes(client: PoliteClient, base_url: str, force: str, month: str, area, cache: Path, *,
                     max_depth: int = MAX_SPLIT_DEPTH, advance: Advance = _nothing) -> list[dict]:
    """Every crime of ``force`` for ``month`` from the API: located ones in ``area``, plus those with no location.

    The force area's bounding box is asked for with ``crimes-street/all-crime``; a box over the 10,000-crime cap
    (HTTP 503) is split in four, recursively, skipping quadrants that miss the area. Boxes overlap only on their
    edges, and a crime on an edge is kept once (by API id). The located crimes kept are those whose point lies in
    ``area`` (a shapely polygon in lon/lat) and whose ``location_type`` is not ``BTP``: the API answers by area, not
    by force. Crimes without a location come from ``crimes-no-location`` for the force. Each answer is kept in
    ``cache`` so an interrupted run resumes.
    """
    import shapely

    base = base_url.rstrip("/")
    cache.mkdir(parents=True, exist_ok=True)
    shapely.prepare(area)
    x0, y0, x1, y1 = area.bounds
    pad = 1e-5
    stack = [("q", (x0 - pad, y0 - pad, x1 + pad, y1 + pad))]
    located: dict[int, dict] = {}
    while stack:
        key, box = stack.pop()
        if not area.intersects(shapely.box(*box)):
            continue
        what = f"{force} {month} crimes in the box {poly_param(box)}"
        got = _cached_crimes(cache / f"{key}.json", lambda box=box, what=what: _api_crimes(
            client, f"{base}/crimes-street/all-crime", {"poly": poly_param(box), "date": month}, what))
        if got is None:
            if len(key) - 1 >= max_depth:  # the key is "q" and one digit per split
                raise InputError(f"police.uk API still answers 503 for {what} after {max_depth} splits: the service "
                                 "may be down; run the same command again later to resume", param="url")
            stack.extend(reversed([(key + str(i), q) for i, q in enumerate(split_bounds(box))]))
            continue
        advance(len(got), f"police.uk API {force} {month}")
        # a BTP location lies inside a force area, but the crime is British Transport Police's, not the force's
        located.update((c["id"], c) for c in got if c.get("location") and c.get("location_type") != "BTP")
    crimes = list(located.values())
    if crimes:
        x = np.array([float(c["location"]["longitude"]) for c in crimes])
        y = np.array([float(c["location"]["latitude"]) for c in crimes])
        inside = shapely.intersects_xy(area, x, y)
        crimes = [c for c, keep in zip(crimes, inside.tolist(), strict=True) if keep]
    unlocated = _cached_crimes(cache / "no-location.json", lambda: _api_crimes(
        client, f"{base}/crimes-no-location", {"category": "all-crime", "force": force, "date": month},
        f"{force} {month} crimes with no location"))
    if unlocated is None:
        raise InputError(f"police.uk API answered 503 for the {force} {month} crimes with no location; run the "
                         "same command again later to resume", param="url")
    advance(len(unlocated), f"police.uk API {force} {month}")
    seen = {c["id"] for c in crimes}
    return crimes + [c for c in unlocated if c["id"] not in seen and not c.get("location")]


def download_police_api(force: str, months: tuple, dest: Path, area, *, base_url: str = POLICE_API_URL,
                        client: PoliteClient | None = None, advance: Advance = _nothing,
                        max_depth: int = MAX_SPLIT_DEPTH) -> list[Path]:
    """Fetch one force's crimes for a range of months from the police.uk API, as street CSV files.

    Parameters
    ----------
    force : str
        police.uk force slug (``west-mercia``).
    months : tuple of datetime.date
        (first, last), both included.
    dest : Path
        Folder for the street files (``YYYY-MM-FORCE-street.csv``, each with a ``.sha256``, in the police.uk
        street-file columns, so ingest reads and checks them like the archive's); the API's answers are kept in
        ``dest/.api`` until a month is written, so an interrupted run resumes where it stopped.
    area : shapely geometry
        The force area (lon/lat), e.g. its PFA polygon: the API is asked by area, and located crimes outside it are
        left out.

    Returns
    -------
    list of Path
        The street files, oldest first.
    """
    found = api_force(force)
    if area is None or area.is_empty:
        raise InputError(f"no force area for {found.slug}: the API is asked by area", param="force")
    dest = Path(dest)
    own = client is None
    client = client or PoliteClient()
    out = []
    try:
        for m in month_range(*months):
            label = month_label(m)
            target = dest / f"{label}-{found.slug}-street.csv"
            if not checksum_holds(target):
                cache = dest / ".api" / found.slug / label
                crimes = api_month_crimes(client, base_url, found.slug, label, area, cache, max_depth=max_depth,
                                          advance=advance)
                tmp = target.with_name(target.name + ".part")
                tmp.write_bytes(crimes_to_street_csv(crimes, found.name))
                tmp.replace(target)
                write_checksum(target)
                for p in cache.iterdir():
                    p.unlink()
                for d in (cache, cache.parent, cache.parent.parent):  # .api/FORCE/MONTH, once nothing is left
                    if d.exists() and not any(d.iterdir()):
                        d.rmdir()
            out.append(target)
    finally:
        if own:
            client.close()
    return out


def api_force(force: str):
    """The force-table entry of ``force``, checked to have a force area (the API is asked by area).

    Raises InputError for a force not in the table and for one with no force area (British Transport Police).
    """
    from boundaries.forces import find_force

    found = find_force(force)
    if found is None:
        raise InputError(f"force {force[:40]!r} is not in the force table; expected a police.uk slug such as "
                         "west-mercia", param="force")
    if found.pfa_code is None:
        raise InputError(f"{found.slug} has no force area, and the police.uk API is asked by area; use the "
                         "archive (--source archive)", param="force")
    return found


def force_area(polygons, force: str):
    """The area of ``force`` from PFA polygons (``code, geometry`` in lon/lat), as one shapely geometry.

    Raises InputError when the force has no force area (British Transport Police) or the polygons lack its code.
    """
    found = api_force(force)
    if polygons.crs is not None and polygons.crs.to_epsg() != 4326:
        polygons = polygons.to_crs(4326)
    rows = polygons[polygons["code"] == found.pfa_code]
    if rows.empty:
        raise InputError(f"the force-area polygons have no {found.pfa_code} ({found.pfa_name}); expected PFA "
                         "boundaries that include it", param="boundary")
    return rows.geometry.union_all()


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
