"""Every real street file: read = stored + duplicates + rejected, a second ingest stores nothing new, and
coverage reports what the files hold; a killed ingest run again gives the same store as one clean run."""

import os
import signal
import subprocess
import sys
import time

import pandas as pd

from data.ingest import ingest
from data.store import open_store


def test_every_shared_street_file_reconciles(tmp_path, shared_data):
    files = sorted((shared_data / "crime/street").glob("*/*.csv.gz"))
    assert len(files) >= 28
    st = open_store(tmp_path / "s")
    rep = ingest(st, files)
    for f in rep.files:
        assert f.rows == f.stored + f.duplicates + f.rejected
        raw = pd.read_csv(f.source, encoding="utf-8-sig")
        repeats = int((raw["Crime ID"].notna() & raw.duplicated(subset=["Crime ID"])).sum())
        assert f.rows == len(raw) and f.rejected == 0 and f.duplicates == repeats, f.source
        assert f.unlocated == int((~raw.duplicated(subset=["Crime ID"]) | raw["Crime ID"].isna())
                                  [raw["Longitude"].isna()].sum())
    cov = st.coverage()
    assert int(cov["stored"].sum()) == rep.total("stored")
    assert int(cov["unlocated"].sum()) == rep.total("unlocated")
    again = ingest(st, files)
    assert again.total("stored") == 0 and again.total("duplicates") == again.total("rows")


def _snapshot(store):
    st = open_store(store)
    o = st.read_offences(columns=["force", "month", "offence_id", "crime_type", "h3_10"])
    a = st.read_assignment()
    key = ["force", "month", "offence_id"]
    return o.sort_values(key).reset_index(drop=True), a.sort_values(key).reset_index(drop=True)


def test_sigkill_mid_ingest_then_rerun_equals_one_clean_run(tmp_path, wm_months):
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    cmd = [sys.executable, "-c", "from api.cli import main; main()", "ingest", *map(str, wm_months)]
    p = subprocess.Popen([*cmd, "--store", str(killed)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and not list((killed / "offences").rglob("*.parquet")) and p.poll() is None:
        time.sleep(0.05)
    if p.poll() is None:
        os.kill(p.pid, signal.SIGKILL)
    p.wait()
    # readable, and either untouched or complete (never half an ingest)
    cov = open_store(killed).coverage()
    assert len(cov) in (0, 4)
    assert subprocess.run([*cmd, "--store", str(killed)], capture_output=True).returncode == 0
    assert subprocess.run([*cmd, "--store", str(clean)], capture_output=True).returncode == 0
    (ko, ka), (co, ca) = _snapshot(killed), _snapshot(clean)
    pd.testing.assert_frame_equal(ko, co)
    pd.testing.assert_frame_equal(ka, ca)
