"""The embedded store: a directory of GeoParquet partitioned by force and month, and a JSON catalogue.

Layout::

    STORE/catalogue.json                                  what is stored (the only source of truth)
    STORE/offences/force=<slug>/month=<YYYY-MM>/<gen>.parquet    canonical offences (GeoParquet, EPSG:4326)
    STORE/assignment/force=<slug>/month=<YYYY-MM>/<gen>.parquet  offence → area code per level
    STORE/layers/<level>/<gen>.parquet                    boundary polygons
    STORE/tables/<name>/<gen>.parquet                     named tables (county lines, cached results)

Writes never touch a file the catalogue points at: they write new files under a new generation number, then
replace ``catalogue.json`` atomically (write, fsync, ``os.replace``). A process killed part-way leaves only
unreferenced files, which the next write removes, so the store is exactly as before. A lock file serialises
writers.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from data import batch
from data.store import ASSIGNED_LEVELS, COVERAGE_COLUMNS, H3_COLUMN, Store
from geo.errors import InputError
from geo.record import COLUMNS

FORMAT = "crimemap-embedded/1"
OFFENCE_COLUMNS = COLUMNS + [H3_COLUMN, "geometry"]
STORED_COLUMNS = COLUMNS + [H3_COLUMN]  # plus the geometry, written by data.batch.storage_table
_ID_COLUMNS = ["force", "month", "offence_id"]


def _mkey(month) -> str:
    return f"{month.year:04d}-{month.month:02d}"


def _pkey(force: str, month) -> str:
    return f"{force}|{_mkey(month)}"


class EmbeddedStore(Store):
    """A store in a local directory (created when missing). No server needed.

    Parameters
    ----------
    path : str or Path
        The store directory.
    """

    def __init__(self, path: str | os.PathLike):
        self.root = Path(path).expanduser()
        self.location = str(self.root)
        if self.root.exists() and not self.root.is_dir():
            raise InputError(f"store {self.root} is a file; expected a directory or a postgresql:// URL",
                             param="store")
        cat = self.root / "catalogue.json"
        own = {"offences", "assignment", "layers", "tables", "rejects", ".lock"}
        # leftovers of a first write killed before its catalogue was published belong to the store
        if self.root.exists() and not cat.exists() and any(
            p.name not in own and not p.name.startswith(".catalogue-") for p in self.root.iterdir()
        ):
            raise InputError(f"store {self.root} is a non-empty directory without catalogue.json; expected a "
                             f"crimemap store or an empty directory", param="store")

    # ---- catalogue ---------------------------------------------------------------------------------
    def _catalogue(self) -> dict:
        p = self.root / "catalogue.json"
        if not p.exists():
            return {"format": FORMAT, "generation": 0, "partitions": {}, "ingests": [], "layers": {}, "tables": {}}
        try:
            cat = json.loads(p.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise InputError(f"store catalogue {p} is unreadable ({e}); expected a crimemap catalogue",
                             param="store") from None
        if cat.get("format") != FORMAT:
            raise InputError(f"store {self.root} has format {cat.get('format')!r}; expected {FORMAT}", param="store")
        return cat

    @contextlib.contextmanager
    def _writing(self):
        """Lock, hand out (catalogue, new generation), then publish the catalogue atomically and collect garbage."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            cat = self._catalogue()
            gen = int(cat["generation"]) + 1
            yield cat, gen
            cat["generation"] = gen
            tmp = self.root / f".catalogue-{gen}.json.tmp"
            with open(tmp, "w") as f:
                json.dump(cat, f, indent=1, default=str)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.root / "catalogue.json")
            dirfd = os.open(self.root, os.O_RDONLY)
            try:
                os.fsync(dirfd)
            finally:
                os.close(dirfd)
            self._collect(cat)

    def _collect(self, cat: dict) -> None:
        """Remove files the catalogue no longer references (old generations, leftovers of killed writes)."""
        keep = set()
        for part in cat["partitions"].values():
            keep.update([part["offences"], part["assignment"]])
        keep.update(v["file"] for v in cat["layers"].values())
        keep.update(v["file"] for v in cat["tables"].values())
        for sub in ("offences", "assignment", "layers", "tables"):
            base = self.root / sub
            if not base.exists():
                continue
            for f in base.rglob("*.parquet"):
                if str(f.relative_to(self.root)) not in keep:
                    f.unlink(missing_ok=True)
            for d in sorted((p for p in base.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                with contextlib.suppress(OSError):
                    d.rmdir()
        for tmp in self.root.glob(".catalogue-*.json.tmp"):
            tmp.unlink(missing_ok=True)

    def _write(self, rel: str, frame: pd.DataFrame) -> str:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(path, index=False, compression="zstd")  # GeoParquet when frame is a GeoDataFrame
        return rel

    @property
    def generation(self) -> int:
        return int(self._catalogue()["generation"])

    # ---- offences ----------------------------------------------------------------------------------
    def offence_ids(self, force: str, month: dt.date) -> pd.Index:
        part = self._catalogue()["partitions"].get(_pkey(force, month))
        if not part:
            return pd.Index([], dtype=object)
        t = pq.read_table(self.root / part["offences"], columns=["offence_id"], partitioning=None)
        return pd.Index(t.column("offence_id").to_pylist(), dtype=object)

    def commit_ingest(self, offences, assignment, record, *, replace=frozenset()):
        offences = offences if isinstance(offences, pa.Table) else batch.from_frame(offences)
        offences = batch.conform(offences)
        assignment = _assignment_table(assignment)
        writes: list[tuple[str, pa.Table]] = []
        with self._writing() as (cat, gen):
            for f, m in replace:
                cat["partitions"].pop(_pkey(f, m), None)
            offences, o_parts = _partitions(offences)
            assignment, a_parts = _partitions(assignment)
            for key in sorted(o_parts):
                force, month = key
                (a, b), (c, d) = o_parts[key], a_parts.get(key, (0, 0))
                new_o, new_a = offences.slice(a, b - a), assignment.slice(c, d - c)
                old = cat["partitions"].get(f"{force}|{month}")
                if old:
                    prev_o = batch.from_storage(pq.read_table(self.root / old["offences"], partitioning=None))
                    prev_a = _assignment_table(pq.read_table(self.root / old["assignment"], partitioning=None))
                    new_o, new_a = pa.concat_tables([prev_o, new_o]), pa.concat_tables([prev_a, new_a])
                sub = f"force={force}/month={month}/{gen}.parquet"
                located = int(batch.located(new_o).sum())
                cat["partitions"][f"{force}|{month}"] = {
                    "force": force, "month": month,
                    "offences": f"offences/{sub}", "assignment": f"assignment/{sub}",
                    "stored": len(new_o), "located": located, "unlocated": len(new_o) - located,
                }
                writes += [(f"offences/{sub}", batch.storage_table(new_o, STORED_COLUMNS)),
                           (f"assignment/{sub}", new_a)]
            # Parquet encoding and compression release the GIL: write the partitions on two threads
            with ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
                list(pool.map(lambda w: self._write_arrow(*w), writes))
            cat["ingests"].append(dict(record, generation=gen))

    def _write_arrow(self, rel: str, table: pa.Table) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path, compression="zstd")

    def _parts(self, months=None, forces=None) -> list[dict]:
        parts = list(self._catalogue()["partitions"].values())
        if months is not None:
            lo, hi = _mkey(months[0]), _mkey(months[1])
            parts = [p for p in parts if lo <= p["month"] <= hi]
        if forces is not None:
            fs = set(forces)
            parts = [p for p in parts if p["force"] in fs]
        return sorted(parts, key=lambda p: (p["force"], p["month"]))

    def read_offences(self, *, months=None, forces=None, columns=None):
        cols = list(columns) if columns is not None else OFFENCE_COLUMNS
        parts = self._parts(months, forces)
        geo = "geometry" in cols
        if not parts:
            empty = pd.DataFrame({c: pd.Series([], dtype=object) for c in cols if c != "geometry"})
            if "month" in empty:
                empty["month"] = pd.to_datetime(empty["month"])
            return gpd.GeoDataFrame(empty, geometry=gpd.GeoSeries([], crs="EPSG:4326")) if geo else empty
        if geo:
            frames = [gpd.read_parquet(self.root / p["offences"], columns=cols) for p in parts]
            out = pd.concat(frames, ignore_index=True)
            return gpd.GeoDataFrame(out, geometry="geometry", crs="EPSG:4326")
        tables = [pq.read_table(self.root / p["offences"], columns=cols, partitioning=None) for p in parts]
        return pa.concat_tables(tables, promote_options="permissive").to_pandas()

    def coverage(self) -> pd.DataFrame:
        parts = self._parts()
        d = pd.DataFrame([{k: p[k] for k in COVERAGE_COLUMNS} for p in parts], columns=COVERAGE_COLUMNS)
        d["month"] = pd.to_datetime(d["month"] + "-01") if len(d) else pd.to_datetime(d["month"])
        return d

    def ingests(self) -> list[dict]:
        return list(self._catalogue()["ingests"])

    # ---- assignment --------------------------------------------------------------------------------
    def read_assignment(self, *, months=None, forces=None, levels=None):
        parts = self._parts(months, forces)
        lv = list(levels) if levels is not None else list(ASSIGNED_LEVELS)
        cols = _ID_COLUMNS + lv
        if not parts:
            d = pd.DataFrame({c: pd.Series([], dtype=object) for c in cols})
            d["month"] = pd.to_datetime(d["month"])
            return d
        frames = []
        for p in parts:
            t = pq.read_table(self.root / p["assignment"], partitioning=None)
            have = [c for c in cols if c in t.column_names]
            f = t.select(have).to_pandas()
            for c in cols:
                if c not in f:
                    f[c] = None
            frames.append(f[cols])
        return pd.concat(frames, ignore_index=True)

    # ---- layers ------------------------------------------------------------------------------------
    def save_layer(self, level, polygons, meta, assignment):
        with self._writing() as (cat, gen):
            rel = self._write(f"layers/{_safe(level)}/{gen}.parquet",
                              gpd.GeoDataFrame(polygons[["code", "name", "geometry"]], crs="EPSG:4326"))
            cat["layers"][level] = dict(meta, file=rel)
            akey = assignment["force"] + "|" + pd.to_datetime(assignment["month"]).dt.strftime("%Y-%m")
            for key, part in cat["partitions"].items():
                sub = f"force={part['force']}/month={part['month']}/{gen}.parquet"
                part["assignment"] = self._write(f"assignment/{sub}",
                                                 _clean_assignment(assignment[(akey == key).to_numpy()]))

    def read_layer(self, level):
        meta = self._catalogue()["layers"].get(level)
        if not meta:
            return None
        return gpd.read_parquet(self.root / meta["file"])

    def layers(self) -> dict[str, dict]:
        return {k: {kk: vv for kk, vv in v.items() if kk != "file"} for k, v in self._catalogue()["layers"].items()}

    # ---- named tables ------------------------------------------------------------------------------
    def write_table(self, name, frame, meta=None):
        with self._writing() as (cat, gen):
            rel = self._write(f"tables/{_safe(name)}/{gen}.parquet", frame.reset_index(drop=True))
            cat["tables"][name] = {"file": rel, "meta": meta or {}}

    def read_table(self, name):
        t = self._catalogue()["tables"].get(name)
        if not t:
            return None
        path = self.root / t["file"]
        is_geo = b"geo" in (pq.read_schema(path).metadata or {})  # GeoParquet metadata
        return gpd.read_parquet(path) if is_geo else pd.read_parquet(path)

    def table_meta(self, name):
        t = self._catalogue()["tables"].get(name)
        return dict(t["meta"]) if t else None

    def destroy(self) -> None:
        """Delete the whole store directory."""
        shutil.rmtree(self.root, ignore_errors=True)


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)


