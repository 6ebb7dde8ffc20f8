"""Ingest through the CLI on real files: counts reconcile, idempotent, atomic, --replace, exit codes."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from data.ingest import ingest
from data.store import open_store
from tests.conftest import SHARED

CLI = [sys.executable, "-c", "from api.cli import main; main()"]


def run(*args, env=None):
    e = dict(os.environ, COLUMNS="200", **(env or {}))
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, env=e, timeout=300)


def coverage(store):
    r = run("coverage", "--json", "--store", store)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def expected(files):
    rows = dups = unloc = 0
    for f in files:
        d = pd.read_csv(f, encoding="utf-8-sig")
        dup = d["Crime ID"].notna() & d.duplicated(subset=["Crime ID"])
        rows += len(d)
        dups += int(dup.sum())
        unloc += int((~dup & d["Longitude"].isna()).sum())
    return rows - dups, unloc


def test_cli_ingest_counts_idempotent_and_empty_file_exit_2(tmp_path, wm_month, shared_data):
    store = tmp_path / "s"
    r = run("ingest", wm_month, "--store", store)
    assert r.returncode == 0, r.stderr
    assert "10038 rows read = 10038 stored (10021 located, 17 unlocated) + 0 duplicates + 0 rejected" in r.stderr
    cov = coverage(store)
    got = [(c["force"], c["month"], c["stored"], c["unlocated"]) for c in cov]
    assert got == [("west-mercia", "2019-01", 10038, 17)]
    r = run("ingest", wm_month, "--store", store)
    assert r.returncode == 0 and "0 stored" in r.stderr and "10038 duplicates" in r.stderr
    assert coverage(store) == cov
    # a force with repeated Crime IDs in its files (Staffordshire): stored = rows - repeats
    staffs = sorted((shared_data / "crime/street/staffordshire").glob("*.csv.gz"))
    r = run("ingest", *staffs, "--store", store)
    assert r.returncode == 0, r.stderr
    got = [c for c in coverage(store) if c["force"] == "staffordshire"]
    assert (sum(c["stored"] for c in got), sum(c["unlocated"] for c in got)) == expected(staffs)
    before = (store / "catalogue.json").read_text()
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    r = run("ingest", wm_month, empty, "--store", store)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "empty" in r.stderr
    assert (store / "catalogue.json").read_text() == before


def test_rows_read_equals_stored_plus_duplicates_plus_rejected(tmp_path, wm_month):
    text = wm_month.read_bytes()
    import gzip

    lines = gzip.decompress(text).decode("utf-8-sig").splitlines()
    bad = lines[:1] + lines[1:101] + [lines[1]] + [lines[7].replace("2019-01", "2019-99", 1)]
    f = tmp_path / "mixed.csv"
    f.write_text("\n".join(bad) + "\n")
    st = open_store(tmp_path / "s")
    rep = ingest(st, [f], reject_path=tmp_path / "rejects.csv")
    fr = rep.files[0]
    assert fr.rows == 102 and fr.stored == 100 and fr.duplicates == 1 and fr.rejected == 1
    rej = pd.read_csv(tmp_path / "rejects.csv")
    assert rej.columns.tolist() == ["file", "line", "reason"] and rej["line"].tolist() == [103]


def test_replace_swaps_a_force_month(tmp_path, wm_month):
    st = open_store(tmp_path / "s")
    ingest(st, [wm_month])
    import gzip

    lines = gzip.decompress(wm_month.read_bytes()).decode("utf-8-sig").splitlines()
    f = tmp_path / "2019-01-west-mercia-street.csv"
    f.write_text("\n".join(lines[:51]) + "\n")
    ingest(st, [f], replace=True)
    cov = st.coverage()
    assert cov["stored"].tolist() == [50]


def test_killed_ingest_leaves_the_store_as_before(tmp_path, wm_months):
    store = tmp_path / "s"
    assert run("ingest", wm_months[0], "--store", store).returncode == 0
    before = (store / "catalogue.json").read_text()
    code = (
        "import os, sys\n"
        "import data.embedded as e\n"
        "orig = e.EmbeddedStore._write_arrow\n"
        "n = {'k': 0}\n"
        "def boom(self, rel, frame):\n"
        "    n['k'] += 1\n"
        "    if n['k'] == 3: os._exit(9)\n"
        "    return orig(self, rel, frame)\n"
        "e.EmbeddedStore._write_arrow = boom\n"
        "from api.cli import main\n"
        f"sys.argv = ['crimemap', 'ingest', {str(wm_months[1])!r}, {str(wm_months[2])!r}, '--store', {str(store)!r}]\n"
        "main()\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 9
    assert (store / "catalogue.json").read_text() == before
    assert [c["month"] for c in coverage(store)] == ["2018-10"]
    # the next write cleans the leftovers and works
    assert run("ingest", wm_months[1], "--store", store).returncode == 0
    files = sorted(p.relative_to(store).as_posix() for p in (store / "offences").rglob("*.parquet"))
    assert len(files) == 2, files


def test_folder_ingest_and_bad_path(tmp_path, shared_data):
    store = tmp_path / "s"
    r = run("ingest", shared_data / "crime/street/warwickshire", "--store", store)
    assert r.returncode == 0, r.stderr
    assert [c["month"] for c in coverage(store)] == ["2018-10", "2018-11", "2018-12", "2019-01"]
    r = run("ingest", tmp_path / "nope.csv", "--store", store)
    assert r.returncode == 2 and "no such file" in r.stderr and "Traceback" not in r.stderr


def test_cli_help_lists_the_design_commands():
    r = run("--help")
    for cmd in ("ingest", "coverage", "boundaries", "aggregate", "hotspots", "lines"):
        assert cmd in r.stdout
    _ = Path


def _with_wm_layers(store):
    from boundaries.layers import read_boundary_file
    from data.ingest import reassign_all

    for path, level in (("boundaries/wards/wards_dec2019_west_mercia.geojson", "ward"),
                        ("boundaries/parish/par_oa_dissolved_west_mercia.geojson", "parish")):
        layer, meta = read_boundary_file(SHARED / path, level)
        store.save_layer(level, layer, meta, reassign_all(store, (level, layer, meta)))
    return store


def _handovers() -> set:
    from data import ingest as ingest_module

    base = Path(ingest_module._SHM or tempfile.gettempdir())
    return set(base.glob(f"{ingest_module._HANDOVER_PREFIX}{os.getpid()}-*"))


def test_files_read_on_worker_processes_give_the_same_store(tmp_path, wm_months):
    """The process-pool path of large ingests (workers read *and assign* files, and hand their tables over in
    shared memory) stores exactly what the in-process path stores, and leaves no hand-over files behind."""
    one, two = _with_wm_layers(open_store(tmp_path / "one")), _with_wm_layers(open_store(tmp_path / "two"))
    r1 = ingest(one, wm_months, workers=1)
    r2 = ingest(two, wm_months, workers=2)
    assert not _handovers()
    assert [f.as_dict() for f in r1.files] == [f.as_dict() for f in r2.files]
    key = ["force", "month", "offence_id"]
    a = one.read_offences().sort_values(key).reset_index(drop=True)
    b = two.read_offences().sort_values(key).reset_index(drop=True)
    assert len(a) == sum(f.stored for f in r1.files) > 40_000
    pd.testing.assert_frame_equal(a.drop(columns="geometry"), b.drop(columns="geometry"))
    assert a.geometry.geom_equals_exact(b.geometry, 0).sum() == a.geometry.notna().sum()
    assigned = one.read_assignment().sort_values(key).reset_index(drop=True)
    assert (assigned["ward"] != "outside").sum() > 40_000 and assigned["parish"].str.startswith("E").sum() > 40_000
    pd.testing.assert_frame_equal(assigned, two.read_assignment().sort_values(key).reset_index(drop=True))


def test_a_file_fault_on_a_worker_process_is_one_clear_error_and_changes_nothing(tmp_path, wm_months):
    from geo.errors import InputError

    bad = tmp_path / "2019-02-west-mercia-street.csv"
    bad.write_bytes(b"\x1f\x8b\x08\x00truncated")
    store = open_store(tmp_path / "s")
    ingest(store, wm_months[:1], workers=1)
    before = (tmp_path / "s" / "catalogue.json").read_text()
    try:
        ingest(store, [*wm_months[1:], bad], workers=2)
    except InputError as e:
        assert "truncated or corrupt gzip" in str(e) and str(bad) in str(e)
    else:
        raise AssertionError("a truncated gzip among the files must fail the ingest")
    assert (tmp_path / "s" / "catalogue.json").read_text() == before
    assert not _handovers()


def test_hand_over_folders_of_killed_ingests_are_cleared(tmp_path):
    """A hand-over folder whose process is gone (an ingest killed with SIGKILL) is removed by the next read."""
    from data import ingest as ingest_module

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    base = Path(ingest_module._SHM or tempfile.gettempdir())
    stale = base / f"{ingest_module._HANDOVER_PREFIX}{int(dead.stdout)}-test"
    live = base / f"{ingest_module._HANDOVER_PREFIX}{os.getpid()}-test"
    for d in (stale, live):
        d.mkdir()
        (d / "x.arrow").write_bytes(b"x")
    try:
        ingest_module._clear_stale_handovers()
        assert not stale.exists() and live.exists()
    finally:
        for d in (stale, live):
            shutil.rmtree(d, ignore_errors=True)


def test_sigterm_mid_ingest_is_one_line_changes_nothing_and_leaves_no_hand_over(tmp_path, shared_data):
    """A service manager's SIGTERM while workers read: exit 143 with one line, the store as before, and the
    workers' shared-memory hand-over folder removed (the clean-up runs)."""
    import signal
    import time

    from data import ingest as ingest_module

    files = sorted(str(p) for p in (shared_data / "crime" / "street").glob("*/*.csv.gz"))
    store = tmp_path / "s"
    p = subprocess.Popen([*CLI, "ingest", *files, "--workers", "2", "--store", str(store)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = Path(ingest_module._SHM or tempfile.gettempdir())
    pattern = f"{ingest_module._HANDOVER_PREFIX}{p.pid}-*"
    deadline = time.time() + 60
    while time.time() < deadline and not list(base.glob(pattern)) and p.poll() is None:
        time.sleep(0.005)
    assert p.poll() is None, "the ingest ended before its workers were seen; nothing was tested"
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 143, err[-500:]
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("crimemap: interrupted")
    assert not list(base.glob(pattern))
    assert not open_store(store).coverage().shape[0]


def test_a_usage_error_is_the_usage_line_and_exit_2_not_an_internal_error():
    r = run("ingest", "--no-such-option")
    assert r.returncode == 2
    assert "No such option" in r.stderr and "internal error" not in r.stderr and "Traceback" not in r.stderr
