"""County-lines records in: read lines / destinations / links / stations (CSV, each recognised by its header, or
one JSON with those four lists), validate every row, report the bad ones, store the rest.

Row-level faults are rejected into the reject file (``file, row, field, value, reason``; ``row`` is the line
number in a CSV, header = 1, or the 1-based position in a JSON list) and listed on stderr by the CLI: a force
that is not in the force table (or has no force area), an unknown or wrong-level area code, an unknown station,
an unreadable or out-of-order date, a duplicate id, a destination / link / station for a line that is not there
(or was rejected), coordinates outside Great Britain, a negative address count, a missing required value.
File-level faults (unreadable file, unrecognised header, JSON without any of the four lists) raise
:class:`InputError` and change nothing; so does a load in which no row at all is usable.

Loading replaces: a load that has lines replaces all four tables (kinds not given become empty, so nothing can
dangle); a load without lines replaces only the kinds it has, checked against the lines already stored.

Stored tables: ``countylines_lines``, ``countylines_destinations``, ``countylines_links``,
``countylines_stations``; the metadata of each says ``synthetic`` (true when any record is), the files, the
row and reject counts and when it was loaded.

Fallback geometries ship with the package: ``boundaries/lookups/pfa_centroids.csv`` (centroids of ONS Police
Force Areas December 2020 BUC) and ``boundaries/lookups/lad_centroids.csv`` (ONS Local Authority Districts
December 2022 UK BUC), both computed in EPSG:27700 and given in EPSG:4326. Source: Office for National
Statistics licensed under the Open Government Licence v3.0; contains OS data © Crown copyright and database
right.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from boundaries.forces import find_force
from boundaries.lookups import area_names, code_level, lad_to_csp_pfa, rail_stations, ward_to_lad
from data.aggregate import area_counts, study_area
from data.store import Store
from geo.countylines import build_graph, colocation, lines_per_destination
from geo.errors import InputError, NotFoundError
from geo.gistar import counts_on_study_area, gistar, gistar_frame
from geo.weights import queen_weights

KINDS = ("lines", "destinations", "links", "stations")
TABLES = {k: f"countylines_{k}" for k in KINDS}
REJECT_COLUMNS = ["file", "row", "field", "value", "reason"]
#: the header each file kind is recognised by (the required columns, in the documented order)
HEADERS = {
    "lines": ["line_id", "name", "origin_force", "origin_area", "first_seen", "last_seen", "status"],
    "destinations": ["line_id", "area_code", "cuckooed_addresses", "first_seen", "last_seen"],
    "links": ["line_id", "offence_id"],
    "stations": ["line_id", "crs_code"],
}
COLUMNS = {
    "lines": ["line_id", "name", "origin_force", "origin_force_name", "origin_area", "origin_area_name",
              "first_seen", "last_seen", "status", "synthetic"],
    "destinations": ["line_id", "area_code", "area_name", "level", "lon", "lat", "cuckooed_addresses",
                     "first_seen", "last_seen", "synthetic"],
    "links": ["line_id", "offence_id", "synthetic"],
    "stations": ["line_id", "crs_code", "name", "lon", "lat", "synthetic"],
}
_DATE_COLUMNS = ("first_seen", "last_seen")
#: levels a destination area code may have, and an origin area code
DESTINATION_LEVELS = ("ward", "lad", "csp")
ORIGIN_LEVELS = ("lsoa", "ward", "lad", "csp", "pfa")
#: Great Britain, generously (lon, lat)
_GB = (-8.7, 49.8, 1.8, 60.9)


# ---- row models ---------------------------------------------------------------------------------------------
def _parse_date(v):
    if v is None or isinstance(v, dt.date):
        return v
    s = str(v).strip()
    for fmt in ("%Y-%m-%d", "%Y-%m", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(s, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"bad date: {s!r} is not a date; expected YYYY-MM-DD (or YYYY-MM)")


class _Record(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="ignore")

    line_id: str
    synthetic: bool = False

    @model_validator(mode="before")
    @classmethod
    def _blanks_to_none(cls, data):
        if isinstance(data, dict):
            return {k: (None if isinstance(v, str) and not v.strip() else v) for k, v in data.items()}
        return data

    @field_validator("synthetic", mode="before")
    @classmethod
    def _synthetic(cls, v):
        if v is None:
            return False
        if isinstance(v, str):
            return v.strip().lower() in ("true", "1", "yes", "y")
        return bool(v)


class _Dated(_Record):
    first_seen: dt.date | None = None
    last_seen: dt.date | None = None

    @field_validator("first_seen", "last_seen", mode="before")
    @classmethod
    def _date(cls, v):
        return _parse_date(v)

    @model_validator(mode="after")
    def _order(self):
        if self.first_seen and self.last_seen and self.first_seen > self.last_seen:
            raise ValueError(f"dates out of order: first_seen {self.first_seen} is after last_seen {self.last_seen}")
        return self


class LineRecord(_Dated):
    """One row of lines.csv."""

    name: str | None = None
    origin_force: str
    origin_area: str | None = None
    status: str | None = None

    @field_validator("origin_force")
    @classmethod
    def _force(cls, v):
        f = find_force(v)
        if f is None:
            raise ValueError(f"unknown force: {v!r} is not in the force table; expected a PFA code (E23…/W15…) "
                             "or a police.uk force name")
        if f.pfa_code is None:
            raise ValueError(f"unknown force area: {f.name} has no police force area code; expected a territorial "
                             "force")
        return f.pfa_code

    @field_validator("origin_area")
    @classmethod
    def _origin_area(cls, v):
        return _check_area(v, ORIGIN_LEVELS) if v is not None else None


class DestinationRecord(_Dated):
    """One row of destinations.csv: an area code (ward, LAD or CSP) or lon/lat."""

    area_code: str | None = None
    lon: float | None = None
    lat: float | None = None
    cuckooed_addresses: int | None = None

    @field_validator("area_code")
    @classmethod
    def _area(cls, v):
        return _check_area(v, DESTINATION_LEVELS) if v is not None else None

    @field_validator("cuckooed_addresses")
    @classmethod
    def _addresses(cls, v):
        if v is not None and v < 0:
            raise ValueError(f"negative count: {v} cuckooed addresses; expected 0 or more")
        return v

    @model_validator(mode="after")
    def _where(self):
        if self.area_code is None and (self.lon is None or self.lat is None):
            raise ValueError("missing destination: no area_code and no lon/lat; expected one of them")
        if self.area_code is None:
            x0, y0, x1, y1 = _GB
            if not (x0 <= self.lon <= x1 and y0 <= self.lat <= y1):
                raise ValueError(f"outside Great Britain: lon {self.lon}, lat {self.lat}; expected WGS84 "
                                 "coordinates in Great Britain")
        return self


class LinkRecord(_Record):
    """One row of links.csv: a line and a police.uk offence (Crime ID) linked to it."""

    offence_id: str


class StationRecord(_Record):
    """One row of stations.csv: a line and a National Rail station (CRS code) it uses."""

    crs_code: str

    @field_validator("crs_code")
    @classmethod
    def _crs(cls, v):
        code = v.strip().upper()
        if code not in _stations().index:
            raise ValueError(f"unknown station: {v!r} is not a National Rail CRS code; expected e.g. 'SHR'")
        return code


MODELS = {"lines": LineRecord, "destinations": DestinationRecord, "links": LinkRecord, "stations": StationRecord}


def _check_area(v: str, levels: tuple[str, ...]) -> str:
    code = v.strip().upper()
    level = code_level(code)
    if level not in levels:
        raise ValueError(f"wrong area level: {v!r} is {'a ' + level + ' code' if level else 'not a GSS code'}; "
                         f"expected a {', '.join(levels)} code")
    if code not in area_names():
        raise ValueError(f"unknown area code: {v!r} is not in the shipped ONS lookups")
    return code


@functools.lru_cache(maxsize=1)
def _stations() -> pd.DataFrame:
    s = rail_stations().drop_duplicates("crs_code").set_index("crs_code")
    return pd.DataFrame({"name": s["name"], "lon": s.geometry.x, "lat": s.geometry.y})


# ---- reading ----------------------------------------------------------------------------------------------
@dataclass
class _Raw:
    kind: str
    file: str
    rows: list[tuple[int, dict]]


@dataclass
class CountyLines:
    """Validated county-lines records: one frame per kind (columns as :data:`COLUMNS`) and the rejects."""

    lines: pd.DataFrame
    destinations: pd.DataFrame
    links: pd.DataFrame
    stations: pd.DataFrame
    rejects: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=REJECT_COLUMNS))
    kinds: tuple[str, ...] = KINDS
    rows_read: int = 0
    reject_file: str | None = None

    @property
    def synthetic(self) -> bool:
        """True when any record is synthetic."""
        return any(bool(getattr(self, k)["synthetic"].astype(bool).any()) for k in KINDS if len(getattr(self, k)))

    @property
    def stored(self) -> int:
        """Valid records across the four kinds."""
        return sum(len(getattr(self, k)) for k in KINDS)


def file_kind(columns: list[str], file: str = "file") -> str:
    """Which county-lines file a header belongs to (``lines``, ``destinations``, ``links``, ``stations``).

    Examples
    --------
    >>> file_kind(["line_id", "crs_code"])
    'stations'
    >>> file_kind(["line_id", "lon", "lat", "first_seen"])
    'destinations'
    """
    cols = {c.strip().lower() for c in columns}
    if {"line_id", "origin_force"} <= cols:
        return "lines"
    if "line_id" in cols and ("area_code" in cols or {"lon", "lat"} <= cols):
        return "destinations"
    if {"line_id", "offence_id"} <= cols:
        return "links"
    if {"line_id", "crs_code"} <= cols:
        return "stations"
    expected = "; ".join(f"{k}.csv ({', '.join(h)})" for k, h in HEADERS.items())
    raise InputError(f"{file} has columns {sorted(cols)}; expected the header of one of {expected}", param="file")


def _read_file(path: Path) -> list[_Raw]:
    name = path.name
    if not path.exists():
        raise InputError(f"{path} does not exist; expected a county-lines CSV or JSON file", param="file")
    if path.suffix.lower() == ".json":
        try:
            doc = json.loads(path.read_text(encoding="utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise InputError(f"{name} is not readable JSON ({e.__class__.__name__}); expected an object with "
                             "lists 'lines', 'destinations', 'links', 'stations'", param="file") from None
        if not isinstance(doc, dict) or not any(isinstance(doc.get(k), list) for k in KINDS):
            raise InputError(f"{name} has no list 'lines', 'destinations', 'links' or 'stations'; expected an "
                             "object with at least one of them", param="file")
        synthetic = bool(doc.get("synthetic", False))
        out = []
        for k in KINDS:
            items = doc.get(k)
            if isinstance(items, list):
                rows = [(i + 1, {**({"synthetic": synthetic} if synthetic else {}),
                                 **(r if isinstance(r, dict) else {"line_id": None})}) for i, r in enumerate(items)]
                out.append(_Raw(k, f"{name}:{k}", rows))
        return out
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig", skipinitialspace=True)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, OSError) as e:
        raise InputError(f"{name} is not a readable CSV ({e.__class__.__name__}); expected a county-lines CSV "
                         "with a header on line 1", param="file") from None
    frame.columns = [c.strip().lower() for c in frame.columns]
    kind = file_kind(list(frame.columns), name)
    return [_Raw(kind, name, [(i + 2, r) for i, r in enumerate(frame.to_dict("records"))])]


def _reason(e: dict) -> tuple[str, str]:
    loc = e.get("loc") or ()
    msg = str(e.get("msg", "invalid"))
    msg = msg.removeprefix("Value error, ")
    fld = str(loc[0]) if loc else ""
    if e.get("type") == "missing" or (fld and e.get("input") is None):
        msg = f"missing value: {fld} is required"
    return fld, msg


def _validate(raw: _Raw, rejects: list[dict]) -> tuple[list[tuple[int, dict]], set[str]]:
    """Valid rows (row number, record) and the line ids of the rows rejected."""
    model = MODELS[raw.kind]
    good, bad = [], set()
    for row, data in raw.rows:
        try:
            rec = model.model_validate(data)
        except ValidationError as ve:
            for e in ve.errors():
                fld, msg = _reason(e)
                if not fld and "dates out of order" in msg:
                    fld, value = "last_seen", data.get("last_seen")
                elif not fld and "destination" in msg:
                    fld, value = "area_code", data.get("area_code")
                elif not fld and "Great Britain" in msg:
                    fld, value = "lon,lat", f"{data.get('lon')},{data.get('lat')}"
                else:
                    value = data.get(fld) if isinstance(data, dict) else None
                rejects.append(dict(file=raw.file, row=row, field=fld, value=_text(value), reason=msg))
            lid = data.get("line_id") if isinstance(data, dict) else None
            if isinstance(lid, str) and lid.strip():
                bad.add(lid.strip())
            continue
        good.append((row, rec.model_dump()))
    return good, bad


def _text(v) -> str:
    return "" if v is None else str(v)


def read_records(paths: list[str | os.PathLike], *, stored_lines: set[str] | None = None) -> CountyLines:
    """Read and validate county-lines files: the valid records and one reject row per fault.

    Parameters
    ----------
    paths : list of paths
        CSV files (lines / destinations / links / stations, recognised by header) and/or JSON files.
    stored_lines : set of str, optional
        Line ids already stored: what destinations, links and stations may refer to when no lines are given.

    Raises
    ------
    InputError
        A file is unreadable or unrecognised (nothing is read).
    """
    raws = [r for p in paths for r in _read_file(Path(p))]
    rejects: list[dict] = []
    good = {k: [] for k in KINDS}
    rejected_lines: set[str] = set()
    for raw in raws:
        ok, bad = _validate(raw, rejects)
        good[raw.kind].extend((raw.file, row, rec) for row, rec in ok)
        if raw.kind == "lines":
            rejected_lines |= bad
    kinds = tuple(k for k in KINDS if any(r.kind == k for r in raws))
    reject = functools.partial(_reject, rejects)

    lines, seen = [], {}
    for file, row, rec in good["lines"]:
        lid = rec["line_id"]
        if lid in seen:
            reject(file, row, "line_id", lid, f"duplicate line_id: {lid!r} already given at {seen[lid]}")
            continue
        seen[lid] = f"{file} row {row}"
        lines.append(rec)
    known = set(seen) if "lines" in kinds else set(stored_lines or ())
    out = {"lines": lines}
    keys = {"destinations": lambda r: (r["area_code"] or f"{r['lon']},{r['lat']}", r["first_seen"]),
            "links": lambda r: (r["offence_id"],), "stations": lambda r: (r["crs_code"],)}
    for kind in ("destinations", "links", "stations"):
        recs, dup = [], {}
        for file, row, rec in good[kind]:
            lid = rec["line_id"]
            if lid not in known:
                why = ("its line was rejected" if lid in rejected_lines and lid not in seen
                       else "no such line among the lines" + (" loaded" if "lines" not in kinds else " given"))
                reject(file, row, "line_id", lid, f"unknown line_id: {lid!r} ({why})")
                continue
            key = (lid, *keys[kind](rec))
            if key in dup:
                reject(file, row, "line_id", lid, f"duplicate {kind[:-1]}: the same record is at {dup[key]}")
                continue
            dup[key] = f"{file} row {row}"
            recs.append(rec)
        out[kind] = recs
    frames = {k: _frame(k, out[k]) for k in KINDS}
    rej = pd.DataFrame(rejects, columns=REJECT_COLUMNS)
    return CountyLines(**frames, rejects=rej, kinds=kinds, rows_read=sum(len(r.rows) for r in raws))


def _reject(rejects: list[dict], file, row, fld, value, reason) -> None:
    rejects.append(dict(file=file, row=row, field=fld, value=_text(value), reason=reason))


def _frame(kind: str, recs: list[dict]) -> pd.DataFrame:
    d = pd.DataFrame(recs)
    names = area_names()
    if kind == "lines" and len(d):
        d["origin_force_name"] = d["origin_force"].map(names).fillna(d["origin_force"])
        d["origin_area_name"] = d["origin_area"].map(names)
    if kind == "destinations" and len(d):
        d["area_name"] = d["area_code"].map(names)
        d["level"] = d["area_code"].map(lambda c: code_level(c) if isinstance(c, str) else "point")
    if kind == "stations" and len(d):
        st = _stations()
        d["name"] = d["crs_code"].map(st["name"])
        d["lon"] = d["crs_code"].map(st["lon"])
        d["lat"] = d["crs_code"].map(st["lat"])
    for c in COLUMNS[kind]:
        if c not in d:
            d[c] = pd.Series(dtype=object)
    d = d[COLUMNS[kind]].copy()
    for c in _DATE_COLUMNS:
        if c in d:
            d[c] = pd.to_datetime(d[c])
    d["synthetic"] = d["synthetic"].astype(bool)
    if "cuckooed_addresses" in d:
        d["cuckooed_addresses"] = d["cuckooed_addresses"].astype("Int64")
    for c in ("lon", "lat"):
        if c in d:
            d[c] = d[c].astype(float)
    return d.reset_index(drop=True)


# ---- storing ----------------------------------------------------------------------------------------------
def load_records(
    store: Store, paths: list[str | os.PathLike], *, rejects_path=None
) -> CountyLines:
    """Read, validate and store county-lines files; write the reject file when anything was rejected.

    ``rejects_path`` is a path, or a callable giving one (asked only when there are rejects, after the store
    write). Raises :class:`InputError` (after writing the reject file) when no record at all is usable.
    """
    stored = store.read_table(TABLES["lines"])
    recs = read_records(paths, stored_lines=set(stored["line_id"]) if stored is not None else None)
    if recs.stored == 0:
        where = ""
        if len(recs.rejects) and rejects_path is not None:
            where = f"; see {write_rejects(recs.rejects, _path(rejects_path))}"
        raise InputError(f"nothing usable in {', '.join(Path(p).name for p in paths)}: {recs.rows_read} rows read, "
                         f"{len(recs.rejects)} faults{where}; expected valid county-lines records", param="file")
    store_records(store, recs, files=[Path(p).name for p in paths])
    if len(recs.rejects) and rejects_path is not None:
        recs.reject_file = str(write_rejects(recs.rejects, _path(rejects_path)))
    return recs


def _path(p) -> Path:
    return Path(p() if callable(p) else p)


def store_records(store: Store, recs: CountyLines, *, files: list[str]) -> None:
    """Write the valid records: all four tables when lines were given, else only the kinds given."""
    kinds = KINDS if "lines" in recs.kinds else recs.kinds
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    for kind in reversed(kinds):  # lines last, so no stored child can point at a line that is not there yet
        frame = getattr(recs, kind)
        meta = {"synthetic": recs.synthetic, "files": files, "rows": len(frame), "rejected": len(recs.rejects),
                "loaded_at": now, "kind": kind}
        store.write_table(TABLES[kind], frame, meta)


def write_rejects(rejects: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write the reject file (CSV: ``file, row, field, value, reason``)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    rejects[REJECT_COLUMNS].to_csv(p, index=False)
    return p


def stored_records(store: Store) -> CountyLines | None:
    """The county-lines records in the store, or None when none were loaded."""
    frames = {}
    for k in KINDS:
        t = store.read_table(TABLES[k])
        frames[k] = t if t is not None else _frame(k, [])
    if store.table_meta(TABLES["lines"]) is None:
        return None
    return CountyLines(**frames)


def is_synthetic(store: Store) -> bool:
    """Whether the stored county-lines data is synthetic (any table's metadata or any record says so)."""
    metas = [store.table_meta(TABLES[k]) or {} for k in KINDS]
    return any(bool(m.get("synthetic")) for m in metas)


# ---- geography for the graph -------------------------------------------------------------------------------
def _centroids(name: str) -> gpd.GeoDataFrame:
    path = resources.files("boundaries") / "lookups" / name
    with resources.as_file(path) as p:
        d = pd.read_csv(p, dtype={"code": str, "name": str})
    return gpd.GeoDataFrame(d[["code", "name"]], geometry=gpd.points_from_xy(d["lon"], d["lat"]), crs="EPSG:4326")


@functools.lru_cache(maxsize=1)
def pfa_centroids() -> gpd.GeoDataFrame:
    """Force-area centroids shipped with the package (ONS PFA Dec 2020 BUC, OGL v3.0): ``code, name, geometry``."""
    return _centroids("pfa_centroids.csv")


@functools.lru_cache(maxsize=1)
def lad_centroids() -> gpd.GeoDataFrame:
    """LAD centroids shipped with the package (ONS LAD Dec 2022 UK BUC, OGL v3.0): ``code, name, geometry``."""
    return _centroids("lad_centroids.csv")


@functools.lru_cache(maxsize=1)
def area_hierarchy() -> pd.DataFrame:
    """Ward (2018 and 2019 codes) → LAD → CSP with names, for rolling destinations up."""
    w = pd.concat([ward_to_lad(2019), ward_to_lad(2018)], ignore_index=True).drop_duplicates("ward")
    c = pd.concat([lad_to_csp_pfa(2019), lad_to_csp_pfa(2018)], ignore_index=True).drop_duplicates("lad")
    c = c[["lad", "csp", "csp_name"]]
    wards = w.merge(c, on="lad", how="left")
    lads = c.merge(pd.concat([lad_to_csp_pfa(2019), lad_to_csp_pfa(2018)])[["lad", "lad_name"]].drop_duplicates("lad"),
                   on="lad")
    lads = lads.assign(ward=lads["lad"], ward_name=lads["lad_name"])
    return pd.concat([wards, lads], ignore_index=True)[["ward", "ward_name", "lad", "lad_name", "csp", "csp_name"]]


def area_geometries(store: Store | None, codes: list[str]) -> gpd.GeoDataFrame:
    """Geometries for area codes (wards, LADs, CSPs, force areas): the store's layer of the code's level when it
    is loaded and holds the code, else the shipped centroid of its LAD (a CSP: of its LADs; a force area: the
    shipped force-area centroid). Column ``geometry_source`` says which. EPSG:4326."""
    codes = sorted({str(c) for c in codes if isinstance(c, str)})
    parts, found = [], set()
    layers = {}
    for level in {code_level(c) for c in codes} - {None}:
        layer = store.read_layer(level) if store is not None else None
        if layer is not None and len(layer):
            layers[level] = layer.to_crs("EPSG:4326")
    for level, layer in layers.items():
        hit = layer[layer["code"].isin(codes)]
        if len(hit):
            parts.append(gpd.GeoDataFrame({"code": hit["code"].values, "geometry_source": f"{level} layer"},
                                          geometry=hit.geometry.values, crs="EPSG:4326"))
            found |= set(hit["code"])
    rest = [c for c in codes if c not in found]
    if rest:
        lad = lad_centroids().set_index("code").geometry
        pfa = pfa_centroids().set_index("code").geometry
        h = area_hierarchy()
        to_lad = dict(zip(h["ward"], h["lad"], strict=True))
        by_csp = h.drop_duplicates("lad").groupby("csp")["lad"].apply(list).to_dict()
        geoms, kept = [], []
        for c in rest:
            level = code_level(c)
            g = None
            if level == "pfa":
                g = pfa.get(c)
            elif level in ("ward", "lad", "lsoa"):
                g = lad.get(to_lad.get(c, c))
            elif level == "csp":
                pts = [lad[x] for x in by_csp.get(c, []) if x in lad.index]
                g = shapely.centroid(shapely.multipoints(pts)) if pts else None
            if g is not None:
                geoms.append(g)
                kept.append(c)
        if kept:
            parts.append(gpd.GeoDataFrame({"code": kept, "geometry_source": "LAD centroid (shipped)"},
                                          geometry=geoms, crs="EPSG:4326"))
    if not parts:
        return gpd.GeoDataFrame({"code": [], "geometry_source": []}, geometry=[], crs="EPSG:4326")
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs="EPSG:4326")


