"""Ingest police.uk files into a store: read, validate, de-duplicate, assign, commit atomically.

Every row read is stored, recognised as a duplicate, or rejected with a reason:
``rows = stored + duplicates + rejected`` for every file and every ingest. A duplicate is a
(force, month, offence_id) already stored or repeated in the input (the first occurrence is kept).
File-level faults raise before anything is written, so a failed ingest changes nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import multiprocessing as mp
import os
import shutil
import signal
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from data import batch
from data.assignment import assign_batch, assign_offences, warm_assignment
from data.readers import REJECT_COLUMNS, ReadResult, expand_paths, read_crime_file
from data.store import ASSIGNED_LEVELS, Store
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


def iter_read(sources, advance=lambda n=1, description=None: None, *, workers: int | None = None,
              layers: dict | None = None):
    """``(ReadResult, assignment)`` of each source (from :func:`data.readers.expand_paths`), in order; raises
    InputError (nothing read is kept) on the first file-level fault.

    Files are read on ``workers`` processes (default: one per CPU when the input is larger than
    :data:`PARALLEL_BYTES`, else this process); results come back in input order either way. With ``layers``,
    workers also assign what they read (:func:`assign_batch` on a task of several files at once, aligned with
    ``ReadResult.table``); in this process, or without ``layers``, ``assignment`` is None and the caller assigns.
    """
    sizes = [_source_bytes(s) for s in sources]
    if workers is None:
        workers = os.cpu_count() or 1 if sum(sizes) > PARALLEL_BYTES else 1
    workers = max(1, min(workers, len(sources)))
    if workers == 1 or "fork" not in mp.get_all_start_methods():
        for s in sources:
            advance(0, description=f"reading {Path(s.name).name}")
            yield read_crime_file(s.name, s.read_bytes()), None
            advance(1)
        return
    if layers:
        warm_assignment(layers)  # lookups and trees made once here are shared by the forked workers
    _clear_stale_handovers()
    handover = tempfile.mkdtemp(prefix=f"{_HANDOVER_PREFIX}{os.getpid()}-", dir=_SHM)
    try:
        advance(0, description=f"reading {len(sources)} files on {workers} processes")
        # the workers' state comes with the fork (sources hold closures, which do not pickle)
        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork"), initializer=_worker_init,
                                 initargs=(sources, layers, handover)) as pool:
            for out in pool.map(_read_task, _tasks(sizes, workers), chunksize=1):
                if isinstance(out, _Fault):  # a file-level fault in a worker
                    raise InputError(out.message, param=out.param)
                results, lengths, handed = out
                offences, assignment = _take_over(handed)
                start = 0
                for r, n in zip(results, lengths, strict=True):
                    r.table = offences.slice(start, n)
                    yield r, (assignment.slice(start, n) if assignment is not None else None)
                    start += n
                    advance(1)
    finally:  # the pool has shut down: no worker writes here any more
        shutil.rmtree(handover, ignore_errors=True)


#: Input bytes per worker task: big enough that assigning a task's offences in one call costs little extra,
#: small enough that the last task to finish leaves the other worker idle only briefly.
TASK_BYTES = 8 << 20
_SOURCES: list = []  # a worker's state (set by _worker_init in each worker process)
_LAYERS: dict | None = None
_HANDOVER = ""  # the read's hand-over folder under _SHM
#: Where workers put what they read: shared memory when the system has it, else the temporary folder.
_SHM = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
_HANDOVER_PREFIX = "crimemap-read-"


def _worker_init(sources, layers, handover) -> None:
    global _SOURCES, _LAYERS, _HANDOVER
    _SOURCES, _LAYERS, _HANDOVER = sources, layers, handover
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a worker stopped by its pool just ends (no CLI handler)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent winds the pool down


def _clear_stale_handovers() -> None:
    """Remove the hand-over folders of reads whose process is gone (killed before its own clean-up)."""
    for d in Path(_SHM or tempfile.gettempdir()).glob(f"{_HANDOVER_PREFIX}*"):
        pid = d.name.removeprefix(_HANDOVER_PREFIX).split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(d, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


@dataclass
class _Fault:
    """A file-level fault met in a worker (sent back as data: exceptions lose their attributes when pickled)."""

    message: str
    param: str | None


def _tasks(sizes: list[int], workers: int) -> list[list[int]]:
    """Runs of consecutive sources (given by their sizes in bytes) of about :data:`TASK_BYTES` (at least two tasks
    per worker)."""
    target = max(1, min(TASK_BYTES, sum(sizes) // (2 * workers)))
    tasks, cur, size = [], [], 0
    for i, n in enumerate(sizes):
        cur.append(i)
        size += n
        if size >= target:
            tasks.append(cur)
            cur, size = [], 0
    return tasks + ([cur] if cur else [])


def _read_task(indices: list[int]):
    """Read (and with ``_LAYERS`` assign) the sources ``indices``, in a worker; a file fault is returned."""
    results = []
    for i in indices:
        s = _SOURCES[i]
        try:
            results.append(read_crime_file(s.name, s.read_bytes()))
        except InputError as e:
            return _Fault(str(e), e.param)
    tables = [batch.conform(r.table, extra=("source_line",)) for r in results]
    offences = pa.concat_tables(tables)
    assignment = assign_batch(offences, _LAYERS) if _LAYERS else None
    for r in results:
        r.table = None
    handed = _hand_over(offences, assignment)
    return results, [len(t) for t in tables], handed


def _hand_over(offences: pa.Table, assignment: pa.Table | None):
    """A worker's tables for the parent: an Arrow IPC file in this read's hand-over folder, which the parent maps
    without copying (a pickle through the pipe costs a copy at each end and the parent's time); the tables
    themselves when the file cannot be written (e.g. shared memory full)."""
    both = offences
    if assignment is not None:
        for name in ASSIGNED_LEVELS:
            both = both.append_column(f"assigned.{name}", assignment.column(name))
    path = None
    try:
        fd, path = tempfile.mkstemp(suffix=".arrow", dir=_HANDOVER)
        with os.fdopen(fd, "wb") as f, pa.ipc.new_file(f, both.schema) as w:
            w.write_table(both)
        return path
    except OSError:
        if path is not None:
            with contextlib.suppress(OSError):
                os.unlink(path)
        return both


def _take_over(handed) -> tuple[pa.Table, pa.Table | None]:
    """The (offences, assignment) a worker handed over (:func:`_hand_over`); the file is removed once mapped."""
    if isinstance(handed, str):
        try:
            both = pa.ipc.open_file(pa.memory_map(handed)).read_all()
        finally:
            os.unlink(handed)
    else:
        both = handed
    names = [n for n in both.column_names if n.startswith("assigned.")]
    if not names:
        return both, None
    assignment = pa.table({**{c: both.column(c) for c in ("force", "month", "offence_id")},
                           **{n.removeprefix("assigned."): both.column(n) for n in names}})
    return both.drop_columns(names), assignment


def _source_bytes(s) -> int:
    p = Path(s.name.split("!", 1)[0])
    return p.stat().st_size if p.is_file() else 0


def count_sources(paths) -> int:
    return len(expand_paths(paths)[0])


def ingest(store: Store, paths, *, replace: bool = False, reject_path: str | Path | None = None,
           advance=lambda n=1, description=None: None, workers: int | None = None) -> IngestReport:
    """Ingest police.uk files (CSV, .csv.gz, archive zip, folder, 2011 format) into ``store``.

    With ``replace``, every force-month present in the input is emptied first and filled from the input alone.
    ``workers``: processes reading and assigning files (see :func:`iter_read`).
    """
    sources, ignored = expand_paths(paths)
    layers = loaded_layers(store)
    # files are assigned to areas in batches while the workers read on (assignment is row by row, so batches give
    # what one call would); duplicates are dropped from both tables afterwards
    results: list[ReadResult] = []
    read: list[pa.Table] = []  # each file's offences as a batch
    assigned: list[pa.Table | None] = []  # ... and their assignment, when a worker made it

    for r, a in iter_read(sources, advance, workers=workers, layers=layers):
        results.append(r)
        read.append(batch.conform(r.table))
        assigned.append(a)
    todo = [i for i, a in enumerate(assigned) if a is None]
    if todo:
        advance(0, description="assigning to areas")
        a = assign_batch(pa.concat_tables([read[i] for i in todo]), layers)
        start = 0
        for i in todo:
            assigned[i] = a.slice(start, len(read[i]))
            start += len(read[i])
    report = IngestReport(ignored=ignored)
    reps = [FileReport(r.source, r.sha256, r.fmt, r.rows, rejected=len(r.rejects)) for r in results]
    report.files = reps
    # files in force-month order (a police.uk file holds one force-month), so the store's partitions are runs of
    # rows and need no sort; files of one force-month keep their input order ("first occurrence kept" holds)
    order = sorted(range(len(results)), key=lambda i: _first_force_month(results[i].table))
    tables = [read[i] for i in order]
    allnew = pa.concat_tables(tables) if tables else batch.empty()
    alla = pa.concat_tables([assigned[i] for i in order]) if tables else assign_batch(allnew, layers)
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

    assignment = batch.keep_rows(alla, ~dup)
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
