"""``crimemap download police|boundaries``: fetch police.uk street files and ONS boundaries (issue 8)."""

from __future__ import annotations

from pathlib import Path

import typer

from api.cli import StoreOption, app
from api.console import err, progress
from boundaries.forces import find_force
from boundaries.layers import read_boundary_file
from data import download as dl
from data.store import open_store
from geo.errors import InputError
from geo.record import month_label, parse_months

download = typer.Typer(help="Download police.uk street files and ONS boundaries (resumable).", no_args_is_help=True)
app.add_typer(download, name="download")


@download.command("police")
def police_cmd(
    force: str = typer.Option(..., "--force", help="police.uk force slug or name (west-mercia)."),
    months: str = typer.Option(..., "--months", help="YYYY-MM or YYYY-MM..YYYY-MM, both ends included."),
    dest: Path = typer.Option(Path("."), "--dest", help="Folder for the street files."),
    source: str = typer.Option("archive", "--source", help="archive (the monthly archive, as published) or api "
                               "(the police.uk API, asked by force area; needs the force's PFA polygon)."),
    base_url: str = typer.Option(dl.POLICE_ARCHIVE_URL, "--archive-url", envvar="CRIMEMAP_POLICE_ARCHIVE_URL",
                                 help="Base URL of the police.uk monthly archives (YYYY-MM.zip)."),
    api_url: str = typer.Option(dl.POLICE_API_URL, "--api-url", envvar="CRIMEMAP_POLICE_API_URL",
                                help="Base URL of the police.uk API (for --source api)."),
    boundary: Path | None = typer.Option(None, "--boundary", help="PFA boundary file giving the force area "
                                         "(for --source api; default: the PFA or ward boundaries in the store)."),
    store: str | None = StoreOption,
) -> None:
    """Fetch one force's street files for a range of months from the police.uk monthly archive or API."""
    found = find_force(force)
    if found is None:
        raise InputError(f"force {force[:40]!r} is not in the force table; expected a police.uk slug such as "
                         "west-mercia", param="force")
    span = parse_months(months)
    src = source.strip().lower()
    if src not in ("archive", "api"):
        raise InputError(f"source {source[:20]!r} is not archive or api", param="source")
    if src == "api":
        dl.api_force(found.slug)  # before reading any boundaries: BTP has no force area
        area = dl.force_area(_pfa_polygons(boundary, store), found.slug)
        with progress(f"police.uk API {found.slug} {months}", total=None) as advance:
            files = dl.download_police_api(found.slug, span, dest, area, base_url=api_url, advance=advance)
    else:
        with progress(f"police.uk {found.slug} {months}", total=None) as advance:
            files = dl.download_police(found.slug, span, dest, base_url=base_url, advance=advance)
    for f in files:
        err.print(f"{f} (sha256 in {f.name}.sha256)", markup=False)
    err.print(f"{len(files)} street files for {found.slug}, {month_label(span[0])}..{month_label(span[1])} "
              f"(police.uk {src})", markup=False)


def _pfa_polygons(boundary: Path | None, store: str | None):
    """PFA polygons (``code, geometry``) from a boundary file, else the store's PFA layer or its wards dissolved."""
    if boundary is not None:
        return read_boundary_file(boundary, "pfa")[0]
    from data.aggregate import area_geometry

    polygons = area_geometry(open_store(store), "pfa")
    if polygons.empty:
        raise InputError("--source api needs the force area, and the store has no PFA or ward boundaries: pass "
                         "--boundary PFA_FILE (crimemap download boundaries --level pfa --year YYYY gives one) or "
                         "load PFA or ward boundaries into the store", param="boundary")
    return polygons


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
