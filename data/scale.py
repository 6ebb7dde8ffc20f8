"""National scale: assignment and aggregation over the partitioned GeoParquet store on Dask ``distributed``.

The embedded store keeps one GeoParquet file per (force, month). Here each file is one ``distributed`` task: it is read,
assigned to the loaded layers with the same code as ingest (:func:`data.assignment.assign_offences`) and reduced
to counts per (code, month, crime_type) before anything leaves the worker, so memory follows the largest
force-month, not the size of the store. Runs on a local ``distributed`` cluster by default, or on the scheduler
given (``tcp://host:8786``). Needs the ``scale`` extra (``pip install 'crimemap[scale]'``).
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd

from data.assignment import assign_offences
from data.store import ASSIGNED_LEVELS
from geo.errors import InputError

COUNT_COLUMNS = ["code", "month", "crime_type", "count"]


def partition_files(root: str | Path, *, months=None, forces=None, kind: str = "offences") -> list[Path]:
    """The current GeoParquet file of every (force, month) partition of an embedded store, oldest first."""
    root = Path(root)
    cat_path = root / "catalogue.json"
    if not cat_path.exists():
        raise InputError(f"{root} is not an embedded crimemap store (no catalogue.json)", param="store")
    parts = json.loads(cat_path.read_text())["partitions"].values()
    if months is not None:
        lo, hi = (f"{m.year:04d}-{m.month:02d}" for m in months)
        parts = [p for p in parts if lo <= p["month"] <= hi]
    if forces is not None:
        parts = [p for p in parts if p["force"] in set(forces)]
    return [root / p[kind] for p in sorted(parts, key=lambda p: (p["month"], p["force"]))]


def count_partition(path: Path, level: str, layers: dict) -> pd.DataFrame:
    """Read one force-month, assign it, and count offences per (code, month, crime_type)."""
    offences = gpd.read_parquet(path, columns=["offence_id", "month", "force", "crime_type", "lsoa11", "geometry"])
    assigned = assign_offences(offences, layers)
    frame = pd.DataFrame({"code": assigned[level].to_numpy(dtype=object),
                          "month": pd.to_datetime(offences["month"]).to_numpy(),
                          "crime_type": offences["crime_type"].to_numpy(dtype=object)})
    return frame.groupby(["code", "month", "crime_type"], dropna=False).size().rename("count").reset_index()


def assign_partition(path: Path, out_dir: Path, layers: dict) -> int:
    """Assign one force-month and write its assignment rows as Parquet beside the others; return the rows."""
    offences = gpd.read_parquet(path, columns=["offence_id", "month", "force", "lsoa11", "geometry"])
    assigned = assign_offences(offences, layers)
    target = Path(out_dir) / f"{path.parent.parent.name}_{path.parent.name}.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    assigned.to_parquet(target, index=False)
    return len(assigned)


def _client(scheduler: str | None, n_workers: int, memory_limit: str):
    from distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler), None
    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, memory_limit=memory_limit,
                           dashboard_address=None, processes=True)
    return Client(cluster), cluster


def aggregate_store(root: str | Path, level: str, layers: dict, *, months=None, forces=None,
                    scheduler: str | None = None, n_workers: int = 2, memory_limit: str = "2GB",
                    client=None) -> pd.DataFrame:
    """Counts per (code, month, crime_type) of a whole embedded store at ``level``, computed partition-wise on Dask.

    Parameters
    ----------
    root : path
        The embedded store directory (its partitioned GeoParquet files).
    level : str
        One of the assigned levels (``ward``, ``lsoa``, ``lad``, ``csp``, ``pfa``, ``parish``).
    layers : dict
        ``{level: (polygons, meta)}`` as :func:`data.assignment.assign_offences` takes them.
    scheduler : str, optional
        A distributed scheduler address; by default a local cluster of ``n_workers`` processes.
    """
    if level not in ASSIGNED_LEVELS:
        raise InputError(f"level {level!r} cannot be aggregated on Dask; expected one of {', '.join(ASSIGNED_LEVELS)}",
                         param="level")
    files = partition_files(root, months=months, forces=forces)
    if not files:
        return pd.DataFrame({c: [] for c in COUNT_COLUMNS})
    own = client is None
    cluster = None
    if own:
        client, cluster = _client(scheduler, n_workers, memory_limit)
    try:
        scattered = client.scatter(layers, broadcast=True)  # the polygons travel to each worker once
        futures = client.map(count_partition, files, level=level, layers=scattered, pure=False)
        counts = pd.concat(client.gather(futures), ignore_index=True)  # small: one row per code-month-type
        out = counts.groupby(["code", "month", "crime_type"], dropna=False)["count"].sum()
    finally:
        if own:
            client.close()
            if cluster is not None:
                cluster.close()
    return out.reset_index().sort_values(["code", "month", "crime_type"]).reset_index(drop=True)