def origin_geometries(store: Store | None, recs: CountyLines) -> gpd.GeoDataFrame:
    """Where flows start: the origin areas given on lines and every origin force area (see :func:`area_geometries`)."""
    codes = list(recs.lines["origin_force"].dropna()) + list(recs.lines["origin_area"].dropna())
    return area_geometries(store, codes)


def destination_geometries(store: Store | None, recs: CountyLines) -> gpd.GeoDataFrame:
    """Where flows end: every destination area code (points given by lon/lat travel on the graph itself)."""
    return area_geometries(store, list(recs.destinations["area_code"].dropna()))


def load_network(store: Store):
    """The stored records and their graph (:func:`geo.countylines.build_graph`); ``graph.graph["synthetic"]``
    is true when the data is. Raises :class:`NotFoundError` when no county-lines records are stored."""
    recs = stored_records(store)
    if recs is None:
        raise NotFoundError(f"no county-lines records in store {store.location}; expected them loaded first with "
                            "`crimemap lines load FILE...`", param="store")
    graph = build_graph(recs.lines, recs.destinations, recs.links, recs.stations)
    graph.graph["synthetic"] = bool(recs.synthetic or is_synthetic(store))
    return graph, recs


#: the offence types set beside county-lines destinations (police.uk has no "knife crime" category: Possession
#: of weapons is the nearest)
COLOCATION_TYPES = ("Drugs", "Possession of weapons")


