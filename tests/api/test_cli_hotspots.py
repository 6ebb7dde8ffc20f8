"""``crimemap hotspots run|evaluate`` end to end on two real West Mercia months in a temporary store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

CLI = [sys.executable, "-c", "from api.cli import main; main()"]


def crimemap(*args, store: Path):
    env = dict(os.environ, CRIMEMAP_STORE=str(store), CRIMEMAP_QUIET="1")
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def store(wm_months, tmp_path_factory):
    s = tmp_path_factory.mktemp("hot") / "store"
    r = crimemap("ingest", *wm_months[-2:], store=s)
    assert r.returncode == 0, r.stderr
    return s


GISTAR_JAN = ("hotspots", "run", "--method", "gistar", "--level", "h3:9", "--months", "2019-01", "--permutations", "99")


def test_gistar_csv_lists_the_study_area_and_reconciles(store, wm_months, tmp_path):
    out = tmp_path / "hot.csv"
    r = crimemap(*GISTAR_JAN, "--out", out, store=store)
    assert r.returncode == 0, r.stderr
    assert out.read_text().splitlines()[0] == "code,name,level,month,crime_type,count,z,p,p_sim,class"
    d = pd.read_csv(out)
    raw = pd.read_csv(wm_months[-1]).dropna(subset=["Longitude", "Latitude"])
    assert d["count"].sum() == (raw["Crime type"] != "Anti-social behaviour").sum()
    assert d["code"].is_unique and (d["count"] == 0).any()  # cells with only ASB are listed with 0
    assert d[["z", "p", "p_sim"]].notna().all().all()
    meta = json.loads(Path(str(out) + ".meta.json").read_text())
    assert meta["method"] == "gistar" and meta["parameters"]["seed"] == 0 and meta["months"] == ["2019-01"]
    # second run is served from the cache and is identical
    out2 = tmp_path / "hot2.csv"
    assert crimemap(*GISTAR_JAN, "--out", out2, store=store).returncode == 0
    assert out.read_text() == out2.read_text()


def test_evaluate_writes_the_table(store, tmp_path):
    out = tmp_path / "eval.csv"
    r = crimemap("hotspots", "evaluate", "--level", "h3:9", "--out", out, store=store)
    assert r.returncode == 0, r.stderr
    d = pd.read_csv(out)
    assert list(d.columns[:8]) == [
        "method",
        "target_month",
        "area_share",
        "area_covered",
        "pai",
        "hit_rate",
        "rri",
        "pei",
    ]
    assert set(d["method"]) == {"gistar", "kde", "naive_last_month", "naive_all_history"}
    assert set(d["target_month"]) == {"2019-01"} and len(d) == 12
    assert "pai" in r.stdout


def test_kde_geojson(store, wm_months, tmp_path):
    out = tmp_path / "kde.geojson"
    r = crimemap(
        "hotspots",
        "run",
        "--method",
        "kde",
        "--level",
        "h3:9",
        "--months",
        "2019-01",
        "--cell-size",
        "500",
        "--out",
        out,
        store=store,
    )
    assert r.returncode == 0, r.stderr
    import geopandas as gpd

    g = gpd.read_file(out)
    raw = pd.read_csv(wm_months[-1]).dropna(subset=["Longitude", "Latitude"])
    assert g["count"].sum() == pytest.approx((raw["Crime type"] != "Anti-social behaviour").sum(), rel=1e-6)
    assert len(g) > 100 and Path(str(out) + ".contours.geojson").exists()


@pytest.mark.parametrize(
    "args, words",
    [
        (["--method", "lisa", "--level", "h3:9"], "method 'lisa'"),
        (["--method", "emerging", "--level", "h3:9"], "at least 6 months"),
        (
            ["--method", "gistar", "--level", "h3:9", "--crime-type", "Robbery", "--months", "2019-01"],
            "at least 50 events",
        ),
        (["--method", "gistar", "--level", "county"], "level 'county'"),
    ],
)
def test_bad_input_is_one_clear_line(store, tmp_path, args, words):
    r = crimemap("hotspots", "run", *args, "--out", tmp_path / "x.csv", store=store)
    assert r.returncode == 2
    assert words in r.stderr and "Traceback" not in r.stderr
