"""``crimemap boundaries load``: load a boundary layer and (re)assign every stored offence to it."""

from __future__ import annotations

from pathlib import Path

import typer

from api.cli import StoreOption, app
from api.console import err, progress
from boundaries.layers import read_boundary_file
from data.ingest import reassign_all
from data.store import open_store
from geo.record import POLYGON_LEVELS, parse_level

boundaries = typer.Typer(help="Boundary layers (parish, ward, lsoa, lad, csp, pfa).", no_args_is_help=True)
app.add_typer(boundaries, name="boundaries")


@boundaries.command("load")
def load_cmd(
    path: Path = typer.Argument(..., help="GeoJSON, .geojson.gz, GeoPackage or Shapefile of ONS boundaries."),
    level: str = typer.Option(..., "--level", help=f"One of {', '.join(POLYGON_LEVELS)}."),
    code_field: str | None = typer.Option(None, "--code-field", help="Field with the GSS code (detected if omitted)."),
    name_field: str | None = typer.Option(None, "--name-field", help="Field with the area name (detected if omitted)."),
    approximate: bool | None = typer.Option(None, "--approximate/--exact",
                                            help="Flag the polygons as approximate (detected for OA-built parishes)."),
    store: str | None = StoreOption,
) -> None:
    """Load a boundary layer; every stored offence is (re)assigned to it."""
    lv = parse_level(level, allowed=POLYGON_LEVELS)
    st = open_store(store)
    with progress("loading boundaries", total=None):
        layer, meta = read_boundary_file(path, lv, code_field=code_field, name_field=name_field,
                                         approximate=approximate)
        assignment = reassign_all(st, (lv, layer, meta))
        st.save_layer(lv, layer, meta, assignment)
    err.print(f"{lv}: {meta['features']} areas from {path.name} (vintage {meta['vintage']}, fields "
              f"{meta['code_field']}/{meta['name_field']}); {meta['repaired']} invalid polygons repaired; "
              f"{len(assignment)} stored offences reassigned", markup=False)
    if meta["dropped_codes"]:
        err.print(f"{meta['dropped_codes']} features without a {lv} GSS code were left out", markup=False)
    if meta.get("approximate"):
        err.print(meta["notice"], markup=False)
