"""The PostGIS store: the :class:`data.store.Store` interface on PostgreSQL 15+ / PostGIS 3 (psycopg 3).

Everything lives in its own schema (``crimemap``) of the database the URL names; an empty database is set up
on first use (``CREATE EXTENSION IF NOT EXISTS postgis``, tables, indexes). Bulk data moves through ``COPY``
in CSV form (geometry as EWKB hex on the way in and WKB hex on the way out), encoded and decoded by pyarrow,
so no Python loop runs per row.

Every write method is one transaction that also bumps the ``generation`` counter row: a failure, or a killed
process, leaves the store exactly as it was (PostgreSQL rolls back an unfinished transaction), and two writers
are serialised by the lock on that row.

Tables (schema ``crimemap``)
----------------------------
``offences``      canonical record + ``h3_10`` + ``geometry(Point, 4326)`` (null when unlocated)
``assignment``    ``force, month, offence_id`` and ``lsoa, ward, parish, lad, csp, pfa`` (text)
``layers``        ``level, code, name, geometry(MultiPolygon, 4326)``; ``layer_meta`` (``level``, jsonb)
``ingests``       the ingest catalogue (jsonb), ``tables`` named tables (parquet bytes + jsonb meta),
``state``         one row: ``generation`` and the assigned levels.

Named tables are also mirrored as plain SQL tables in the schema ``crimemap_tables`` (one table per name,
simple column types) so they can be queried (for example by ``ST_AsMVT`` over the aggregate tables).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import re
import threading
import urllib.parse

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import shapely

from data import batch
from data.store import ASSIGNED_LEVELS, H3_COLUMN, Store
from geo.errors import InputError
from geo.record import COLUMNS

SCHEMA = "crimemap"
TABLES_SCHEMA = "crimemap_tables"
SRID = 4326
#: Rows per COPY chunk (bounded memory for national-size loads).
COPY_CHUNK = 250_000

OFFENCE_TEXT = [c for c in COLUMNS if c != "month"] + [H3_COLUMN]
OFFENCE_COLUMNS = [*COLUMNS, H3_COLUMN, "geometry"]
ASSIGNMENT_KEYS = ["force", "month", "offence_id"]

_DDL = f"""
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
CREATE SCHEMA IF NOT EXISTS {TABLES_SCHEMA};
CREATE TABLE IF NOT EXISTS {SCHEMA}.state (
    id int PRIMARY KEY CHECK (id = 1),
    generation bigint NOT NULL DEFAULT 0,
    assigned_levels jsonb NOT NULL DEFAULT '[]'
);
INSERT INTO {SCHEMA}.state (id) VALUES (1) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS {SCHEMA}.offences (
    offence_id text NOT NULL,
    month date NOT NULL,
    force text NOT NULL,
    pfa_code text,
    crime_type text,
    crime_type_source text,
    lsoa11 text,
    location text,
    outcome text,
    {H3_COLUMN} text,
    geometry geometry(Point, {SRID}),
    PRIMARY KEY (force, month, offence_id)
);
CREATE INDEX IF NOT EXISTS offences_geometry_gist ON {SCHEMA}.offences USING gist (geometry);
CREATE INDEX IF NOT EXISTS offences_month_force ON {SCHEMA}.offences (month, force);
CREATE INDEX IF NOT EXISTS offences_offence_id ON {SCHEMA}.offences (offence_id);
CREATE INDEX IF NOT EXISTS offences_h3_10 ON {SCHEMA}.offences ({H3_COLUMN});
CREATE INDEX IF NOT EXISTS offences_crime_type ON {SCHEMA}.offences (crime_type);
CREATE TABLE IF NOT EXISTS {SCHEMA}.assignment (
    force text NOT NULL,
    month date NOT NULL,
    offence_id text NOT NULL,
    {", ".join(f"{lv} text" for lv in ASSIGNED_LEVELS)}
);
CREATE INDEX IF NOT EXISTS assignment_force_month ON {SCHEMA}.assignment (force, month);
CREATE INDEX IF NOT EXISTS assignment_offence_id ON {SCHEMA}.assignment (offence_id);
{"".join(f"CREATE INDEX IF NOT EXISTS assignment_{lv} ON {SCHEMA}.assignment ({lv});" for lv in ASSIGNED_LEVELS)}
CREATE TABLE IF NOT EXISTS {SCHEMA}.layers (
    level text NOT NULL,
    code text NOT NULL,
    name text,
    geometry geometry(MultiPolygon, {SRID})
);
CREATE INDEX IF NOT EXISTS layers_geometry_gist ON {SCHEMA}.layers USING gist (geometry);
CREATE INDEX IF NOT EXISTS layers_level_code ON {SCHEMA}.layers (level, code);
CREATE TABLE IF NOT EXISTS {SCHEMA}.layer_meta (level text PRIMARY KEY, meta jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS {SCHEMA}.ingests (id bigserial PRIMARY KEY, record jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS {SCHEMA}.tables (name text PRIMARY KEY, data bytea NOT NULL, meta jsonb);
"""


def redact_url(url: str) -> str:
    """The URL without its password, for printing.

    Examples
    --------
    >>> redact_url("postgresql://app:s3cret@db:5432/crime")
    'postgresql://app@db:5432/crime'
    >>> redact_url("postgresql://postgres@127.0.0.1:5432/postgres")
    'postgresql://postgres@127.0.0.1:5432/postgres'
    """
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" if parts.username else host
    if parts.port:
        netloc += f":{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _json(value) -> str:
    return json.dumps(value, default=str)


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    """Encode a frame of text/date/number columns as CSV for ``COPY ... (FORMAT csv)``.

    Every valid value is quoted and nulls are not, so PostgreSQL tells NULL from the empty string.
    """
    table = pa.Table.from_pandas(frame, preserve_index=False)
    sink = io.BytesIO()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False, quoting_style="all_valid"))
    return sink.getvalue()


def _read_csv(data: bytes, names: list[str], types: dict[str, pa.DataType]) -> pa.Table:
    """Decode ``COPY ... TO STDOUT (FORMAT csv)`` output: unquoted empty is NULL, ``""`` the empty string."""
    column_types = {n: types.get(n, pa.string()) for n in names}
    if not data:
        return pa.table({n: pa.array([], type=t) for n, t in column_types.items()})
    return pacsv.read_csv(
        io.BytesIO(data),
        read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 24),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types=column_types, strings_can_be_null=True, quoted_strings_can_be_null=False,
            null_values=[""],
        ),
    )


def _points_ewkb(geometry) -> np.ndarray:
    """EWKB hex (SRID 4326) for each point; None for missing or empty geometry."""
    geoms = np.asarray(geometry, dtype=object)
    geoms = np.where(shapely.is_missing(geoms) | shapely.is_empty(geoms), None, geoms)
    return shapely.to_wkb(shapely.set_srid(geoms, SRID), hex=True, include_srid=True)


def _as_multipolygon(geom):
    if geom is None or geom.is_empty:
        return None
    if geom.geom_type == "MultiPolygon":
        return geom
    if geom.geom_type == "Polygon":
        return shapely.MultiPolygon([geom])
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    polys = [q for p in parts for q in (p.geoms if p.geom_type == "MultiPolygon" else [p])]
    return shapely.MultiPolygon(polys) if polys else None


def _months_sql(column: str, months, params: list) -> str:
    if months is None:
        return ""
    params.extend([months[0], months[1]])
    return f" AND {column} BETWEEN %s AND %s"


def _forces_sql(column: str, forces, params: list) -> str:
    if forces is None:
        return ""
    params.append(list(forces))
    return f" AND {column} = ANY(%s)"


_SQL_TYPES = {"b": "boolean", "i": "bigint", "u": "bigint", "f": "double precision"}


def _sql_table_name(name: str) -> str:
    safe = re.sub(r"[^a-z0-9_]", "_", name.lower())[:55]
    return f'{TABLES_SCHEMA}."{safe}"'


class PostGISStore(Store):
    """A store in a PostgreSQL/PostGIS database.

    Parameters
    ----------
    url : str
        ``postgresql://user[:password]@host[:port]/database``; the store creates the PostGIS extension (if
        missing) and its schema ``crimemap`` in that database.

    Raises
    ------
    InputError
        One line naming the URL (without password) and what went wrong, when the server cannot be reached
        or PostGIS cannot be enabled.
    """

    def __init__(self, url: str):
        import psycopg

        self.url = url
        self.location = redact_url(url)
        self._lock = threading.RLock()
        try:
            self._conn = psycopg.connect(url, connect_timeout=10)
        except psycopg.Error as e:
            raise InputError(f"cannot connect to PostGIS store {self.location}: {self._reason(e)}",
                             param="store") from e
        try:
            with self._conn.transaction(), self._conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(hashtext('crimemap-schema'))")
                cur.execute(_DDL)
        except psycopg.Error as e:
            self._conn.close()
            raise InputError(f"cannot set up the crimemap schema in {self.location}: {self._reason(e)}",
                             param="store") from e

    @staticmethod
    def _reason(e: Exception) -> str:
        lines = [x.strip() for x in str(e).strip().splitlines() if x.strip()]
        return (lines[-1] if lines else type(e).__name__)[:200]

    def __repr__(self) -> str:
        return f"PostGISStore({self.location!r})"

    # ---- plumbing ---------------------------------------------------------------------------------
    def _copy_in(self, cur, table: str, columns: list[str], frame: pd.DataFrame) -> None:
        with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)") as copy:
            for start in range(0, len(frame), COPY_CHUNK):
                copy.write(_csv_bytes(frame.iloc[start:start + COPY_CHUNK]))

    def _copy_out(self, query: str, params: list) -> bytes:
        sink = io.BytesIO()
        import psycopg

        with self._lock, psycopg.ClientCursor(self._conn) as cur:
            with cur.copy(f"COPY ({query}) TO STDOUT WITH (FORMAT csv)", params or None) as copy:
                for block in copy:
                    sink.write(block)
            self._conn.commit()
        return sink.getvalue()

    def _query(self, sql: str, params=None) -> list[tuple]:
        with self._lock, self._conn.cursor() as cur:
            cur.execute(sql, params)
            rows = cur.fetchall() if cur.description else []
            self._conn.commit()
            return rows

    @contextlib.contextmanager
    def _write(self):
        """One write transaction that bumps the generation; yields (cursor, currently assigned levels)."""
        with self._lock, self._conn.transaction(), self._conn.cursor() as cur:
            cur.execute(
                f"UPDATE {SCHEMA}.state SET generation = generation + 1 WHERE id = 1 RETURNING assigned_levels"
            )
            yield cur, list(cur.fetchone()[0])

    @staticmethod
    def _set_assigned(cur, levels) -> None:
        ordered = [lv for lv in ASSIGNED_LEVELS if lv in set(levels)]
        cur.execute(f"UPDATE {SCHEMA}.state SET assigned_levels = %s::jsonb WHERE id = 1", [_json(ordered)])

    def _copy_assignment(self, cur, assignment: pd.DataFrame) -> list[str]:
        levels = [lv for lv in ASSIGNED_LEVELS if lv in assignment.columns]
        missing = [k for k in ASSIGNMENT_KEYS if k not in assignment.columns]
        if missing:
            raise InputError(f"assignment rows lack the columns {missing}; expected force, month, offence_id")
        frame = assignment[ASSIGNMENT_KEYS + levels].copy()
        frame["month"] = pd.to_datetime(frame["month"]).dt.date
        for c in ["force", "offence_id", *levels]:
            frame[c] = frame[c].astype(object).where(frame[c].notna(), None).astype("string")
        self._copy_in(cur, f"{SCHEMA}.assignment", ASSIGNMENT_KEYS + levels, frame)
        return levels

    # ---- offences ---------------------------------------------------------------------------------
    def offence_ids(self, force: str, month: dt.date) -> pd.Index:
        rows = self._query(
            f"SELECT offence_id FROM {SCHEMA}.offences WHERE force = %s AND month = %s", [force, month]
        )
        return pd.Index([r[0] for r in rows], dtype=object, name="offence_id")

    def commit_ingest(self, offences, assignment, record, *, replace=frozenset()) -> None:
        if isinstance(offences, pa.Table):  # an ingest batch (data.batch)
            offences = batch.to_frame(offences)
        if isinstance(assignment, pa.Table):
            assignment = assignment.to_pandas()
        frame = pd.DataFrame({c: offences[c] if c in offences.columns else None for c in COLUMNS + [H3_COLUMN]})
        frame["month"] = pd.to_datetime(frame["month"]).dt.date
        for c in OFFENCE_TEXT:
            frame[c] = frame[c].astype(object).where(frame[c].notna(), None).astype("string")
        geometry = offences.geometry.values if "geometry" in offences.columns else [None] * len(frame)
        frame["geometry"] = pd.array(_points_ewkb(geometry), dtype="string")
        with self._write() as (cur, assigned):
            for force, month in sorted(replace):
                cur.execute(f"DELETE FROM {SCHEMA}.offences WHERE force = %s AND month = %s", [force, month])
                cur.execute(f"DELETE FROM {SCHEMA}.assignment WHERE force = %s AND month = %s", [force, month])
            self._copy_in(cur, f"{SCHEMA}.offences", list(frame.columns), frame)
            levels = self._copy_assignment(cur, assignment)
            self._set_assigned(cur, set(assigned) | set(levels))
            cur.execute(f"INSERT INTO {SCHEMA}.ingests (record) VALUES (%s::jsonb)", [_json(record)])

    def read_offences(self, *, months=None, forces=None, columns=None):
        wanted = list(columns) if columns is not None else list(OFFENCE_COLUMNS)
        unknown = [c for c in wanted if c not in OFFENCE_COLUMNS]
        if unknown:
            raise InputError(f"offence columns {unknown} do not exist; expected some of {OFFENCE_COLUMNS}")
        params: list = []
        select = ", ".join("encode(ST_AsBinary(geometry), 'hex')" if c == "geometry" else c for c in wanted)
        where = _months_sql("month", months, params) + _forces_sql("force", forces, params)
        query = f"SELECT {select} FROM {SCHEMA}.offences WHERE true{where} ORDER BY force, month, offence_id"
        table = _read_csv(self._copy_out(query, params), wanted, {"month": pa.date32()})
        if "geometry" not in wanted:
            return table.to_pandas(date_as_object=False)
        hexes = table.column("geometry").to_numpy(zero_copy_only=False)
        frame = table.drop_columns(["geometry"]).to_pandas(date_as_object=False)
        geoms = shapely.from_wkb(hexes) if len(hexes) else np.array([], dtype=object)
        gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=f"EPSG:{SRID}"), crs=f"EPSG:{SRID}")
        return gdf[wanted]

    def coverage(self) -> pd.DataFrame:
        rows = self._query(
            f"SELECT force, month, count(*), count(geometry) FROM {SCHEMA}.offences GROUP BY force, month "
            "ORDER BY force, month"
        )
        frame = pd.DataFrame(rows, columns=["force", "month", "stored", "located"])
        frame["month"] = pd.to_datetime(frame["month"])
        for c in ("stored", "located"):
            frame[c] = frame[c].astype("int64")
        frame["unlocated"] = frame["stored"] - frame["located"]
        return frame[["force", "month", "stored", "located", "unlocated"]]

    def ingests(self) -> list[dict]:
        return [r[0] for r in self._query(f"SELECT record FROM {SCHEMA}.ingests ORDER BY id")]

    # ---- assignment -------------------------------------------------------------------------------
    def read_assignment(self, *, months=None, forces=None, levels=None) -> pd.DataFrame:
        assigned = self._query(f"SELECT assigned_levels FROM {SCHEMA}.state WHERE id = 1")[0][0]
        wanted = list(assigned) if levels is None else list(levels)
        unknown = [lv for lv in wanted if lv not in ASSIGNED_LEVELS]
        if unknown:
            raise InputError(f"assignment levels {unknown} do not exist; expected some of {list(ASSIGNED_LEVELS)}")
        params: list = []
        where = _months_sql("month", months, params) + _forces_sql("force", forces, params)
        names = ASSIGNMENT_KEYS + wanted
        query = (f"SELECT {', '.join(names)} FROM {SCHEMA}.assignment WHERE true{where} "
                 "ORDER BY force, month, offence_id")
        return _read_csv(self._copy_out(query, params), names, {"month": pa.date32()}).to_pandas(date_as_object=False)

    # ---- layers -----------------------------------------------------------------------------------
    def save_layer(self, level, polygons, meta, assignment) -> None:
        if polygons.crs is not None and polygons.crs.to_epsg() != SRID:
            polygons = polygons.to_crs(SRID)
        geoms = np.array([_as_multipolygon(g) for g in polygons.geometry.values], dtype=object)
        frame = pd.DataFrame({
            "level": level,
            "code": polygons["code"].astype("string").values,
            "name": (polygons["name"] if "name" in polygons.columns else pd.Series([None] * len(polygons)))
            .astype("string").values,
            "geometry": pd.array(shapely.to_wkb(shapely.set_srid(geoms, SRID), hex=True, include_srid=True),
                                 dtype="string"),
        })
        with self._write() as (cur, assigned):
            cur.execute(f"DELETE FROM {SCHEMA}.layers WHERE level = %s", [level])
            self._copy_in(cur, f"{SCHEMA}.layers", ["level", "code", "name", "geometry"], frame)
            cur.execute(
                f"INSERT INTO {SCHEMA}.layer_meta (level, meta) VALUES (%s, %s::jsonb) "
                "ON CONFLICT (level) DO UPDATE SET meta = EXCLUDED.meta",
                [level, _json(meta)],
            )
            cur.execute(f"TRUNCATE {SCHEMA}.assignment")
            levels = self._copy_assignment(cur, assignment)
            self._set_assigned(cur, levels)

    def read_layer(self, level: str):
        if not self._query(f"SELECT 1 FROM {SCHEMA}.layer_meta WHERE level = %s", [level]):
            return None
        query = (f"SELECT code, name, encode(ST_AsBinary(geometry), 'hex') FROM {SCHEMA}.layers "
                 "WHERE level = %s ORDER BY code")
        table = _read_csv(self._copy_out(query, [level]), ["code", "name", "geometry"], {})
        hexes = table.column("geometry").to_numpy(zero_copy_only=False)
        frame = table.drop_columns(["geometry"]).to_pandas()
        geoms = shapely.from_wkb(hexes) if len(hexes) else np.array([], dtype=object)
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=f"EPSG:{SRID}"), crs=f"EPSG:{SRID}")

    def layers(self) -> dict[str, dict]:
        return {lv: meta for lv, meta in self._query(f"SELECT level, meta FROM {SCHEMA}.layer_meta ORDER BY level")}

    # ---- named tables -----------------------------------------------------------------------------
    def write_table(self, name: str, frame: pd.DataFrame, meta: dict | None = None) -> None:
        sink = io.BytesIO()
        plain = pd.DataFrame(frame)
        if isinstance(plain, gpd.GeoDataFrame):
            plain = plain.to_wkb()
        pq.write_table(pa.Table.from_pandas(plain, preserve_index=False), sink)
        with self._write() as (cur, assigned):
            cur.execute(
                f"INSERT INTO {SCHEMA}.tables (name, data, meta) VALUES (%s, %s, %s::jsonb) "
                "ON CONFLICT (name) DO UPDATE SET data = EXCLUDED.data, meta = EXCLUDED.meta",
                [name, sink.getvalue(), _json(meta) if meta is not None else None],
            )
            self._mirror_table(cur, name, plain)

    def _mirror_table(self, cur, name: str, frame: pd.DataFrame) -> None:
        """Replace the plain SQL copy of a named table (numbers, booleans, dates; anything else as text)."""
        target = _sql_table_name(name)
        cur.execute(f"DROP TABLE IF EXISTS {target}")
        cols, out = [], pd.DataFrame(index=frame.index)
        for i, c in enumerate(frame.columns):
            s = frame[c]
            kind = getattr(s.dtype, "kind", "O")
            sql_type = _SQL_TYPES.get(kind)
            if sql_type is None:
                sql_type = "text"
                s = s.astype(object).where(s.notna(), None)
                s = s.map(lambda v: v if v is None or isinstance(v, str) else (
                    v.hex() if isinstance(v, bytes) else str(v)))
                s = s.astype("string")
            col = re.sub(r'[^A-Za-z0-9_]', "_", str(c))[:60] or f"c{i}"
            cols.append(f'"{col}" {sql_type}')
            out[f"c{i}"] = s
        if not cols:
            return
        cur.execute(f"CREATE TABLE {target} ({', '.join(cols)})")
        names = [c.split(" ")[0] for c in cols]
        self._copy_in(cur, target, names, out)

    def read_table(self, name: str) -> pd.DataFrame | None:
        rows = self._query(f"SELECT data FROM {SCHEMA}.tables WHERE name = %s", [name])
        if not rows:
            return None
        return pq.read_table(io.BytesIO(bytes(rows[0][0]))).to_pandas()

    def table_meta(self, name: str) -> dict | None:
        rows = self._query(f"SELECT meta FROM {SCHEMA}.tables WHERE name = %s", [name])
        if not rows:
            return None
        return rows[0][0] if rows[0][0] is not None else {}

    # ---- bookkeeping ------------------------------------------------------------------------------
    @property
    def generation(self) -> int:
        return int(self._query(f"SELECT generation FROM {SCHEMA}.state WHERE id = 1")[0][0])

    def close(self) -> None:
        with self._lock:
            if not self._conn.closed:
                self._conn.close()
