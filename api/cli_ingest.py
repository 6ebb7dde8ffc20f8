"""``crimemap ingest`` and ``crimemap coverage``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import typer
from rich.table import Table

from api.cli import StoreOption, app
from api.console import err, out, progress
from data.ingest import count_sources, ingest
from data.store import open_store
from geo.record import month_label


def default_reject_path(store) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    base = Path(store.location) / "rejects" if hasattr(store, "root") else Path.cwd()
    return base / f"rejects-{stamp}.csv"


@app.command("ingest")
def ingest_cmd(
    paths: list[Path] = typer.Argument(..., help="police.uk CSV, .csv.gz, archive zip, folder, or 2011-format file."),
    replace: bool = typer.Option(False, "--replace", help="Replace the force-months in the input instead of adding."),
    rejects: Path | None = typer.Option(None, "--rejects", help="Reject file (CSV: file, line, reason)."),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Processes that read and assign files "
                                       "(default: one per CPU when the input is over 16 MB, else 1)."),
    store: str | None = StoreOption,
) -> None:
    """Ingest police.uk offence files: every row is stored, a duplicate, or rejected with a reason."""
    st = open_store(store)
    with progress("ingesting", total=count_sources(paths)) as advance:
        reject_path = rejects or default_reject_path(st)
        rep = ingest(st, paths, replace=replace, reject_path=reject_path, advance=advance, workers=workers)
    for f in rep.files:
        err.print(f"{f.source}: {f.rows} rows read = {f.stored} stored ({f.located} located, {f.unlocated} unlocated)"
                  f" + {f.duplicates} duplicates + {f.rejected} rejected", markup=False)
    for ig in rep.ignored:
        err.print(f"ignored (not a street-crime file): {ig}", markup=False)
    if rep.replaced:
        err.print(f"replaced: {', '.join(rep.replaced)}", markup=False)
    if len(rep.rejects):
        for r in rep.rejects.head(20).itertuples():
            err.print(f"rejected {r.file}:{r.line}: {r.reason}", markup=False)
        more = len(rep.rejects) - 20
        err.print(f"{len(rep.rejects)} rejected rows{f' ({more} more not shown)' if more > 0 else ''} written to "
                  f"{rep.reject_file}", markup=False)
    err.print(f"total: {rep.total('rows')} read = {rep.total('stored')} stored + {rep.total('duplicates')} duplicates"
              f" + {rep.total('rejected')} rejected (store {st.location})", markup=False)


@app.command("coverage")
def coverage_cmd(
    as_json: bool = typer.Option(False, "--json", help="Print JSON: [{force, month, stored, located, unlocated}]."),
    store: str | None = StoreOption,
) -> None:
    """Which forces and months are stored: stored, located and unlocated rows per force and month."""
    st = open_store(store)
    cov = st.coverage()
    rows = [{"force": r.force, "month": month_label(r.month), "stored": int(r.stored), "located": int(r.located),
             "unlocated": int(r.unlocated)} for r in cov.itertuples()]
    if as_json:
        print(json.dumps(rows))
        return
    if not rows:
        out.print(f"The store {st.location} holds no offences yet: run `crimemap ingest FILE`.", markup=False)
        return
    t = Table("force", "month", "stored", "located", "unlocated", title=f"Coverage of {st.location}")
    for r in rows:
        t.add_row(r["force"], r["month"], f"{r['stored']:,}", f"{r['located']:,}", f"{r['unlocated']:,}")
    out.print(t)
