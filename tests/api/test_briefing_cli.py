"""``crimemap briefing`` writes the page /briefings/LEVEL/CODE serves (same function and template), standalone:
OFFICIAL marking, attribution, data vintage and top crime types in the HTML; a PDF from headless Chromium."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.api.conftest import TELFORD_WARD, WELLINGTON_PARISH, auth  # noqa: E402
from tests.conftest import need  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")


def run(*args, env=None):
    from typer.testing import CliRunner

    from api.cli import app

    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=True)


def test_html_briefing_is_the_served_page_standing_alone(web_store, client, tmp_path):
    out = tmp_path / "apley.html"
    r = run("briefing", "--level", "ward", "--code", TELFORD_WARD, "--out", str(out), "--store", web_store.location)
    assert r.exit_code == 0, (r.output, r.exception)
    html = out.read_text()
    served = client.get(f"/briefings/ward/{TELFORD_WARD}", headers=auth("analyst")).text
    for text in ("OFFICIAL", "Crime briefing: Apley Castle", "Top crime types", "Top locations", "Caveats",
                 "Contains public sector information licensed under the Open Government Licence v3.0",
                 "Contains OS data © Crown copyright and database right", "Boundaries: ward 2019",
                 "Violence and sexual offences", "Data: 2018-12..2019-01"):
        assert text in html and text in served, text
    assert html.count("OFFICIAL") >= 2  # marked at the top and the foot of the page
    # standalone: a static map, the stylesheet inlined, nothing fetched from a server
    assert '<svg class="static-map"' in html and "@media print" in html
    assert "/static/" not in html and "/tiles/" not in html and "<script" not in html


def test_parish_audience_is_suppressed(web_store, tmp_path):
    out = tmp_path / "wellington.html"
    r = run("briefing", "--level", "parish", "--code", WELLINGTON_PARISH, "--out", str(out), "--audience", "parish",
            "--store", web_store.location)
    assert r.exit_code == 0, (r.output, r.exception)
    assert "Not shown at this handling level" in out.read_text()


def test_pdf_briefing(web_store, tmp_path):
    need(CHROMIUM.exists(), "Chromium at /usr/bin/chromium (apt-get install chromium)")
    out = tmp_path / "apley.pdf"
    r = run("briefing", "--level", "ward", "--code", TELFORD_WARD, "--out", str(out), "--store", web_store.location,
            env={"CRIMEMAP_CHROMIUM": str(CHROMIUM)})
    assert r.exit_code == 0, (r.output, r.exception)
    body = out.read_bytes()
    assert body.startswith(b"%PDF") and len(body) > 5_000
    import re

    assert len(re.findall(rb"/Type\s*/Page[^s]", body)) == 1, "the briefing is one page"


@pytest.mark.parametrize("args, env, expected", [
    (["--out", "x.pdf"], {"CRIMEMAP_CHROMIUM": "/nonexistent/chromium"}, "CRIMEMAP_CHROMIUM"),
    (["--out", "x.docx"], {}, "expected .html or .pdf"),
    (["--out", "x.html", "--audience", "mayor"], {}, "audience"),
])
def test_bad_input_is_one_line(web_store, tmp_path, args, env, expected):
    cmd = [sys.executable, "-c", "from api.cli import main; main()", "briefing", "--level", "ward", "--code",
           TELFORD_WARD, "--store", web_store.location, *args]
    p = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, env={**os.environ, **env}, timeout=120)
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and "Traceback" not in p.stderr
