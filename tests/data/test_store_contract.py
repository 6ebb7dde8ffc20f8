"""The store contract: the same tests, on real West Mercia offences and wards, for every backend.

Each test runs on the embedded store (a GeoParquet directory) and on PostGIS (a fresh database in a
throwaway cluster, see conftest.py). Values are compared after normalising nulls and the month dtype, so the
tests hold the backends to the same observable behaviour, not the same internals.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from data.readers import read_crime_file
from data.store import COVERAGE_COLUMNS, H3_COLUMN, open_store
from geo.errors import InputError
from geo.record import COLUMNS
from tests.conftest import ROOT, SHARED, STREET

FORCE = "west-mercia"
JAN, DEC = dt.date(2019, 1, 1), dt.date(2018, 12, 1)
OFFENCE_COLUMNS = [*COLUMNS, H3_COLUMN, "geometry"]


# ---- real data, cut small ------------------------------------------------------------------------

def _month_offences(path: Path, n: int) -> gpd.GeoDataFrame:
    """The first ``n`` distinct offences of a real street file plus all its unlocated rows."""
    got = read_crime_file(path.name, path.read_bytes()).offences.drop(columns=["source_line"])
    got = got[~got.duplicated(["force", "month", "offence_id"])]
    pick = np.zeros(len(got), bool)
    pick[:n] = True
    pick |= got.geometry.isna().to_numpy()
    return got[pick].reset_index(drop=True)


@pytest.fixture(scope="module")
def jan(shared_data) -> gpd.GeoDataFrame:
    return _month_offences(STREET / FORCE / "2019-01-west-mercia-street.csv.gz", 1500)


@pytest.fixture(scope="module")
def dec(shared_data) -> gpd.GeoDataFrame:
    return _month_offences(STREET / FORCE / "2018-12-west-mercia-street.csv.gz", 1000)


@pytest.fixture(scope="module")
def wards(shared_data) -> gpd.GeoDataFrame:
    w = gpd.read_file(SHARED / "boundaries/wards/wards_dec2019_west_mercia.geojson")
    return w.rename(columns={"WD19CD": "code", "WD19NM": "name"})[["code", "name", "geometry"]]


def _assignment(offences: gpd.GeoDataFrame, wards: gpd.GeoDataFrame | None = None) -> pd.DataFrame:
    """Assignment rows as ingest makes them: LSOA from the file, ward by point-in-polygon."""
    a = offences[["force", "month", "offence_id"]].copy()
    located = offences.geometry.notna().to_numpy()
    a["lsoa"] = np.where(located, offences["lsoa11"].astype(object), "unlocated")
    if wards is not None:
        ward = np.full(len(offences), "outside", dtype=object)
        ward[~located] = "unlocated"
        pts, polys = shapely.from_wkb(offences.geometry[located].to_wkb()), wards.geometry.values
        i, j = gpd.GeoSeries(polys).sindex.query(pts, predicate="within")
        idx = np.flatnonzero(located)
        ward[idx[i]] = wards["code"].to_numpy()[j]
        a["ward"] = ward
    return a


def _record(name: str, rows: int) -> dict:
    return {"files": [{"name": name, "sha256": "0" * 64, "rows": rows}], "stored": rows,
            "at": "2026-01-01T00:00:00"}


# ---- normalised comparison -------------------------------------------------------------------------

def _canon(frame: pd.DataFrame, columns: list[str], key: list[str]) -> pd.DataFrame:
    out = {}
    for c in columns:
        s = frame[c]
        if c == "month":
            out[c] = pd.to_datetime(s).dt.strftime("%Y-%m").to_numpy(object)
        elif c == "geometry":
            g = np.asarray(s.values, dtype=object)
            out[c] = np.array([None if x is None or x.is_empty else x.wkb_hex for x in g], dtype=object)
        else:
            v = s.astype(object).to_numpy()
            out[c] = np.array([None if x is None or (isinstance(x, float) and np.isnan(x)) else str(x) for x in v],
                              dtype=object)
    return pd.DataFrame(out).sort_values(key).reset_index(drop=True)


def _same(a: pd.DataFrame, b: pd.DataFrame, columns: list[str], key=("force", "month", "offence_id")) -> None:
    pd.testing.assert_frame_equal(_canon(a, columns, list(key)), _canon(b, columns, list(key)))


# ---- the stores ------------------------------------------------------------------------------------

@pytest.fixture(params=["embedded", "postgis"])
def location(request, tmp_path) -> str:
    if request.param == "embedded":
        return str(tmp_path / "store")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(location):
    s = open_store(location)
    yield s
    s.close()


# ---- the contract ----------------------------------------------------------------------------------

def test_an_empty_store_holds_nothing(store):
    cov = store.coverage()
    assert list(cov.columns) == COVERAGE_COLUMNS and len(cov) == 0
    assert store.ingests() == []
    assert store.layers() == {}
    assert store.read_layer("ward") is None
    assert store.read_table("anything") is None and store.table_meta("anything") is None
    assert len(store.offence_ids(FORCE, JAN)) == 0
    assert len(store.read_offences()) == 0


def test_offences_read_back_exactly_and_idempotently(store, location, jan):
    store.commit_ingest(jan, _assignment(jan), _record("jan", len(jan)))
    first = store.read_offences()
    assert isinstance(first, gpd.GeoDataFrame) and first.crs.to_epsg() == 4326
    _same(first, jan, OFFENCE_COLUMNS)
    _same(store.read_offences(), first, OFFENCE_COLUMNS)
    store.close()
    again = open_store(location)
    try:
        _same(again.read_offences(), jan, OFFENCE_COLUMNS)
    finally:
        again.close()


def test_unlocated_offences_are_kept_with_null_geometry(store, jan):
    store.commit_ingest(jan, _assignment(jan), _record("jan", len(jan)))
    back = store.read_offences(columns=["offence_id", "geometry"])
    unlocated = int(jan.geometry.isna().sum())
    assert unlocated > 0
    assert int(back.geometry.isna().sum()) == unlocated


def test_coverage_counts_stored_located_and_unlocated(store, jan, dec):
    store.commit_ingest(jan, _assignment(jan), _record("jan", len(jan)))
    store.commit_ingest(dec, _assignment(dec), _record("dec", len(dec)))
    cov = store.coverage().assign(month=lambda d: pd.to_datetime(d["month"]).dt.strftime("%Y-%m"))
    cov = cov.sort_values("month").reset_index(drop=True)
    want = pd.DataFrame({
        "force": [FORCE, FORCE],
        "month": ["2018-12", "2019-01"],
        "stored": [len(dec), len(jan)],
        "located": [int(dec.geometry.notna().sum()), int(jan.geometry.notna().sum())],
    }).assign(unlocated=lambda d: d["stored"] - d["located"])
    pd.testing.assert_frame_equal(cov[COVERAGE_COLUMNS], want, check_dtype=False)


def test_filters_and_column_selection(store, jan, dec):
    store.commit_ingest(jan, _assignment(jan), _record("jan", len(jan)))
    store.commit_ingest(dec, _assignment(dec), _record("dec", len(dec)))
    assert set(store.offence_ids(FORCE, DEC)) == set(dec["offence_id"])
    _same(store.read_offences(months=(JAN, JAN)), jan, OFFENCE_COLUMNS)
    assert len(store.read_offences(months=(DEC, JAN), forces=[FORCE])) == len(jan) + len(dec)
    assert len(store.read_offences(forces=["staffordshire"])) == 0
    plain = store.read_offences(columns=["offence_id", "month", "crime_type"])
    assert not isinstance(plain, gpd.GeoDataFrame)
    assert list(plain.columns) == ["offence_id", "month", "crime_type"]
    assert pd.api.types.is_datetime64_any_dtype(plain["month"])


def test_replace_empties_the_force_month_first(store, jan, dec):
    store.commit_ingest(jan, _assignment(jan), _record("jan", len(jan)))
    store.commit_ingest(dec, _assignment(dec), _record("dec", len(dec)))
    part = jan.iloc[:100]
    store.commit_ingest(part, _assignment(part), _record("jan again", len(part)), replace={(FORCE, JAN)})
    _same(store.read_offences(months=(JAN, JAN)), part, OFFENCE_COLUMNS)
    assert len(store.read_assignment(months=(JAN, JAN))) == 100
    assert len(store.read_offences(months=(DEC, DEC))) == len(dec)


def test_ingest_catalogue_keeps_records_in_order(store, jan, dec):
    store.commit_ingest(jan, _assignment(jan), _record("jan", len(jan)))
    store.commit_ingest(dec, _assignment(dec), _record("dec", len(dec)))
    got = store.ingests()
    assert [r["files"][0]["name"] for r in got] == ["jan", "dec"]
    given = _record("jan", len(jan))  # a backend may add its own keys (e.g. the generation)
    assert {k: json.loads(json.dumps(got[0][k])) for k in given} == given


def test_assignment_round_trip_and_filters(store, jan, dec, wards):
    a_jan, a_dec = _assignment(jan, wards), _assignment(dec, wards)
    store.save_layer("ward", wards, {"vintage": "2019-12"}, pd.DataFrame(columns=[*a_jan.columns]))
    store.commit_ingest(jan, a_jan, _record("jan", len(jan)))
    store.commit_ingest(dec, a_dec, _record("dec", len(dec)))
    both = pd.concat([a_jan, a_dec], ignore_index=True)
    cols = ["force", "month", "offence_id", "lsoa", "ward"]
    _same(store.read_assignment(), both, cols)
    only_ward = store.read_assignment(months=(DEC, DEC), forces=[FORCE], levels=["ward"])
    assert list(only_ward.columns) == ["force", "month", "offence_id", "ward"]
    _same(only_ward, a_dec, ["force", "month", "offence_id", "ward"])
    unlocated = jan.geometry.isna().sum() + dec.geometry.isna().sum()
    assert (store.read_assignment()["ward"] == "unlocated").sum() == unlocated


def test_layer_round_trip_and_whole_assignment_rebuild(store, jan, wards):
    store.commit_ingest(jan, _assignment(jan), _record("jan", len(jan)))
    meta = {"vintage": "2019-12", "source": "wards_dec2019_west_mercia.geojson", "approximate": False,
            "repaired": 0, "code_field": "WD19CD", "name_field": "WD19NM", "loaded_at": "2026-01-01T00:00:00"}
    new = _assignment(jan, wards)
    store.save_layer("ward", wards, meta, new)
    back = store.read_layer("ward").sort_values("code").reset_index(drop=True)
    want = wards.sort_values("code").reset_index(drop=True)
    assert back.crs.to_epsg() == 4326
    assert back["code"].tolist() == want["code"].tolist() and back["name"].tolist() == want["name"].tolist()
    assert shapely.equals_exact(back.geometry.values, want.geometry.values, tolerance=1e-12).all()
    assert store.layers() == {"ward": meta}
    _same(store.read_assignment(), new, ["force", "month", "offence_id", "lsoa", "ward"])
    # a reload replaces the polygons and the whole assignment table
    store.save_layer("ward", wards.iloc[:10], {**meta, "vintage": "test"}, new.iloc[:5])
    assert len(store.read_layer("ward")) == 10 and store.layers()["ward"]["vintage"] == "test"
    assert len(store.read_assignment()) == 5


def test_single_polygons_come_back_as_the_same_area(store, wards):
    polys = wards.iloc[:3].copy()
    polys["geometry"] = [g.geoms[0] for g in polys.geometry]
    store.save_layer("parish", polys, {"vintage": "x"}, pd.DataFrame(columns=["force", "month", "offence_id"]))
    back = store.read_layer("parish").set_index("code").loc[polys["code"]]
    assert shapely.equals(back.geometry.values, polys.geometry.values).all()


def test_named_table_round_trip(store):
    frame = pd.DataFrame({
        "code": ["E05000001", "E05000002", "outside"],
        "count": [3, 0, 7],
        "rate_per_1000": [1.5, np.nan, 2.25],
        "suppressed": [False, True, False],
        "month": pd.to_datetime(["2019-01-01"] * 3),
    })
    store.write_table("aggregate:ward", frame, {"filters": {"months": ["2019-01", "2019-01"]}, "rows": 3})
    back = store.read_table("aggregate:ward")
    pd.testing.assert_frame_equal(back.reset_index(drop=True), frame, check_dtype=False)
    assert store.table_meta("aggregate:ward") == {"filters": {"months": ["2019-01", "2019-01"]}, "rows": 3}
    store.write_table("aggregate:ward", frame.iloc[:1])
    assert len(store.read_table("aggregate:ward")) == 1


def test_generation_changes_at_every_write_and_only_then(store, jan, wards):
    seen = [store.generation]
    store.coverage(), store.read_offences(), store.layers()
    assert store.generation == seen[-1]
    store.commit_ingest(jan, _assignment(jan), _record("jan", len(jan)))
    seen.append(store.generation)
    store.save_layer("ward", wards, {"vintage": "2019-12"}, _assignment(jan, wards))
    seen.append(store.generation)
    store.write_table("t", pd.DataFrame({"a": [1]}))
    seen.append(store.generation)
    assert len(set(seen)) == 4


# ---- atomicity: a killed writer leaves the store as it was ---------------------------------------

_KILLED_WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import pandas as pd
    from data.readers import read_crime_file
    from data.store import open_store
    paths = [Path(p) for p in sys.argv[2:]]
    parts = [read_crime_file(p.name, p.read_bytes()).offences.drop(columns=["source_line"]) for p in paths]
    off = pd.concat(parts, ignore_index=True)
    off = off[~off.duplicated(["force", "month", "offence_id"])]
    a = off[["force", "month", "offence_id"]].assign(lsoa=off["lsoa11"])
    store = open_store(sys.argv[1])
    if "{hook}" == "pause":
        from data import postgis
        def paused(self, cur, assignment):
            print("MID", flush=True)
            time.sleep(120)
        postgis.PostGISStore._copy_assignment = paused
    print("GO", len(off), flush=True)
    store.commit_ingest(off, a, {{"files": ["killed"]}})
    print("DONE", flush=True)
""")


