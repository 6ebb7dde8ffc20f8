"""Ingest police.uk files into a store: read, validate, de-duplicate, assign, commit atomically.

Every row read is stored, recognised as a duplicate, or rejected with a reason:
``rows = stored + duplicates + rejected`` for every file and every ingest. A duplicate is a
(force, month, offence_id) already stored or repeated in the input (the first occurrence is kept).
File-level faults raise before anything is written, so a failed ingest changes nothing.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from data import batch
from data.assignment import assign_batch, assign_offences
from data.readers import REJECT_COLUMNS, ReadResult, expand_paths, read_crime_file
from data.store import Store
from geo.errors import InputError
from geo.record import month_label


@dataclass
class FileReport:
    """Counts of one file."""

    source: str
    sha256: str
    fmt: str
    rows: int
    stored: int = 0
    located: int = 0
    unlocated: int = 0
    duplicates: int = 0
    rejected: int = 0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class IngestReport:
    """What an ingest did."""

    files: list[FileReport] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    rejects: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=REJECT_COLUMNS))
    reject_file: str | None = None
    replaced: list[str] = field(default_factory=list)

    def total(self, key: str) -> int:
        return sum(getattr(f, key) for f in self.files)


#: Below this many bytes of input, files are read in this process (starting workers would cost more).
PARALLEL_BYTES = 16 << 20


def read_all(paths, advance=lambda n=1, description=None: None, *, workers: int | None = None
             ) -> tuple[list[ReadResult], list[str]]:
    """Read every crime file under ``paths``; raises InputError (nothing read is kept) on any file-level fault.

    Files are read on ``workers`` processes (default: one per CPU when the input is larger than
    :data:`PARALLEL_BYTES`, else this process); results come back in input order either way.
    """
    sources, ignored = expand_paths(paths)
    if workers is None:
        workers = os.cpu_count() or 1 if _input_bytes(sources) > PARALLEL_BYTES else 1
    workers = max(1, min(workers, len(sources)))
    results = []
    if workers == 1 or "fork" not in mp.get_all_start_methods():
        for s in sources:
            advance(0, description=f"reading {Path(s.name).name}")
            results.append(read_crime_file(s.name, s.read_bytes()))
            advance(1)
        return results, ignored
    global _SOURCES
    _SOURCES = sources  # inherited by the forked workers: sources hold closures, which do not pickle
    try:
        advance(0, description=f"reading {len(sources)} files on {workers} processes")
        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork")) as pool:
            for out in pool.map(_read_one, range(len(sources)), chunksize=1):
                if isinstance(out, tuple):  # a file-level fault in a worker: (message, param)
                    raise InputError(out[0], param=out[1])
                results.append(out)
                advance(1)
    finally:
        _SOURCES = []
    return results, ignored


_SOURCES: list = []


def _read_one(i: int):
    s = _SOURCES[i]
    try:
        return read_crime_file(s.name, s.read_bytes())
    except InputError as e:
        return (str(e), e.param)


def _input_bytes(sources) -> int:
    total = 0
    for s in sources:
        p = Path(s.name.split("!", 1)[0])
        total += p.stat().st_size if p.is_file() else 0
    return total


def count_sources(paths) -> int:
    return len(expand_paths(paths)[0])


def ingest(store: Store, paths, *, replace: bool = False, reject_path: str | Path | None = None,
           advance=lambda n=1, description=None: None, workers: int | None = None) -> IngestReport:
    """Ingest police.uk files (CSV, .csv.gz, archive zip, folder, 2011 format) into ``store``.

    With ``replace``, every force-month present in the input is emptied first and filled from the input alone.
    ``workers``: processes reading files (see :func:`read_all`).
    """
    results, ignored = read_all(paths, advance, workers=workers)
    report = IngestReport(ignored=ignored)
    reps = [FileReport(r.source, r.sha256, r.fmt, r.rows, rejected=len(r.rejects)) for r in results]
    report.files = reps
    # files in force-month order (a police.uk file holds one force-month), so the store's partitions are runs of
    # rows and need no sort; files of one force-month keep their input order ("first occurrence kept" holds)
    order = sorted(range(len(results)), key=lambda i: _first_force_month(results[i].table))
    tables = [batch.conform(results[i].table) for i in order]
    allnew = pa.concat_tables(tables) if tables else batch.empty()
    file_of = np.repeat(np.asarray(order, dtype=np.int64), [len(t) for t in tables])
    rejects = [r.rejects for r in results if len(r.rejects)]
    report.rejects = pd.concat(rejects, ignore_index=True) if rejects else pd.DataFrame(columns=REJECT_COLUMNS)

    replace_keys: set[tuple[str, dt.date]] = set()
    dup = np.zeros(len(allnew), dtype=bool)
    if len(allnew):
        grouped, runs = batch.force_months(allnew)
        keys = {key: grouped[a:b] for key, (a, b) in runs.items()}
        if replace:
            replace_keys = {(f, m) for f, m in keys}
            report.replaced = sorted(f"{f} {month_label(m)}" for f, m in replace_keys)
        # repeated in the input (first occurrence kept): rows whose offence_id came before, then the exact
        # (force, month, offence_id) test on those few
        rows = np.flatnonzero(batch.repeated(allnew.column("offence_id")))
        if len(rows):
            few = allnew.select(["force", "month", "offence_id"]).take(pa.array(rows)).to_pandas()
            dup[rows] = few.duplicated(keep="first").to_numpy()
        # ... or already stored
        if not replace:
            for (f, m), rows in keys.items():
                have = store.offence_ids(f, m)
                if len(have):
                    ids = allnew.column("offence_id").take(pa.array(rows))
                    dup[rows] |= pc.is_in(ids, value_set=pa.array(np.asarray(have, dtype=object), pa.string())
                                          ).to_numpy(zero_copy_only=False)
    new = batch.keep_rows(allnew, ~dup)
    fidx = file_of[~dup]
    per_file = np.bincount(file_of[dup], minlength=len(reps))
    stored = np.bincount(fidx, minlength=len(reps))
    located = np.bincount(fidx[batch.located(new)], minlength=len(reps))
    for i, rep in enumerate(reps):
        rep.duplicates, rep.stored, rep.located = int(per_file[i]), int(stored[i]), int(located[i])
        rep.unlocated = rep.stored - rep.located
        assert rep.rows == rep.stored + rep.duplicates + rep.rejected, rep  # nothing lost silently

    advance(0, description="assigning to areas")
    assignment = assign_batch(new, loaded_layers(store))
    if reject_path is not None and len(report.rejects):
        Path(reject_path).parent.mkdir(parents=True, exist_ok=True)
        report.rejects.to_csv(reject_path, index=False)
        report.reject_file = str(reject_path)
    record = {
        "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "files": [f.as_dict() for f in report.files],
        "ignored": ignored,
        "replaced": report.replaced,
        "rows": report.total("rows"), "stored": report.total("stored"),
        "duplicates": report.total("duplicates"), "rejected": report.total("rejected"),
        "reject_file": report.reject_file,
    }
    advance(0, description="writing")
    store.commit_ingest(new, assignment, record, replace=replace_keys)
    return report


def _first_force_month(table: pa.Table) -> tuple[str, int]:
    if not len(table):
        return ("", 0)
    return (table.column("force")[0].as_py() or "", table.column("month")[0].value)


def loaded_layers(store: Store) -> dict[str, tuple[gpd.GeoDataFrame, dict]]:
    """Every boundary layer in ``store`` as {level: (polygons, metadata)}, the input of the assignment."""
    return {lv: (store.read_layer(lv), meta) for lv, meta in store.layers().items()}


def reassign_all(store: Store, extra_layer: tuple[str, gpd.GeoDataFrame, dict] | None = None) -> pd.DataFrame:
    """The assignment of everything stored, with ``extra_layer`` (level, polygons, meta) added or replacing."""
    layers = loaded_layers(store)
    if extra_layer is not None:
        lv, poly, meta = extra_layer
        layers[lv] = (poly, meta)
    offences = store.read_offences(columns=["offence_id", "month", "force", "lsoa11", "geometry"])
    return assign_offences(offences, layers)
