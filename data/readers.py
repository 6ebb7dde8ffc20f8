"""Readers for police.uk offence files: the street CSV (current 12-column format), gzip, archive zip,
folders of either, and the 2011 format (British National Grid coordinates).

Every reader returns the canonical offence record (``geo.record.COLUMNS`` + ``geometry`` + ``h3_10``) plus
the rows it rejected, each with file, line and reason. File-level faults (not a crime file, wrong header,
truncated gzip, unreadable zip, undecodable bytes) raise :class:`geo.errors.InputError` before anything is
stored. Parsing and validation are vectorised with pandas and Arrow; only the sha256 of id-less rows loops.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyproj
import shapely

from boundaries.forces import find_force
from geo.assign import distinct_xy
from geo.errors import InputError
from geo.hexgrid import points_to_h3
from geo.record import ASB, COLUMNS, CRIME_TYPES

STREET_HEADER = [
    "Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location",
    "LSOA code", "LSOA name", "Crime type", "Last outcome category", "Context",
]
LEGACY_HEADER = ["Month", "Reported by", "Falls within", "Easting", "Northing", "Location", "Crime type", "Context"]

#: 2011 categories that are exactly one of today's; "Violent crime" and "Other crime" were broader
#: than today's categories of those names, so they keep crime_type null (crime_type_source keeps the name).
LEGACY_EXACT = {"Anti-social behaviour": ASB, "Burglary": "Burglary", "Robbery": "Robbery",
                "Vehicle crime": "Vehicle crime"}
LEGACY_INEXACT = {"Violent crime", "Other crime"}

#: Great Britain and Northern Ireland, generously (lon, lat)
LON_RANGE = (-8.8, 2.0)
LAT_RANGE = (49.8, 61.0)
_ARCHIVE_MEMBER = re.compile(r"(?:^|/)(\d{4}-\d{2})-([a-z0-9-]+?)-street\.csv$")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

REJECT_COLUMNS = ["file", "line", "reason"]


@dataclass
class ReadResult:
    """What one file gave: canonical offences, rejected rows and the file's own counts."""

    source: str
    sha256: str
    fmt: str
    rows: int
    offences: gpd.GeoDataFrame
    rejects: pd.DataFrame
    notes: list[str] = field(default_factory=list)


@dataclass
class Source:
    """One crime file to read: a display name and a way to get its bytes."""

    name: str
    load: object  # () -> bytes

    def read_bytes(self) -> bytes:
        return self.load()


# ---- finding files -------------------------------------------------------------------------------

def expand_paths(paths: list[str | Path]) -> tuple[list[Source], list[str]]:
    """Turn files, zips and folders into crime-file sources; return (sources, ignored descriptions).

    A police.uk archive zip holds ``YYYY-MM/YYYY-MM-<force>-street.csv`` members; other members
    (outcomes, stop-and-search) are ignored and reported.
    """
    sources: list[Source] = []
    ignored: list[str] = []
    for p in map(Path, paths):
        if not p.exists():
            raise InputError(f"{p}: no such file or folder; expected a police.uk CSV, .csv.gz, archive zip or folder",
                             param="path")
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.is_file() and _is_candidate(q.name))
            if not found:
                raise InputError(f"{p}: folder holds no .csv, .csv.gz or .zip files; expected police.uk crime files",
                                 param="path")
            for q in found:
                s, ig = expand_paths([q])
                sources += s
                ignored += ig
        elif p.suffix.lower() == ".zip" or _is_zip(p):
            s, ig = _zip_sources(p)
            sources += s
            ignored += ig
        else:
            sources.append(Source(str(p), (lambda q=p: q.read_bytes())))
    return sources, ignored


def _is_candidate(name: str) -> bool:
    n = name.lower()
    return n.endswith((".csv", ".csv.gz", ".zip"))


def _is_zip(p: Path) -> bool:
    try:
        with p.open("rb") as f:
            return f.read(4) == b"PK\x03\x04"
    except OSError:
        return False


