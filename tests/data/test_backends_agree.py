"""The embedded store and PostGIS give identical counts for the real West Mercia months (issue: PostGIS backend)."""

import pandas as pd
import pytest

from data.aggregate import base_counts
from data.ingest import ingest, reassign_all
from data.store import open_store
from tests.conftest import SHARED


@pytest.mark.postgis
def test_ward_parish_and_h3_counts_are_identical_on_both_stores(tmp_path, pg_url, wm_months):
    from boundaries.layers import read_boundary_file

    stores = {"embedded": open_store(tmp_path / "store"), "postgis": open_store(pg_url)}
    layers = [read_boundary_file(SHARED / "boundaries/wards/wards_dec2019_west_mercia.geojson", "ward"),
              read_boundary_file(SHARED / "boundaries/parish/par_oa_dissolved_west_mercia.geojson", "parish")]
    counts = {}
    for name, st in stores.items():
        for (layer, meta), level in zip(layers, ("ward", "parish"), strict=True):
            st.save_layer(level, layer, meta, reassign_all(st, (level, layer, meta)))
        report = ingest(st, wm_months[:2])
        ingest(st, wm_months[2:])  # two ingests: new months added to what is stored
        assert report.total("stored") > 20_000
        counts[name] = {lv: base_counts(st, lv).sort_values(["code", "force", "month", "crime_type"])
                        .reset_index(drop=True) for lv in ("ward", "parish", "lad", "h3:10", "h3:8")}
    for lv, emb in counts["embedded"].items():
        pg = counts["postgis"][lv]
        assert int(emb["count"].sum()) == int(pg["count"].sum()) > 40_000, lv
        emb = emb.assign(month=pd.to_datetime(emb["month"]), count=emb["count"].astype(int))
        pg = pg.assign(month=pd.to_datetime(pg["month"]), count=pg["count"].astype(int))
        pd.testing.assert_frame_equal(emb.astype({"code": str}), pg.astype({"code": str}), check_dtype=False,
                                      obj=lv)
    for st in stores.values():
        st.close()
