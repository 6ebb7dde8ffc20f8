"""``crimemap download police|boundaries``: fetch police.uk street files and ONS boundaries (issue 8)."""

from __future__ import annotations

from pathlib import Path

import typer

from api.cli import app
from api.console import err, progress
from boundaries.forces import find_force
from data import download as dl
from geo.errors import InputError
from geo.record import month_label, parse_months

download = typer.Typer(help="Download police.uk street files and ONS boundaries (resumable).", no_args_is_help=True)
app.add_typer(download, name="download")


@download.command("police")
def police_cmd(
    force: str = typer.Option(..., "--force", help="police.uk force slug or name (west-mercia)."),
    months: str = typer.Option(..., "--months", help="YYYY-MM or YYYY-MM..YYYY-MM, both ends included."),
    dest: Path = typer.Option(Path("."), "--dest", help="Folder for the street files."),
    base_url: str = typer.Option(dl.POLICE_ARCHIVE_URL, "--archive-url", envvar="CRIMEMAP_POLICE_ARCHIVE_URL",
                                 help="Base URL of the police.uk monthly archives (YYYY-MM.zip)."),
) -> None:
    """Fetch one force's street files for a range of months from the police.uk monthly archive."""
    found = find_force(force)
    if found is None:
        raise InputError(f"force {force[:40]!r} is not in the force table; expected a police.uk slug such as "
                         "west-mercia", param="force")
    span = parse_months(months)
    with progress(f"police.uk {found.slug} {months}", total=None) as advance:
        files = dl.download_police(found.slug, span, dest, base_url=base_url, advance=advance)
    for f in files:
        err.print(f"{f} (sha256 in {f.name}.sha256)", markup=False)
    err.print(f"{len(files)} street files for {found.slug}, {month_label(span[0])}..{month_label(span[1])}",
              markup=False)


@download.command("boundaries")
def boundaries_cmd(
    level: str = typer.Option(..., "--level", help="parish, ward, lsoa, lad or pfa."),
    year: int = typer.Option(..., "--year", help="Boundary vintage (December of that year)."),
    dest: Path = typer.Option(Path("."), "--dest", help="Folder for the GeoJSON file."),
    service: str | None = typer.Option(None, "--service", help="ONS feature service name, when not the usual one."),
    base_url: str = typer.Option(dl.ONS_URL, "--ons-url", envvar="CRIMEMAP_ONS_URL",
                                 help="Base URL of the ONS ArcGIS REST services."),
    page_size: int = typer.Option(1000, "--page-size", min=1, max=2000, help="Features per request."),
) -> None:
    """Fetch an ONS Open Geography boundary layer as GeoJSON, page by page."""
    lv = level.strip().lower()
    with progress(f"ONS {lv} {year}", total=None) as advance:
        out = dl.download_boundaries(lv, year, dest, base_url=base_url, service=service, page_size=page_size,
                                     advance=advance)
    err.print(f"{out} (sha256 in {out.name}.sha256); load it with: crimemap boundaries load {out} --level {lv}",
              markup=False)