def _zip_sources(p: Path) -> tuple[list[Source], list[str]]:
    try:
        z = zipfile.ZipFile(p)
        names = z.namelist()
        bad = z.testzip()
    except (zipfile.BadZipFile, OSError, zlib.error, EOFError) as e:
        raise InputError(f"{p}: unreadable zip ({e}); expected a police.uk archive zip", param="path") from None
    if bad is not None:
        raise InputError(f"{p}: zip member {bad} is corrupt; expected a readable police.uk archive", param="path")
    sources, ignored = [], []
    for n in names:
        if n.endswith("/"):
            continue
        if _ARCHIVE_MEMBER.search(n):
            sources.append(Source(f"{p}!{n}", (lambda n=n: zipfile.ZipFile(p).read(n))))
        else:
            ignored.append(f"{p}!{n}")
    if not sources:
        raise InputError(f"{p}: zip holds no YYYY-MM/YYYY-MM-<force>-street.csv member; expected a police.uk archive",
                         param="path")
    return sources, ignored


# ---- reading one file ----------------------------------------------------------------------------

def decode(name: str, raw: bytes) -> str:
    """Bytes of a (possibly gzip-compressed) CSV to text, with file-level faults as InputError."""
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as e:
            raise InputError(f"{name}: truncated or corrupt gzip ({e}); expected a complete .csv.gz file",
                             param="path") from None
    if not raw.strip():
        raise InputError(f"{name}: file is empty; expected a police.uk crime CSV with the 12-column header "
                         f"(Crime ID, Month, …) or the 8-column 2011 header", param="path")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"{name}: bytes at offset {e.start} are not UTF-8; expected a UTF-8 police.uk CSV",
                         param="path") from None


def read_crime_file(name: str, raw: bytes) -> ReadResult:
    """Read one police.uk crime file (street or 2011 format) from its bytes.

    Examples
    --------
    >>> text = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
    ...         "Crime type,Last outcome category,Context\\n"
    ...         "abc,2019-01,West Mercia Police,West Mercia Police,-2.45,52.68,On or near X,E01,n,Drugs,,\\n"
    ...         ",2019-01,West Mercia Police,West Mercia Police,,,No location,,,Anti-social behaviour,,\\n"
    ...         "def,2019-13,West Mercia Police,West Mercia Police,-2.45,52.68,On or near X,E01,n,Drugs,,\\n")
    >>> r = read_crime_file("x.csv", text.encode())
    >>> r.rows, len(r.offences), int(r.offences.geometry.isna().sum()), r.rejects["reason"].tolist()
    (3, 2, 1, ["month '2019-13' is not YYYY-MM"])
    """
    text = decode(name, raw)
    first = next(csv.reader(io.StringIO(text.split("\n", 1)[0])))
    header = [h.strip() for h in first]
    if header == STREET_HEADER:
        fmt = "street"
    elif header == LEGACY_HEADER:
        fmt = "legacy-2011"
    else:
        raise InputError(
            f"{name}: crime file has {len(header)} columns ({', '.join(header[:4])[:80]}…); expected the 12-column "
            f"police.uk header (Crime ID, Month, …) or the 8-column 2011 header (Month, Reported by, …, Easting, …)",
            param="path",
        )
    frame, rejects = _parse_rows(name, text, len(header))
    if len(frame) == 0 and len(rejects) == 0:
        raise InputError(f"{name}: file has the {fmt} header but no rows; expected at least one offence row",
                         param="path")
    frame.columns = header
    sha = hashlib.sha256(raw).hexdigest()
    offences, rej2 = (_street if fmt == "street" else _legacy)(name, frame)
    rejects = pd.concat([rejects, rej2], ignore_index=True).sort_values("line", kind="stable").reset_index(drop=True)
    return ReadResult(name, sha, fmt, len(frame) + len(rejects[rejects["reason"].str.startswith("row has")]),
                      offences, rejects)


