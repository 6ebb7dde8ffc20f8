"""Readers for police.uk offence files: the street CSV (current 12-column format), gzip, archive zip,
folders of either, and the 2011 format (British National Grid coordinates).

Every reader returns the canonical offence record (``geo.record.COLUMNS`` + ``geometry`` + ``h3_10``) plus
the rows it rejected, each with file, line and reason. File-level faults (not a crime file, wrong header,
truncated gzip, unreadable zip, undecodable bytes) raise :class:`geo.errors.InputError` before anything is
stored. Parsing and validation are vectorised with Arrow (pyarrow.csv, pyarrow.compute), from bytes to the Arrow
batch of :mod:`data.batch` with no Python object per row; only the sha256 of id-less rows and the messages of
rejected rows loop.
"""

from __future__ import annotations

import codecs
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
import pyarrow.csv as pacsv
import pyproj

from boundaries.forces import find_force
from data import batch
from data.store import H3_COLUMN
from geo.assign import distinct_xy
from geo.errors import InputError
from geo.hexgrid import cells_to_hex, xy_to_cells
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
    """What one file gave: canonical offences (a :mod:`data.batch` table with ``source_line``), rejected rows
    and the file's own counts."""

    source: str
    sha256: str
    fmt: str
    rows: int
    table: pa.Table
    rejects: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    @property
    def offences(self) -> gpd.GeoDataFrame:
        """The offences as a canonical GeoDataFrame (with ``source_line``)."""
        frame = batch.to_frame(self.table)
        return frame[COLUMNS + [H3_COLUMN, "source_line", "geometry"]]


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

_BOM = b"\xef\xbb\xbf"


def decode(name: str, raw: bytes) -> bytes:
    """The UTF-8 bytes of a (possibly gzip-compressed) CSV, without BOM; file-level faults as InputError."""
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as e:
            raise InputError(f"{name}: truncated or corrupt gzip ({e}); expected a complete .csv.gz file",
                             param="path") from None
    if not raw or (raw[:1].isspace() and not raw.strip()):  # strip() copies: only when it can matter
        raise InputError(f"{name}: file is empty; expected a police.uk crime CSV with the 12-column header "
                         f"(Crime ID, Month, …) or the 8-column 2011 header", param="path")
    if raw.startswith(_BOM):
        raw = raw[len(_BOM):]
    try:  # the head only, so a binary file is named as such; Arrow checks the UTF-8 of everything it reads
        codecs.getincrementaldecoder("utf-8")().decode(raw[:1 << 16], final=False)
    except UnicodeDecodeError as e:
        raise InputError(f"{name}: bytes at offset {e.start} are not UTF-8; expected a UTF-8 police.uk CSV",
                         param="path") from None
    return raw


def _text(name: str, data: bytes) -> str:
    """``data`` decoded as UTF-8; undecodable bytes are a file-level fault. (Arrow's CSV reader checks the UTF-8 of
    every string it reads, so this runs only for the header and for files Arrow could not read.)"""
    try:
        return data.decode("utf-8")
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
    data = decode(name, raw)
    end = data.find(b"\n")
    first = next(csv.reader(io.StringIO(_text(name, data[:end] if end >= 0 else data))), [])
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
    table, lines, rejects = _parse_rows(name, data, header)
    if len(table) == 0 and len(rejects) == 0:
        raise InputError(f"{name}: file has the {fmt} header but no rows; expected at least one offence row",
                         param="path")
    sha = hashlib.sha256(raw).hexdigest()
    offences, rej2 = (_street if fmt == "street" else _legacy)(name, table, lines)
    short = len(rejects)  # rows with the wrong number of fields, not in ``table``
    if len(rej2):
        rejects = (pd.concat([rejects, rej2], ignore_index=True) if short else rej2)
        rejects = rejects.sort_values("line", kind="stable").reset_index(drop=True)
    return ReadResult(name, sha, fmt, len(table) + short, offences, rejects)