def colocation_table(store: Store, *, level: str = "ward", months=None, seed: int = 0) -> pd.DataFrame | None:
    """Per destination area (rolled to ``level``): its lines, Drugs and Possession of weapons counts, and their Gi*
    class on the ``level`` layer's study area (queen contiguity, analytical p with BH; ``too_few_events`` where Gi*
    refuses). None when the layer or the offences it needs are not in the store."""
    layer = store.read_layer(level)
    if layer is None or not len(layer):
        return None
    graph, _ = load_network(store)
    dests = lines_per_destination(graph, level=level, hierarchy=area_hierarchy())
    try:
        area = set(study_area(store, level, months))
    except InputError:
        return None
    poly = layer[layer["code"].isin(area)].drop_duplicates("code").reset_index(drop=True)
    if len(poly) < 2:
        return None
    weights = queen_weights(poly)
    counts, classes = [], []
    for t in COLOCATION_TYPES:
        c = area_counts(store, level, months=months, crime_types=[t], by_month=False)
        counts.append(c.assign(crime_type=t))
        y = counts_on_study_area(c.set_index("code")["count"], poly["code"])
        try:
            k = gistar_frame(gistar(y.to_numpy(), weights, permutations=0, seed=seed), poly["code"])[["code", "class"]]
        except InputError:
            k = pd.DataFrame({"code": poly["code"], "class": "too_few_events"})
        classes.append(k.assign(crime_type=t))
    return colocation(dests, pd.concat(counts, ignore_index=True), pd.concat(classes, ignore_index=True))
