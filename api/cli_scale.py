"""``crimemap scale counts|assign``: the national-scale path (dask-geopandas on ``distributed``), embedded store.

For stores bigger than one machine's memory: the partitioned GeoParquet store is read one force-month at a time by
Dask workers, on a local cluster by default or on the scheduler given with ``--scheduler``. Counts are raw (the
analyst's view, as every CLI command by default); ``crimemap aggregate`` adds names, rates and suppression.
"""

from __future__ import annotations

from pathlib import Path

import typer

from api.cli import StoreOption, app
from api.console import err
from api.exports import write_table
from data.scale import aggregate_store, assign_store
from data.store import default_store_location
from geo.errors import InputError
from geo.record import LEVELS, month_label, parse_level, parse_months

scale = typer.Typer(help="National scale: count or assign the embedded store on Dask (needs the 'scale' extra).",
                    no_args_is_help=True)
app.add_typer(scale, name="scale")

MonthsOption = typer.Option(None, "--months", help="YYYY-MM or YYYY-MM..YYYY-MM (default: all stored).")
ForceOption = typer.Option(None, "--force", help="Force slug(s) to include.")
SchedulerOption = typer.Option(None, "--scheduler", envvar="CRIMEMAP_DASK_SCHEDULER",
                               help="Address of a running Dask scheduler (tcp://host:8786); default: a local "
                               "cluster of --workers processes.")
WorkersOption = typer.Option(2, "--workers", min=1, help="Worker processes of the local cluster (one thread each).")
MemoryOption = typer.Option("2GB", "--memory-limit", help="Memory limit of each local worker.")


def _embedded(store: str | None) -> Path:
    loc = str(store) if store is not None else default_store_location()
    if "://" in loc:
        raise InputError(f"store {loc[:60]!r} is not an embedded store directory; the Dask path reads the embedded "
                         "store's GeoParquet partitions (a postgresql:// store aggregates in SQL: crimemap "
                         "aggregate)", param="store")
    return Path(loc)


@scale.command("counts")
def counts_cmd(
    level: str = typer.Option(..., "--level", help=f"One of {', '.join(LEVELS)}."),
    out_path: Path = typer.Option(..., "--out", help="Write .csv or .parquet: code, force, month, crime_type, count."),
    months: str | None = MonthsOption,
    force: list[str] | None = ForceOption,
    scheduler: str | None = SchedulerOption,
    workers: int = WorkersOption,
    memory_limit: str = MemoryOption,
    store: str | None = StoreOption,
) -> None:
    """Count every stored offence per area (or H3 cell), force, month and crime type, partition by partition."""
    lv = parse_level(level)
    if out_path.suffix.lower() not in (".csv", ".parquet"):
        raise InputError(f"--out {out_path.name[:60]!r} has an extension the counts cannot be written as; "
                         "expected .csv or .parquet", param="out")
    table = aggregate_store(_embedded(store), lv, months=parse_months(months), forces=force, scheduler=scheduler,
                            n_workers=workers, memory_limit=memory_limit)
    if out_path.suffix.lower() == ".csv":
        table = table.assign(month=[month_label(m) for m in table["month"]])
    write_table(table, out_path, {"level": lv, "months": months, "rows": len(table), "engine": "dask",
                                  "scheduler": scheduler or f"local cluster of {workers}"})
    err.print(f"{lv}: {len(table)} rows, {int(table['count'].sum()):,} offences written to {out_path}",
              markup=False)


@scale.command("assign")
def assign_cmd(
    out_dir: Path = typer.Option(..., "--out", help="Folder for the assignment Parquet files (one per force-month)."),
    months: str | None = MonthsOption,
    force: list[str] | None = ForceOption,
    scheduler: str | None = SchedulerOption,
    workers: int = WorkersOption,
    memory_limit: str = MemoryOption,
    store: str | None = StoreOption,
) -> None:
    """Assign every stored offence to the store's boundary layers and write the rows as Parquet."""
    if out_dir.exists() and any(out_dir.iterdir()):
        raise InputError(f"--out {str(out_dir)[:80]!r} is not empty; expected a new or empty folder", param="out")
    rows = assign_store(_embedded(store), out_dir, months=parse_months(months), forces=force, scheduler=scheduler,
                        n_workers=workers, memory_limit=memory_limit)
    err.print(f"{rows:,} assignment rows written to {out_dir}", markup=False)