def _parse_rows(name: str, data: bytes, header: list[str]) -> tuple[pa.RecordBatch, np.ndarray, pd.DataFrame]:
    """All data rows as string columns named by ``header``, their line numbers, and the rows with the wrong
    number of fields (rejected)."""
    ncols = len(header)
    try:
        t = pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=1, use_threads=False,
                                           block_size=max(1 << 20, min(len(data) + 1, 1 << 26))),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(header, pa.string()),
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
        return _one_batch(t, header), np.arange(2, len(t) + 2), pd.DataFrame(columns=REJECT_COLUMNS)
    except pa.ArrowInvalid:  # some row has the wrong number of fields: read row by row, reject those rows
        pass
    rows, lines, bad = [], [], []
    text = _text(name, data)
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))  # an enormous field is a row fault, not fatal
    # newline="": a carriage return ends a row, as it does for Arrow (csv would refuse one inside a field)
    reader = enumerate(csv.reader(io.StringIO(text, newline="")))
    try:
        for i, row in reader:
            if i == 0:
                continue
            if len(row) == ncols:
                rows.append(row)
                lines.append(i + 1)
            elif row:
                bad.append((name, i + 1, f"row has {len(row)} fields; expected {ncols}"))
    except csv.Error as e:
        raise InputError(f"{name}: unreadable CSV after row {len(rows) + len(bad) + 1} ({e}); expected a police.uk "
                         f"CSV", param="path") from None
    cols = list(zip(*rows, strict=True)) if rows else [()] * ncols
    t = pa.table({h: pa.array(list(c), pa.string()) for h, c in zip(header, cols, strict=True)})
    return _one_batch(t, header), np.asarray(lines, dtype=np.int64), pd.DataFrame(bad, columns=REJECT_COLUMNS)


def _one_batch(t: pa.Table, header: list[str]) -> pa.RecordBatch:
    """The table as one record batch (plain arrays, indexable by column name)."""
    return pa.RecordBatch.from_arrays([t.column(h).combine_chunks() for h in header], names=header)


def _trim(a) -> pa.Array:
    return pc.utf8_trim_whitespace(a)


def _blank_null(a: pa.Array) -> pa.Array:
    """Trimmed strings, null where blank."""
    v = _trim(a)
    return pc.if_else(pc.equal(v, ""), None, v)


def _common(name: str, d: pa.RecordBatch, lines: np.ndarray, lon: np.ndarray, lat: np.ndarray, has_xy: np.ndarray,
            bad_xy: np.ndarray, crime_type: pa.Array, id_col: pa.Array | None, lsoa: pa.Array | None,
            outcome: pa.Array | None) -> tuple[pa.Table, pd.DataFrame]:
    """Validate rows (month, force, crime type, coordinates), derive ids, H3 cells; return (batch, rejects)."""
    n = len(d)
    month = _trim(d["Month"])
    bad_month = ~pc.fill_null(pc.match_substring_regex(month, _MONTH.pattern), False).to_numpy(zero_copy_only=False)
    falls = _trim(d["Falls within"]).dictionary_encode()
    # one force-table look-up per distinct name, spread to the rows by position
    forces = [find_force(v) for v in falls.dictionary.to_pylist()]
    fidx = falls.indices.to_numpy(zero_copy_only=False)
    unknown_force = np.array([f is None for f in forces], dtype=bool)[fidx] if n else np.zeros(0, bool)
    unknown_type = pc.is_null(crime_type).to_numpy(zero_copy_only=False)
    fault = bad_month | unknown_force | unknown_type | bad_xy
    rejects = _reasons(name, d, lines, np.flatnonzero(fault), bad_month, unknown_force, unknown_type)

    if fault.any():  # keep the good rows of every column once; most files have none to drop
        ok = ~fault
        keep = pa.array(np.flatnonzero(ok))
        d = d.filter(pa.array(ok))
        month, fidx, lines, crime_type = month.filter(pa.array(ok)), fidx[ok], lines[ok], crime_type.take(keep)
        lon, lat, has_xy = lon[ok], lat[ok], has_xy[ok]
        id_col, lsoa, outcome = (c.take(keep) if c is not None else None for c in (id_col, lsoa, outcome))
    m = len(d)
    slug = pa.array([f.slug if f else None for f in forces], pa.string()).take(pa.array(fidx))
    pfa = pa.array([f.pfa_code if f else None for f in forces], pa.string()).take(pa.array(fidx))
    empty = pa.nulls(m, pa.string())
    return pa.table({
        "offence_id": _offence_ids(d, slug, month, id_col),
        "month": pc.strptime(pc.binary_join_element_wise(month, "01", "-"), "%Y-%m-%d", "us"),
        "force": slug,
        "pfa_code": pfa,
        "crime_type": crime_type,
        "crime_type_source": _trim(d["Crime type"]),
        "lsoa11": _blank_null(lsoa) if lsoa is not None else empty,
        "location": _trim(d["Location"]),
        "outcome": _blank_null(outcome) if outcome is not None else empty,
        H3_COLUMN: _h3_cells(lon, lat, has_xy),
        "lon": pa.array(lon, mask=~has_xy),
        "lat": pa.array(lat, mask=~has_xy),
        "source_line": pa.array(lines, pa.int64()),
    }), rejects


