"""National scale: assignment and aggregation over the partitioned GeoParquet store with dask-geopandas.

The embedded store keeps one GeoParquet file per (force, month). :func:`read_store` opens the files the catalogue
points at with :func:`dask_geopandas.read_parquet`, one partition per force-month. Assignment runs per partition
with ``map_partitions`` and the same code as ingest (:func:`data.assignment.assign_offences`), so the codes are the
ones ingest stores; aggregation is a dask ``groupby(...).size()``, whose per-partition step is fused with the read
and the assignment, so only counts (one row per code, force, month and crime type) leave a worker. Memory therefore
follows the largest force-month, not the size of the store.

Runs on the ``distributed`` engine: a local cluster by default, or the scheduler given (``tcp://host:8786``), or a
``Client`` the caller already has. Needs the ``scale`` extra (``pip install 'crimemap[scale]'``).
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from data.assignment import assign_offences
from data.store import ASSIGNED_LEVELS
from geo.assign import OUTSIDE
from geo.errors import InputError, NotFoundError
from geo.hexgrid import cells_at
from geo.record import h3_resolution, parse_level

#: The columns of the counts :func:`aggregate_store` returns (those of ``data.aggregate.base_counts``).
COUNT_COLUMNS = ["code", "force", "month", "crime_type", "count"]
#: The offence columns the Dask path reads: what assignment and counting need, nothing more.
READ_COLUMNS = ["offence_id", "month", "force", "crime_type", "crime_type_source", "lsoa11", "h3_10", "geometry"]
#: The suffix ``data.aggregate`` gives 2011-format categories with no exact modern match (kept in step with it).
LEGACY_SUFFIX = " (2011 category)"
_KEYS = ["code", "force", "month", "crime_type"]


def partition_files(root: str | Path, *, months=None, forces=None, kind: str = "offences") -> list[Path]:
    """The current GeoParquet file of every (force, month) partition of an embedded store, oldest first.

    Only the catalogue says which files are current (older generations may still lie beside them), so the files are
    listed from it rather than found by a glob.
    """
    root = Path(root)
    cat_path = root / "catalogue.json"
    if not cat_path.exists():
        raise InputError(f"{root} is not an embedded crimemap store (no catalogue.json); the Dask path reads the "
                         "embedded store's GeoParquet partitions", param="store")
    parts = json.loads(cat_path.read_text())["partitions"].values()
    if months is not None:
        lo, hi = (f"{m.year:04d}-{m.month:02d}" for m in months)
        parts = [p for p in parts if lo <= p["month"] <= hi]
    if forces is not None:
        parts = [p for p in parts if p["force"] in set(forces)]
    return [root / p[kind] for p in sorted(parts, key=lambda p: (p["month"], p["force"]))]


def read_store(root: str | Path, *, months=None, forces=None, columns=READ_COLUMNS):
    """The offences of an embedded store as a dask-geopandas GeoDataFrame, one partition per force-month file.

    Parameters
    ----------
    root : path
        The embedded store directory.
    months : tuple of datetime.date, optional
        (first, last) month, both included.
    forces : list of str, optional
        Force slugs to include.

    Returns
    -------
    dask_geopandas.GeoDataFrame
        Lazy; nothing is read until it is computed. None when no partition matches.
    """
    import dask_geopandas

    files = partition_files(root, months=months, forces=forces)
    if not files:
        return None
    # the folders are named force=…/month=…: hive partitioning would add those again as clashing columns
    return dask_geopandas.read_parquet([str(f) for f in files], columns=list(columns), split_row_groups=False,
                                       gather_spatial_partitions=False, dataset={"partitioning": None})


def _crime_types(part: pd.DataFrame) -> np.ndarray:
    """police.uk category of each row; 2011-format rows keep their own name with :data:`LEGACY_SUFFIX`."""
    ct = part["crime_type"].astype(object)
    legacy = ct.isna()
    return ct.where(~legacy, part["crime_type_source"].astype(object) + LEGACY_SUFFIX).to_numpy(dtype=object)


def partition_codes(part: gpd.GeoDataFrame, level: str, layers: dict) -> pd.DataFrame:
    """Assign one partition of offences and return ``code, force, month, crime_type`` per offence.

    Polygon levels go through :func:`data.assignment.assign_offences` (an offence placed by no polygon or lookup
    is ``outside``); H3 levels use the stored resolution-10 cell or its parent (no cell: ``unlocated``), as
    ``data.aggregate.base_counts`` does.
    """
    res = h3_resolution(level)
    if res is not None:
        code = cells_at(part["h3_10"].astype(object).to_numpy(), res)
    else:
        code = assign_offences(part, layers)[level].astype(object).to_numpy()
        code = np.where(pd.isna(code), OUTSIDE, code)
    return pd.DataFrame({"code": code.astype(object), "force": part["force"].astype(object).to_numpy(),
                         "month": pd.to_datetime(part["month"]).to_numpy(dtype="datetime64[us]"),
                         "crime_type": _crime_types(part)})


def partition_assignment(part: gpd.GeoDataFrame, layers: dict) -> pd.DataFrame:
    """The assignment rows of one partition (``force, month, offence_id`` and a code per assigned level)."""
    a = assign_offences(part, layers)
    out = pd.DataFrame({"month": pd.to_datetime(a["month"]).to_numpy(dtype="datetime64[us]")})
    for col in ("force", "offence_id", *ASSIGNED_LEVELS):  # text even where a layer is not loaded (all None),
        out[col] = pd.Series(a[col].to_numpy(dtype=object), dtype="string")  # so every part has one schema
    return out[["force", "month", "offence_id", *ASSIGNED_LEVELS]]


def _codes_meta() -> pd.DataFrame:
    return pd.DataFrame({"code": pd.Series([], dtype=object), "force": pd.Series([], dtype=object),
                         "month": pd.Series([], dtype="datetime64[us]"),
                         "crime_type": pd.Series([], dtype=object)})


def _assignment_meta() -> pd.DataFrame:
    return partition_assignment(gpd.GeoDataFrame({c: [] for c in READ_COLUMNS}, geometry="geometry"), {})


def store_layers(root: str | Path) -> dict:
    """The boundary layers loaded in the embedded store at ``root``, as ingest passes them to assignment."""
    from data.embedded import EmbeddedStore
    from data.ingest import loaded_layers

    return loaded_layers(EmbeddedStore(str(root)))


@contextmanager
def dask_client(scheduler: str | None = None, *, client=None, n_workers: int = 2, memory_limit: str = "2GB",
                connect_timeout: str = "20s"):
    """A ``distributed`` client: the one given, one connected to ``scheduler``, or a local cluster's.

    A client or cluster made here is closed on leaving; one that was given is left open.
    """
    if client is not None:
        yield client
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise InputError("the Dask path needs dask-geopandas and distributed: pip install 'crimemap[scale]'") from None
    if scheduler:
        try:
            made = Client(scheduler, timeout=connect_timeout)
        except (OSError, TimeoutError) as e:
            raise InputError(f"cannot reach the Dask scheduler {scheduler[:80]!r} ({str(e)[:120]}); expected the "
                             "address of a running scheduler such as tcp://host:8786", param="scheduler") from None
        with made:
            yield made
        return
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, memory_limit=memory_limit,
                      dashboard_address=None, processes=True) as cluster, Client(cluster) as made:
        yield made


def _check_level(level: str, layers: dict) -> str:
    level = parse_level(level, param="level")
    if h3_resolution(level) is None and level not in ASSIGNED_LEVELS:
        raise InputError(f"level {level!r} cannot be aggregated on Dask; expected one of "
                         f"{', '.join(ASSIGNED_LEVELS)} or h3:7 … h3:10", param="level")
    if level in ("ward", "parish") and level not in layers:
        raise NotFoundError(f"no {level} boundaries are loaded; load them with `crimemap boundaries load FILE "
                            f"--level {level}`", param="level")
    return level


def aggregate_store(root: str | Path, level: str, layers: dict | None = None, *, months=None, forces=None,
                    scheduler: str | None = None, n_workers: int = 2, memory_limit: str = "2GB",
                    client=None, connect_timeout: str = "20s") -> pd.DataFrame:
    """Offences of a whole embedded store counted per ``code, force, month, crime_type`` at ``level``, on Dask.

    The same table as ``data.aggregate.base_counts(store, level)``, computed partition-wise so that no
    process holds more than one force-month of offences.

    Parameters
    ----------
    root : path
        The embedded store directory (its partitioned GeoParquet files).
    level : str
        An assigned level (``ward``, ``lsoa``, ``lad``, ``csp``, ``pfa``, ``parish``) or ``h3:7`` … ``h3:10``.
    layers : dict, optional
        ``{level: (polygons, meta)}`` as :func:`data.assignment.assign_offences` takes them; by default the
        layers loaded in the store.
    months, forces : optional
        Restrict to (first, last) months and to these force slugs.
    scheduler : str, optional
        A ``distributed`` scheduler address; by default a local cluster of ``n_workers`` processes
        (one thread each, ``memory_limit`` each). Ignored when ``client`` is given; ``connect_timeout`` is how
        long to try reaching it.

    Returns
    -------
    pandas.DataFrame
        ``code, force, month, crime_type, count``, sorted by the first four.
    """
    offences = read_store(root, months=months, forces=forces)  # first: it checks that root is a store
    layers = store_layers(root) if layers is None else layers
    level = _check_level(level, layers)
    if offences is None:
        return pd.DataFrame({c: pd.Series([], dtype="int64" if c == "count" else object) for c in COUNT_COLUMNS})
    with dask_client(scheduler, client=client, n_workers=n_workers, memory_limit=memory_limit,
                     connect_timeout=connect_timeout) as c:
        lay = _on_workers(c, layers, level)
        codes = offences.map_partitions(partition_codes, level, lay, meta=_codes_meta())
        counts = codes.groupby(_KEYS, dropna=False, sort=False).size(split_out=1)  # a tree reduction: counts are small
        out = c.compute(counts, sync=True)
    out = out.rename("count").reset_index()
    out["count"] = out["count"].astype("int64")
    return out.sort_values(_KEYS[:-1] + ["crime_type"]).reset_index(drop=True)[COUNT_COLUMNS]


def assign_store(root: str | Path, out_dir: str | Path, layers: dict | None = None, *, months=None, forces=None,
                 scheduler: str | None = None, n_workers: int = 2, memory_limit: str = "2GB", client=None,
                 connect_timeout: str = "20s") -> int:
    """Assign every offence of an embedded store on Dask and write the assignment rows as Parquet to ``out_dir``.

    One Parquet file per force-month partition (``part.N.parquet``), with the columns ``force, month,
    offence_id`` and one per assigned level; returns the number of rows written.
    """
    offences = read_store(root, months=months, forces=forces)
    layers = store_layers(root) if layers is None else layers
    if offences is None:
        return 0
    with dask_client(scheduler, client=client, n_workers=n_workers, memory_limit=memory_limit,
                     connect_timeout=connect_timeout) as c:
        lay = _on_workers(c, layers, None)
        rows = offences.map_partitions(partition_assignment, lay, meta=_assignment_meta())
        c.compute(rows.to_parquet(str(out_dir), write_index=False, compute=False), sync=True)
    return sum(pq.ParquetFile(f).metadata.num_rows for f in Path(out_dir).glob("*.parquet"))


def _on_workers(client, layers: dict, level: str | None):
    """The layers a task needs, sent once to every worker (a future the tasks take as an argument)."""
    if level is not None and h3_resolution(level) is not None:
        return {}  # H3 cells are stored with the offences: no polygons to send
    import dask

    return dask.delayed(client.scatter(layers, broadcast=True))