def _parse_rows(name: str, text: str, ncols: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All data rows as str columns with a ``_line`` number; rows with the wrong field count are rejected."""
    try:
        d = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, header=None, skiprows=1,
                        names=range(ncols), engine="c")
        lines = np.arange(2, len(d) + 2)
        bad = pd.DataFrame(columns=REJECT_COLUMNS)
        # pandas fills short rows with "": a row with too few fields has no way to be told apart from
        # trailing empty fields, which police.uk writes as commas, so short rows are read as they are.
    except pd.errors.ParserError:
        rows, lines_l, bad_rows = [], [], []
        for i, row in enumerate(csv.reader(io.StringIO(text))):
            if i == 0:
                continue
            if len(row) == ncols:
                rows.append(row)
                lines_l.append(i + 1)
            elif row:
                bad_rows.append((name, i + 1, f"row has {len(row)} fields; expected {ncols}"))
        d = pd.DataFrame(rows, columns=range(ncols), dtype=str)
        lines = np.asarray(lines_l, dtype=int)
        bad = pd.DataFrame(bad_rows, columns=REJECT_COLUMNS)
    d.index = lines
    return d, bad


def _common(name: str, d: pd.DataFrame, lon: np.ndarray, lat: np.ndarray, has_xy: np.ndarray, bad_xy: np.ndarray,
            crime_type: pd.Series, id_col: pd.Series | None, lsoa: pd.Series, outcome: pd.Series):
    reasons = pd.Series("", index=d.index, dtype=object)

    month = d["Month"].str.strip()
    bad_month = ~month.str.match(_MONTH)
    if bad_month.any():  # (each reason is written only where some row has it)
        reasons[bad_month] = "month '" + month[bad_month].str.slice(0, 20) + "' is not YYYY-MM"

    falls = d["Falls within"].str.strip()
    # one force-table look-up per distinct name, spread to the rows by position
    fcode, fnames = pd.factorize(falls, use_na_sentinel=False)
    forces = [find_force(v) for v in fnames]
    force_slug = pd.Series(np.array([f.slug if f else None for f in forces], dtype=object)[fcode], index=d.index)
    pfa = pd.Series(np.array([f.pfa_code if f else None for f in forces], dtype=object)[fcode], index=d.index)
    unknown_force = force_slug.isna() & (reasons == "")
    if unknown_force.any():
        reasons[unknown_force] = "force '" + falls[unknown_force].str.slice(0, 40) + "' is not in the force table"

    unknown_type = crime_type.isna() & (reasons == "")
    if unknown_type.any():
        reasons[unknown_type] = ("crime type '" + d["Crime type"][unknown_type].str.slice(0, 40)
                                 + "' is not a police.uk category")
    if bad_xy.any():
        reasons[bad_xy & (reasons == "")] = "coordinates unparsable, half-missing or outside Britain"

    ok = (reasons == "").to_numpy()
    rejects = pd.DataFrame({"file": name, "line": d.index[~ok], "reason": reasons[~ok].to_numpy()})

    if id_col is not None:
        given = id_col[ok].str.strip()
        need = (given == "").to_numpy()
    else:
        given = None
        need = np.ones(int(ok.sum()), dtype=bool)
    sub = d[ok][need]
    content = _join_columns(sub, "\x1f")
    k = content.groupby(content).cumcount().astype(str)
    keys = (force_slug[ok][need] + "\x1f" + month[ok][need] + "\x1f" + content + "\x1f" + k).tolist()
    hashed = [hashlib.sha256(s.encode()).hexdigest() for s in keys]
    offence_id = (given.to_numpy(dtype=object) if given is not None else np.empty(int(ok.sum()), dtype=object))
    offence_id[need] = hashed
    offence_id = pd.Series(offence_id, index=d.index[ok])

    located = has_xy[ok]
    geometry = np.full(len(located), None, dtype=object)
    x, y = lon[ok][located], lat[ok][located]
    # police.uk snaps offences to a fixed set of points: one (immutable) Point and one H3 cell per distinct point
    codes, first = distinct_xy(x, y)
    geometry[located] = shapely.points(x[first], y[first])[codes]
    h3 = np.full(len(located), None, dtype=object)
    h3[located] = points_to_h3(x[first], y[first], 10)[codes]
    frame = pd.DataFrame({
        "offence_id": offence_id.to_numpy(dtype=object),
        "month": pd.to_datetime(month[ok] + "-01", format="%Y-%m-%d").to_numpy(),
        "force": force_slug[ok].to_numpy(dtype=object),
        "pfa_code": pfa[ok].to_numpy(dtype=object),
        "crime_type": crime_type[ok].to_numpy(dtype=object),
        "crime_type_source": d["Crime type"][ok].str.strip().to_numpy(dtype=object),
        "lsoa11": _blank_none(lsoa[ok]),
        "location": d["Location"][ok].str.strip().to_numpy(dtype=object),
        "outcome": _blank_none(outcome[ok]),
        "h3_10": h3,
    })
    frame["source_line"] = d.index[ok].to_numpy()
    out = gpd.GeoDataFrame(frame, geometry=geometry, crs="EPSG:4326")
    return out[COLUMNS + ["h3_10", "source_line", "geometry"]], rejects


def _join_columns(frame: pd.DataFrame, sep: str) -> pd.Series:
    """Each row's fields joined by ``sep`` (as ``str.cat`` column by column, in one Arrow kernel).

    Examples
    --------
    >>> _join_columns(pd.DataFrame({0: ["a", ""], 1: ["b", "c"]}, dtype=str), "|").tolist()
    ['a|b', '|c']
    """
    arrays = [pa.array(frame[c].astype(str).array).cast(pa.large_string()) for c in frame.columns]
    joined = pc.binary_join_element_wise(*arrays, pa.scalar(sep, pa.large_string()))
    return pd.Series(pd.array(joined, dtype=frame[frame.columns[0]].astype(str).dtype), index=frame.index)


def _blank_none(s: pd.Series) -> np.ndarray:
    v = s.str.strip()
    return v.where(v != "", None).to_numpy(dtype=object)


def _coords(a: pd.Series, b: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    sa, sb = a.str.strip(), b.str.strip()
    x = pd.to_numeric(sa, errors="coerce").to_numpy(float)
    y = pd.to_numeric(sb, errors="coerce").to_numpy(float)
    empty = ((sa == "") & (sb == "")).to_numpy()
    has = np.isfinite(x) & np.isfinite(y)
    bad = ~empty & ~has
    return x, y, has, bad


def _street(name: str, d: pd.DataFrame):
    lon, lat, has, bad = _coords(d["Longitude"], d["Latitude"])
    outside = has & ~((lon >= LON_RANGE[0]) & (lon <= LON_RANGE[1]) & (lat >= LAT_RANGE[0]) & (lat <= LAT_RANGE[1]))
    bad = bad | outside
    has = has & ~outside
    ct = d["Crime type"].str.strip()
    crime_type = ct.where(ct.isin(CRIME_TYPES), None)
    return _common(name, d, lon, lat, has, bad, crime_type, d["Crime ID"], d["LSOA code"], d["Last outcome category"])


_TO_WGS84 = pyproj.Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)


def _legacy(name: str, d: pd.DataFrame):
    e, n, has, bad = _coords(d["Easting"], d["Northing"])
    outside = has & ~((e >= 0) & (e <= 700_000) & (n >= 0) & (n <= 1_300_000))
    bad = bad | outside
    has = has & ~outside
    lon, lat = _TO_WGS84.transform(np.where(has, e, 0.0), np.where(has, n, 0.0))
    ct = d["Crime type"].str.strip()
    mapped = ct.map(LEGACY_EXACT)
    known = ct.isin(list(LEGACY_EXACT) + sorted(LEGACY_INEXACT))
    # inexact 2011 categories keep crime_type null; truly unknown names are rejected
    crime_type = mapped.where(known, None)
    crime_type = crime_type.where(~ct.isin(LEGACY_INEXACT), "__legacy__")
    empty = pd.Series("", index=d.index, dtype=object)
    offences, rejects = _common(name, d, np.asarray(lon), np.asarray(lat), has, bad, crime_type, None, empty, empty)
    offences["crime_type"] = offences["crime_type"].where(offences["crime_type"] != "__legacy__", None)
    return offences, rejects
