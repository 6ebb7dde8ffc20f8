"""The Dask path gives the same ward counts as the assignment ingest stores, on a real West Mercia month."""

from __future__ import annotations

import importlib.util

import geopandas as gpd
import pandas as pd

from data.assignment import assign_offences
from data.readers import read_crime_file
from tests.conftest import SHARED, STREET, need


def test_dask_ward_counts_equal_the_stored_assignment(shared_data, tmp_path):
    # under CI a missing scale extra fails instead of skipping (scripts/setup installs '.[dev,scale]')
    need(importlib.util.find_spec("distributed") is not None,
         "dask distributed (the scale extra: pip install -e '.[dev,scale]')")
    from distributed import Client, LocalCluster

    from data.embedded import EmbeddedStore
    from data.scale import aggregate_store

    wards = gpd.read_file(SHARED / "boundaries/wards/wards_dec2019_west_mercia.geojson")
    wards = wards.rename(columns={"WD19CD": "code", "WD19NM": "name"})[["code", "name", "geometry"]]
    layers = {"ward": (wards, {"vintage": 2019})}
    store = EmbeddedStore(str(tmp_path / "store"))
    for name in ("2018-12-west-mercia-street.csv.gz", "2019-01-west-mercia-street.csv.gz"):
        path = STREET / "west-mercia" / name
        off = read_crime_file(path.name, path.read_bytes()).offences.drop(columns=["source_line"])
        off = off[~off.duplicated(["force", "month", "offence_id"])]
        store.commit_ingest(off, assign_offences(off, layers), {"files": [name]})
    want = store.read_assignment(levels=["ward"]).groupby(["ward", "month"]).size()
    with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster, Client(cluster) as client:
        got = aggregate_store(tmp_path / "store", "ward", layers, client=client)
    got = got.groupby(["code", "month"])["count"].sum()
    pd.testing.assert_series_equal(got.sort_index(), want.sort_index(), check_names=False, check_dtype=False,
                                   check_index_type=False)
