"""``crimemap briefing``: the one-page printable briefing of an area, written to HTML or PDF.

It is the page ``/briefings/{level}/{code}`` serves (``api.routes_pages.briefing_html``), with a static map and the
stylesheet inlined so the file stands alone; a ``.pdf`` is printed by headless Chromium.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import typer

from api.cli import StoreOption, app
from api.console import err
from geo.errors import InputError

AUDIENCES = ("analyst", "neighbourhood", "parish")
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str:
    """$CRIMEMAP_CHROMIUM, else the first Chromium on PATH; a one-line error when there is none."""
    given = os.environ.get("CRIMEMAP_CHROMIUM")
    if given:
        if not Path(given).exists():
            raise InputError(f"CRIMEMAP_CHROMIUM is {given!r}, which does not exist; expected a Chromium executable",
                             param="CRIMEMAP_CHROMIUM")
        return given
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise InputError("a PDF needs Chromium, and none was found (looked for chromium, chromium-browser, "
                     "google-chrome on PATH and $CRIMEMAP_CHROMIUM); install it or write .html instead", param="out")


def html_to_pdf(html: str, out: Path, *, timeout: float = 120) -> None:
    """Print ``html`` to ``out`` with headless Chromium (A4, print CSS, no header or footer)."""
    exe = find_chromium()
    with tempfile.TemporaryDirectory(prefix="crimemap-pdf-") as tmp:
        page = Path(tmp) / "briefing.html"
        page.write_text(html, encoding="utf-8")
        target = Path(tmp) / "briefing.pdf"
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp}/profile",
               "--no-pdf-header-footer", "--print-to-pdf-no-header", f"--print-to-pdf={target}", page.as_uri()]
        try:
            run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise InputError(f"Chromium did not print the PDF within {timeout:.0f} s", param="out") from None
        if not target.exists() or target.stat().st_size == 0:
            last = (run.stderr.strip().splitlines() or ["no output"])[-1][:200]
            raise InputError(f"Chromium did not write the PDF (exit {run.returncode}: {last})", param="out")
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(target), out)


@app.command("briefing")
def briefing_cmd(
    level: str = typer.Option(..., "--level", help="parish, ward, lsoa, lad, csp or pfa"),
    code: str = typer.Option(..., "--code", help="GSS code of the area, e.g. E05009967"),
    months: str | None = typer.Option(None, "--months", help="YYYY-MM or YYYY-MM..YYYY-MM (default: all loaded)."),
    out: Path = typer.Option(..., "--out", help="FILE.html or FILE.pdf"),
    audience: str = typer.Option("analyst", "--audience", help="analyst (no suppression), neighbourhood or parish "
                                 "(counts below the threshold suppressed, no locations)."),
    threshold: int = typer.Option(5, "--threshold", help="Suppression threshold for --audience parish."),
    store: str | None = StoreOption,
) -> None:
    """Write the one-page printable briefing of an area (the page /briefings/LEVEL/CODE serves) to HTML or PDF."""
    from api.auth import Principal, TokenBook
    from api.deps import Services
    from api.routes_pages import briefing_html
    from api.settings import Settings
    from data.store import open_store
    from geo.record import parse_months

    ext = out.suffix.lower()
    if ext not in (".html", ".htm", ".pdf"):
        raise InputError(f"output {out.name!r} has extension {ext or '(none)'}; expected .html or .pdf", param="out")
    if audience not in AUDIENCES:
        raise InputError(f"audience {audience[:30]!r} is not one of {', '.join(AUDIENCES)}", param="audience")
    month_range = parse_months(months)  # a malformed value fails here, before any work
    if ext == ".pdf":
        find_chromium()  # fail before the work when Chromium is missing
    settings = Settings(store=store, threshold=threshold)
    st = open_store(store)
    sv = Services(settings=settings, store=st, tokens=TokenBook())
    who = Principal(role=audience, name=f"cli {audience}", anonymous=audience == "parish")
    html = briefing_html(sv, who, level, code, standalone=True, months=month_range)
    if ext == ".pdf":
        html_to_pdf(html, out)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(html, encoding="utf-8")
    err.print(f"briefing: {level} {code} for the {audience} audience written to {out}", markup=False)