def _offence_ids(d: pa.RecordBatch, slug: pa.Array, month: pa.Array, id_col: pa.Array | None) -> pa.Array:
    """The Crime ID, else sha256(force, month, row content, k-th repeat of that content) as 64 hex digits."""
    given = _trim(id_col) if id_col is not None else pa.array([""] * len(d), pa.string())
    need = pc.equal(given, "").to_numpy(zero_copy_only=False)
    if not need.any():
        return given
    rows = pa.array(np.flatnonzero(need))
    content = pc.binary_join_element_wise(*[c.take(rows) for c in d.columns], "\x1f")
    # k: how many rows with the same content came before this one (0 for the first)
    codes = content.dictionary_encode().indices.to_numpy(zero_copy_only=False)
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    k = np.empty(len(codes), dtype=np.int64)
    k[order] = np.arange(len(codes)) - np.repeat(starts, np.diff(np.r_[starts, len(codes)]))
    keys = pc.binary_join_element_wise(slug.filter(pa.array(need)), month.filter(pa.array(need)), content,
                                       pa.array(k).cast(pa.string()), "\x1f").cast(pa.binary())
    sha = hashlib.sha256
    hashed = pa.array([sha(b).hexdigest() for b in keys.to_pylist()], pa.string())
    return pc.replace_with_mask(given, pa.array(need), hashed)


def _h3_cells(lon: np.ndarray, lat: np.ndarray, located: np.ndarray) -> pa.Array:
    """The resolution-10 H3 cell of each located point (null where unlocated); police.uk snaps offences to a fixed
    set of points, so h3 is called once per distinct point."""
    m = len(lon)
    if not located.any():
        return pa.nulls(m, pa.string())
    codes, first = distinct_xy(lon[located], lat[located])
    x, y = lon[located][first], lat[located][first]
    text = cells_to_hex(xy_to_cells(x, y, 10))
    cells = pa.Array.from_buffers(pa.string(), len(text), [None, pa.py_buffer(np.arange(len(text) + 1, dtype=np.int32)
                                                                             * 15), pa.py_buffer(text)])
    index = np.full(m, -1, dtype=np.int64)
    index[located] = codes
    return cells.take(pa.array(index, mask=~located))