def _start_writer(location: str, hook: str = "") -> subprocess.Popen:
    files = sorted((STREET / FORCE).glob("*.csv.gz"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", _KILLED_WRITER.format(hook=hook), location, *map(str, files)],
                            stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)


def _wait_for(proc: subprocess.Popen, word: str) -> str:
    line = proc.stdout.readline()
    while line and not line.startswith(word):
        line = proc.stdout.readline()
    assert line.startswith(word), f"writer ended before {word!r}"
    return line


@pytest.mark.parametrize("delay", [0.05, 0.4])
def test_a_killed_ingest_leaves_all_or_nothing(store, location, jan, delay):
    store.commit_ingest(jan, _assignment(jan), _record("jan", len(jan)))
    before = (store.coverage(), store.generation)
    proc = _start_writer(location)
    total = int(_wait_for(proc, "GO").split()[1])
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    after = open_store(location)
    try:
        cov = after.coverage()
        stored = int(cov["stored"].sum())
        if stored == len(jan):  # killed in time: exactly as before
            pd.testing.assert_frame_equal(cov, before[0])
            assert after.generation == before[1]
        else:  # the write had finished: all of it is there (commit_ingest adds; de-duplicating is ingest's job)
            assert stored == len(jan) + total
        assert len(after.read_offences(columns=["offence_id"])) == stored
        assert len(after.read_assignment(levels=[])) == stored
    finally:
        after.close()


@pytest.mark.postgis
def test_postgis_ingest_killed_mid_transaction_leaves_no_rows(pg_url):
    import psycopg

    before = open_store(pg_url)
    generation = before.generation
    before.close()
    proc = _start_writer(pg_url, hook="pause")
    _wait_for(proc, "MID")  # offences are copied, the transaction is open
    with psycopg.connect(pg_url) as conn:  # the uncommitted rows are invisible to everyone else
        assert conn.execute("SELECT count(*) FROM crimemap.offences").fetchone()[0] == 0
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with psycopg.connect(pg_url) as conn:
        for table in ("offences", "assignment", "ingests"):
            assert conn.execute(f"SELECT count(*) FROM crimemap.{table}").fetchone()[0] == 0
        assert conn.execute("SELECT generation FROM crimemap.state").fetchone()[0] == generation


@pytest.mark.postgis
def test_postgis_failure_mid_transaction_changes_nothing(pg_url, jan, monkeypatch):
    from data import postgis

    store = open_store(pg_url)
    try:
        generation = store.generation

        def broken(self, cur, assignment):
            raise RuntimeError("disk full")

        monkeypatch.setattr(postgis.PostGISStore, "_copy_assignment", broken)
        with pytest.raises(RuntimeError):
            store.commit_ingest(jan, _assignment(jan), _record("jan", len(jan)))
        assert len(store.coverage()) == 0 and store.ingests() == [] and store.generation == generation
    finally:
        store.close()


@pytest.mark.postgis
def test_postgis_registers_geometry_columns_and_indexes(pg_url):
    import psycopg

    open_store(pg_url).close()
    with psycopg.connect(pg_url) as conn:
        cols = conn.execute("SELECT f_table_name, type, srid FROM geometry_columns "
                            "WHERE f_table_schema = 'crimemap' ORDER BY 1").fetchall()
        index_defs = [r[0] for r in conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = 'crimemap'").fetchall()]
    assert cols == [("layers", "MULTIPOLYGON", 4326), ("offences", "POINT", 4326)]
    assert sum("USING gist (geometry)" in d for d in index_defs) == 2
    assert any("(h3_10)" in d for d in index_defs) and any("(ward)" in d for d in index_defs)


def test_postgis_connection_failure_is_one_line_without_password():
    with pytest.raises(InputError) as e:
        open_store("postgresql://someone:s3cret@127.0.0.1:1/crime")
    msg = str(e.value)
    assert "127.0.0.1:1" in msg and "s3cret" not in msg and "\n" not in msg