def _partitions(table: pa.Table) -> tuple[pa.Table, dict[tuple[str, str], tuple[int, int]]]:
    """``table`` (with ``force`` and ``month`` columns) sorted by force-month, and where each (force, YYYY-MM) runs.

    One sort and one take for the whole table; each partition is then a zero-copy slice.
    """
    order, runs = batch.force_months(table)
    already = bool((order[1:] > order[:-1]).all())  # files arrive one force-month each: often sorted already
    return (table if already else table.take(pa.array(order))), {(f, _mkey(m)): r for (f, m), r in runs.items()}


_ASSIGNMENT_SCHEMA = pa.schema([pa.field("force", pa.string()), pa.field("month", pa.timestamp("us")),
                                pa.field("offence_id", pa.string())]
                               + [pa.field(lv, pa.string()) for lv in ASSIGNED_LEVELS])


def _assignment_table(a) -> pa.Table:
    """Assignment rows (DataFrame or Arrow table; None for none) as an Arrow table of the stored schema."""
    if a is None:
        return _ASSIGNMENT_SCHEMA.empty_table()
    if not isinstance(a, pa.Table):
        a = pa.Table.from_pandas(_clean_assignment(a), preserve_index=False)
    cols = []
    for f in _ASSIGNMENT_SCHEMA:
        col = a.column(f.name) if f.name in a.column_names else pa.nulls(len(a), f.type)
        cols.append(col.cast(f.type) if col.type != f.type else col)
    return pa.Table.from_arrays(cols, schema=_ASSIGNMENT_SCHEMA)


def _clean_assignment(a: pd.DataFrame) -> pd.DataFrame:
    a = a.copy()
    for c in ASSIGNED_LEVELS:
        if c not in a:
            a[c] = None
        a[c] = a[c].astype(object)
    a["month"] = pd.to_datetime(a["month"])
    return a[_ID_COLUMNS + list(ASSIGNED_LEVELS)].reset_index(drop=True)