def _reasons(name, d, lines, rows, bad_month, unknown_force, unknown_type) -> pd.DataFrame:
    """The reject rows (file, line, reason) for the faulty ``rows``: the first fault of each, in that order."""
    if not len(rows):
        return _NO_REJECTS
    take = pa.array(rows)
    month = _trim(d["Month"]).take(take).to_pylist()
    falls = _trim(d["Falls within"]).take(take).to_pylist()
    ctype = d["Crime type"].take(take).to_pylist()
    reasons = []
    for j, r in enumerate(rows):
        if bad_month[r]:
            reasons.append(f"month '{month[j][:20]}' is not YYYY-MM")
        elif unknown_force[r]:
            reasons.append(f"force '{falls[j][:40]}' is not in the force table")
        elif unknown_type[r]:
            reasons.append(f"crime type '{ctype[j][:40]}' is not a police.uk category")
        else:
            reasons.append("coordinates unparsable, half-missing or outside Britain")
    return pd.DataFrame({"file": name, "line": lines[rows], "reason": reasons}, columns=REJECT_COLUMNS)


_NO_REJECTS = pd.DataFrame(columns=REJECT_COLUMNS)  # never modified: rejects are concatenated, not appended to
_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"


def _coords(a: pa.Array, b: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Parsed coordinate pairs: (x, y, has a finite pair, is neither a pair nor blank)."""

    def number(s):
        try:  # blank is null; any other text must be a number (Arrow's float parsing), else the regex sorts it out
            return pc.cast(pc.if_else(pc.equal(s, ""), None, s), pa.float64()).to_numpy(zero_copy_only=False)
        except pa.ArrowInvalid:
            good = pc.match_substring_regex(s, _NUMBER)
            return pc.cast(pc.if_else(good, s, None), pa.float64()).to_numpy(zero_copy_only=False)

    sa, sb = _trim(a), _trim(b)
    x, y = number(sa), number(sb)
    empty = pc.and_(pc.equal(sa, ""), pc.equal(sb, "")).to_numpy(zero_copy_only=False)
    has = np.isfinite(x) & np.isfinite(y)
    return x, y, has, ~empty & ~has


def _street(name: str, d: pa.RecordBatch, lines: np.ndarray):
    lon, lat, has, bad = _coords(d["Longitude"], d["Latitude"])
    with np.errstate(invalid="ignore"):
        inside = (lon >= LON_RANGE[0]) & (lon <= LON_RANGE[1]) & (lat >= LAT_RANGE[0]) & (lat <= LAT_RANGE[1])
    outside = has & ~inside
    ct = _trim(d["Crime type"])
    crime_type = pc.if_else(pc.is_in(ct, value_set=pa.array(CRIME_TYPES)), ct, None)
    return _common(name, d, lines, lon, lat, has & ~outside, bad | outside, crime_type,
                   d["Crime ID"], d["LSOA code"], d["Last outcome category"])


_TO_WGS84 = pyproj.Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)
_LEGACY_MAP = pa.array(list(LEGACY_EXACT)), pa.array(list(LEGACY_EXACT.values()))


def _legacy(name: str, d: pa.RecordBatch, lines: np.ndarray):
    e, n, has, bad = _coords(d["Easting"], d["Northing"])
    with np.errstate(invalid="ignore"):
        inside = (e >= 0) & (e <= 700_000) & (n >= 0) & (n <= 1_300_000)
    outside = has & ~inside
    has = has & ~outside
    lon, lat = _TO_WGS84.transform(np.where(has, e, 0.0), np.where(has, n, 0.0))
    ct = _trim(d["Crime type"])
    # exact 2011 categories map to today's; inexact ones ("Violent crime", "Other crime") are kept with a null
    # crime_type (crime_type_source keeps the name); truly unknown names are rejected
    mapped = pc.take(_LEGACY_MAP[1], pc.index_in(ct, value_set=_LEGACY_MAP[0]))
    inexact = pc.is_in(ct, value_set=pa.array(sorted(LEGACY_INEXACT)))
    check = pc.if_else(inexact, "__legacy__", mapped)
    batch, rejects = _common(name, d, lines, np.asarray(lon), np.asarray(lat), has, bad | outside, check,
                             None, None, None)
    ctype = batch.column("crime_type")
    batch = batch.set_column(batch.schema.get_field_index("crime_type"), "crime_type",
                             pc.if_else(pc.equal(ctype, "__legacy__"), None, ctype))
    return batch, rejects
