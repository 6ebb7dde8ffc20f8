"""The Dask path (dask-geopandas over the partitioned GeoParquet store) against the embedded path, on the real
West Mercia months: the same counts per area, H3 cell, force, month and crime type, and the same assignment rows."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json

import pandas as pd
import pytest

from data.aggregate import base_counts
from geo.errors import InputError
from tests.conftest import need

KEYS = ["code", "force", "month", "crime_type"]


@pytest.fixture(scope="module")
def client():
    """A small in-process ``distributed`` cluster (the path is the same on a LocalCluster of processes)."""
    # under CI a missing scale extra fails instead of skipping (scripts/setup installs '.[dev,scale]')
    need(importlib.util.find_spec("dask_geopandas") is not None and importlib.util.find_spec("distributed") is not None,
         "dask-geopandas and distributed (the scale extra: pip install -e '.[dev,scale]')")
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as c:
        yield c


def _series(frame: pd.DataFrame) -> pd.Series:
    out = frame.assign(month=pd.to_datetime(frame["month"]), **{k: frame[k].astype(object) for k in KEYS
                                                                if k != "month"})
    return out.set_index(KEYS)["count"].astype("int64").sort_index()


def test_one_partition_per_force_month_file(wm_store):
    from data.scale import read_store

    offences = read_store(wm_store.root)
    catalogue = json.loads((wm_store.root / "catalogue.json").read_text())
    assert offences.npartitions == len(catalogue["partitions"]) == 4
    first = offences.partitions[0].compute()
    assert first["month"].nunique() == 1 and first["force"].unique().tolist() == ["west-mercia"]
    assert first.crs.to_epsg() == 4326


@pytest.mark.parametrize("level", ["ward", "parish", "lad", "csp", "lsoa", "h3:8"])
def test_dask_counts_equal_the_embedded_path(wm_store, client, level):
    from data.scale import aggregate_store

    got = aggregate_store(wm_store.root, level, client=client)  # layers: the ones loaded in the store
    want = base_counts(wm_store, level)
    assert list(got.columns) == KEYS + ["count"]
    pd.testing.assert_series_equal(_series(got), _series(want), check_names=False)
    coverage = wm_store.coverage()
    assert got["count"].sum() == coverage["stored"].sum()  # every stored offence counted exactly once


def test_months_and_forces_select_partitions(wm_store, client):
    from data.scale import aggregate_store

    got = aggregate_store(wm_store.root, "ward", client=client, months=(dt.date(2018, 12, 1), dt.date(2019, 1, 1)))
    want = base_counts(wm_store, "ward")
    want = want[want["month"] >= pd.Timestamp(2018, 12, 1)]
    pd.testing.assert_series_equal(_series(got), _series(want), check_names=False)
    none = aggregate_store(wm_store.root, "ward", client=client, forces=["merseyside"])
    assert none.empty and list(none.columns) == KEYS + ["count"]


def test_dask_assignment_equals_the_stored_assignment(wm_store, client, tmp_path):
    from data.scale import assign_store

    rows = assign_store(wm_store.root, tmp_path / "assignment", client=client)
    got = pd.read_parquet(tmp_path / "assignment")
    want = wm_store.read_assignment()
    assert rows == len(got) == len(want)
    cols = ["force", "month", "offence_id", "lsoa", "ward", "parish", "lad", "csp", "pfa"]
    got = got[cols].astype({c: object for c in cols if c != "month"})
    want = want[cols].astype({c: object for c in cols if c != "month"})
    got["month"], want["month"] = pd.to_datetime(got["month"]), pd.to_datetime(want["month"])
    order = ["force", "month", "offence_id"]
    pd.testing.assert_frame_equal(got.sort_values(order).reset_index(drop=True),
                                  want.sort_values(order).reset_index(drop=True), check_dtype=False)


def test_bad_input_is_one_clear_error(wm_store, tmp_path, client):
    from data.scale import aggregate_store

    with pytest.raises(InputError, match="no catalogue.json"):
        aggregate_store(tmp_path, "ward", client=client)
    with pytest.raises(InputError, match="level 'county' is not one of"):
        aggregate_store(wm_store.root, "county", client=client)
    with pytest.raises(InputError, match="no ward boundaries are loaded"):
        aggregate_store(wm_store.root, "ward", layers={}, client=client)


def test_an_unreachable_scheduler_is_one_line(wm_store):
    need(importlib.util.find_spec("distributed") is not None, "distributed (the scale extra)")
    from data.scale import aggregate_store

    with pytest.raises(InputError, match="cannot reach the Dask scheduler 'tcp://127.0.0.1:9'"):
        aggregate_store(wm_store.root, "ward", scheduler="tcp://127.0.0.1:9", connect_timeout="2s")


def test_a_scheduler_address_and_the_default_local_cluster(wm_store, client):
    from distributed import LocalCluster

    from data.scale import aggregate_store

    want = _series(base_counts(wm_store, "ward"))
    with LocalCluster(n_workers=1, processes=False, protocol="tcp://", dashboard_address=None) as cluster:
        got = aggregate_store(wm_store.root, "ward", scheduler=cluster.scheduler_address)
    pd.testing.assert_series_equal(_series(got), want, check_names=False)
    own = aggregate_store(wm_store.root, "ward", n_workers=1, memory_limit="1GB")  # worker processes of its own
    pd.testing.assert_series_equal(_series(own), want, check_names=False)


def test_cli_scale_counts_and_assign(wm_store, tmp_path, capsys, monkeypatch):
    from api.cli import main

    monkeypatch.setenv("CRIMEMAP_QUIET", "1")

    def run(*args):
        with pytest.raises(SystemExit) as e:
            main([str(a) for a in args])
        return e.value.code or 0, capsys.readouterr().err

    code, err = run("scale", "counts", "--level", "h3:8", "--months", "2019-01", "--workers", "1",
                    "--store", wm_store.location, "--out", tmp_path / "h3.csv")
    assert code == 0, err
    got = pd.read_csv(tmp_path / "h3.csv", dtype={"month": str})
    assert list(got.columns) == KEYS + ["count"] and set(got["month"]) == {"2019-01"}
    want = base_counts(wm_store, "h3:8")
    assert got["count"].sum() == want[want["month"] == pd.Timestamp(2019, 1, 1)]["count"].sum()
    code, err = run("scale", "assign", "--workers", "1", "--store", wm_store.location, "--out", tmp_path / "a")
    assert code == 0 and f"{len(wm_store.read_assignment()):,} assignment rows" in err, err
    for args, message in ((["counts", "--level", "ward", "--out", tmp_path / "x.gpkg"], "expected .csv or .parquet"),
                          (["counts", "--level", "ward", "--out", tmp_path / "x.csv", "--store", "postgresql://h/db"],
                           "not an embedded store directory"),
                          (["assign", "--out", tmp_path / "a"], "is not empty")):
        code, err = run("scale", *args, *([] if "--store" in args else ["--store", wm_store.location]))
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
