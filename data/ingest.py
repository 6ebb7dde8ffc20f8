"""Ingest police.uk files into a store: read, validate, de-duplicate, assign, commit atomically.

Every row read is stored, recognised as a duplicate, or rejected with a reason:
``rows = stored + duplicates + rejected`` for every file and every ingest. A duplicate is a
(force, month, offence_id) already stored or repeated in the input (the first occurrence is kept).
File-level faults raise before anything is written, so a failed ingest changes nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from data.assignment import assign_offences
from data.readers import REJECT_COLUMNS, ReadResult, expand_paths, read_crime_file
from data.store import Store
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


def read_all(paths, advance=lambda n=1, description=None: None) -> tuple[list[ReadResult], list[str]]:
    """Read every crime file under ``paths``; raises InputError (nothing read is kept) on any file-level fault."""
    sources, ignored = expand_paths(paths)
    results = []
    for s in sources:
        advance(0, description=f"reading {Path(s.name).name}")
        results.append(read_crime_file(s.name, s.read_bytes()))
        advance(1)
    return results, ignored


def count_sources(paths) -> int:
    return len(expand_paths(paths)[0])


def ingest(store: Store, paths, *, replace: bool = False, reject_path: str | Path | None = None,
           advance=lambda n=1, description=None: None) -> IngestReport:
    """Ingest police.uk files (CSV, .csv.gz, archive zip, folder, 2011 format) into ``store``.

    With ``replace``, every force-month present in the input is emptied first and filled from the input alone.
    """
    results, ignored = read_all(paths, advance)
    report = IngestReport(ignored=ignored)
    frames, reps = [], []
    for r in results:
        rep = FileReport(r.source, r.sha256, r.fmt, r.rows, rejected=len(r.rejects))
        report.files.append(rep)
        reps.append(rep)
        o = r.offences.copy()
        o["_file"] = len(reps) - 1
        frames.append(o)
    allnew = pd.concat(frames, ignore_index=True) if frames else gpd.GeoDataFrame()
    rejects = [r.rejects for r in results if len(r.rejects)]
    report.rejects = pd.concat(rejects, ignore_index=True) if rejects else pd.DataFrame(columns=REJECT_COLUMNS)

    replace_keys: set[tuple[str, dt.date]] = set()
    if len(allnew):
        allnew["month"] = pd.to_datetime(allnew["month"])
        keys = allnew[["force", "month"]].drop_duplicates()
        if replace:
            replace_keys = {(f, m.date()) for f, m in zip(keys["force"], keys["month"], strict=True)}
            report.replaced = sorted(f"{f} {month_label(m)}" for f, m in replace_keys)
        # repeated in the input (first occurrence kept) ...
        dup = allnew.duplicated(subset=["force", "month", "offence_id"], keep="first").to_numpy().copy()
        # ... or already stored
        if not replace:
            for f, m in zip(keys["force"], keys["month"], strict=True):
                have = store.offence_ids(f, m.date())
                if len(have):
                    sel = ((allnew["force"] == f) & (allnew["month"] == m)).to_numpy()
                    dup |= sel & allnew["offence_id"].isin(have).to_numpy()
        per_file = np.bincount(allnew["_file"].to_numpy()[dup], minlength=len(reps))
        for i, rep in enumerate(reps):
            rep.duplicates = int(per_file[i])
        new = allnew[~dup]
    else:
        new = allnew
    if len(new):
        fidx = new["_file"].to_numpy()
        stored = np.bincount(fidx, minlength=len(reps))
        located = np.bincount(fidx[new.geometry.notna().to_numpy()], minlength=len(reps))
        for i, rep in enumerate(reps):
            rep.stored = int(stored[i])
            rep.located = int(located[i])
            rep.unlocated = rep.stored - rep.located
        new = gpd.GeoDataFrame(new.drop(columns=["_file", "source_line"]), geometry="geometry", crs="EPSG:4326")
    for rep in reps:
        assert rep.rows == rep.stored + rep.duplicates + rep.rejected, rep  # nothing lost silently

    layers = loaded_layers(store)
    advance(0, description="assigning to areas")
    assignment = assign_offences(new, layers) if len(new) else assign_offences(
        gpd.GeoDataFrame({"force": [], "month": [], "offence_id": [], "lsoa11": []}, geometry=[], crs="EPSG:4326"),
        layers)
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
