"""``crimemap aggregate``: offences per area of a level, printed or written to a file."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from api.cli import StoreOption, app
from api.console import err, out
from api.exports import write_table
from data.aggregate import aggregate, loaded_months
from data.store import open_store
from geo.record import LEVELS, month_label, parse_crime_types, parse_level, parse_months


@app.command("aggregate")
def aggregate_cmd(
    level: str = typer.Option(..., "--level", help=f"One of {', '.join(LEVELS)}."),
    months: str | None = typer.Option(None, "--months", help="YYYY-MM or YYYY-MM..YYYY-MM (default: all loaded)."),
    crime_type: list[str] | None = typer.Option(None, "--crime-type", help="police.uk category (repeatable); "
                                                "default all crime, which excludes anti-social behaviour."),
    by_month: bool = typer.Option(False, "--by-month", help="One row per area and month."),
    by_type: bool = typer.Option(False, "--by-type", help="One row per area and crime type."),
    force: list[str] | None = typer.Option(None, "--force", help="Force slug(s) to include."),
    audience: str = typer.Option("analyst", "--audience", help="analyst (no suppression) or parish (suppressed)."),
    out_path: Path | None = typer.Option(None, "--out", help="Write .csv, .geojson, .gpkg or .parquet."),
    store: str | None = StoreOption,
) -> None:
    """Count offences per area (with rates per 1,000 residents and per km²)."""
    lv = parse_level(level)
    mr = parse_months(months)
    types = parse_crime_types(crime_type) if crime_type else None
    st = open_store(store)
    loaded = loaded_months(st, force)
    if mr is not None and loaded and not any(mr[0] <= m <= mr[1] for m in loaded):
        err.print(f"note: months {months} are outside the loaded data ({month_label(loaded[0])}.."
                  f"{month_label(loaded[-1])}): every area is reported as no data, not zero", markup=False)
    table = aggregate(st, lv, months=mr, crime_types=types, forces=force, audience=audience, by_month=by_month,
                      by_type=by_type, geometry=out_path is not None and out_path.suffix.lower() != ".csv")
    meta = {"level": lv, "months": table["month"].iloc[0] if len(table) and not by_month else months,
            "crime_types": table.attrs.get("crime_types") or (table["crime_type"].iloc[0] if len(table) else None),
            "audience": audience, "rows": len(table), "store": st.location, "layer": lv.replace(":", "_"),
            "vintage": table["vintage"].iloc[0] if len(table) else None}
    if out_path is not None:
        write_table(table, out_path, meta)
        total = table["count"].sum()
        err.print(f"{lv}: {len(table)} rows, {total:,.0f} offences ({meta['crime_types']}) written to {out_path}",
                  markup=False)
        return
    t = Table("code", "name", "month", "crime_type", "count", "rate/1000", "per km²", title=f"{lv} ({audience})")
    for r in table.head(200).itertuples():
        t.add_row(str(r.code), str(r.name or ""), str(r.month), str(r.crime_type),
                  "<5" if r.suppressed else ("no data" if r.no_data else f"{r.count:,.0f}"),
                  "" if r.rate_per_1000 != r.rate_per_1000 else f"{r.rate_per_1000:.2f}",
                  "" if r.per_km2 != r.per_km2 else f"{r.per_km2:.1f}")
    out.print(t)
    if len(table) > 200:
        err.print(f"{len(table) - 200} more rows: use --out FILE to get them all", markup=False)
