"""Aggregation on the real West Mercia months: sjoin agreement, totals across levels, rates, exports."""

import datetime as dt
import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from api.exports import to_feature_collection, write_table
from data.aggregate import aggregate, area_counts, lsoa11_population, quarter_change, study_area, top_locations
from geo.errors import InputError
from geo.record import LEVELS

JAN = (dt.date(2019, 1, 1), dt.date(2019, 1, 1))


def test_ward_counts_equal_an_independent_sjoin(wm_store, wm_month, shared_data):
    d = pd.read_csv(wm_month, encoding="utf-8-sig").dropna(subset=["Longitude", "Latitude"])
    d = d[d["Crime type"] != "Anti-social behaviour"]
    pts = gpd.GeoDataFrame(d, geometry=gpd.points_from_xy(d.Longitude, d.Latitude), crs=4326)
    wards = gpd.read_file(shared_data / "boundaries/wards/wards_dec2019_west_mercia.geojson")[["WD19CD", "geometry"]]
    ref = gpd.sjoin(pts, wards, predicate="within").groupby("WD19CD").size()
    got = aggregate(wm_store, "ward", months=JAN, geometry=False).set_index("code")["count"]
    both = ref.to_frame("ref").join(got.rename("got"), how="outer").fillna(0)
    both = both[both.index.str.startswith("E05")]
    assert (both["ref"] == both["got"]).all()
    assert got["outside"] + got["unlocated"] + both["got"].sum() == len(d) + int(
        (pd.read_csv(wm_month, encoding="utf-8-sig")["Longitude"].isna()
         & (pd.read_csv(wm_month, encoding="utf-8-sig")["Crime type"] != "Anti-social behaviour")).sum())


@pytest.mark.parametrize("types", [None, ("Drugs",), ("Anti-social behaviour", "Burglary")])
def test_every_level_adds_up_to_the_filtered_total(wm_store, types):
    off = wm_store.read_offences(columns=["crime_type", "month"])
    sel = off["crime_type"] != "Anti-social behaviour" if types is None else off["crime_type"].isin(types)
    total = int(sel.sum())
    for level in LEVELS:
        t = aggregate(wm_store, level, crime_types=types, geometry=False)
        assert t["count"].sum() == total, level
        assert not t["code"].duplicated().any()


def test_levels_nest_wards_into_lads_csps_and_pfa(wm_store):
    lad = aggregate(wm_store, "lad", geometry=False).set_index("code")["count"]
    pfa = aggregate(wm_store, "pfa", geometry=False).set_index("code")["count"]
    csp = aggregate(wm_store, "csp", geometry=False).set_index("code")["count"]
    wm_lads = ["E06000019", "E06000020", "E06000051"] + [f"E0700023{i}" for i in range(4, 10)]
    assert lad[wm_lads].sum() == pfa["E23000016"] == csp[csp.index.str.startswith("E22")].loc[
        ["E22000326", "E22000332", "E22000333", "E22000360", "E22000368"]].sum()


def test_parishes_cover_west_mercia_with_unparished_areas(wm_store):
    p = aggregate(wm_store, "parish", months=JAN, geometry=False)
    inside = p[p["code"].str.match(r"^(E04|E43)")]["count"].sum()
    located = p[~p["code"].isin(["unlocated"])]["count"].sum()
    assert inside >= 0.95 * located
    assert p["approximate"].all()


def test_population_is_apportioned_without_loss(wm_store):
    assert lsoa11_population().sum() == 59597114
    w = aggregate(wm_store, "ward", geometry=False)
    assert w.loc[w["code"].str.startswith("E05"), "population"].sum() == pytest.approx(1299906)
    wm = aggregate(wm_store, "pfa", geometry=False).set_index("code")
    assert wm.loc["E23000016", "rate_per_1000"] == pytest.approx(wm.loc["E23000016", "count"] / 1299906 * 1000)
    p = aggregate(wm_store, "parish", geometry=False)
    # area overlap of wards onto parishes keeps the total (parishes + E43 cover the wards)
    assert p.loc[p["code"].str.match(r"^(E04|E43)"), "population"].sum() == pytest.approx(1299906, rel=0.01)


def test_no_data_is_not_zero(wm_store):
    t = aggregate(wm_store, "pfa", geometry=False).set_index("code")
    # Staffordshire has no file in this store: no data, count null
    assert bool(t.loc["E23000015", "no_data"]) is (t.loc["E23000015", "count"] != t.loc["E23000015", "count"]) or \
        t.loc["E23000015", "count"] > 0


def test_h3_cells_and_study_area(wm_store):
    c = area_counts(wm_store, "h3:9", months=JAN)
    s = study_area(wm_store, "h3:9", JAN)
    assert set(c["code"]) - {"unlocated"} <= set(s)
    t = aggregate(wm_store, "h3:9", months=JAN)
    cells = t[t["code"] != "unlocated"]
    assert cells.geometry.geom_type.eq("Polygon").all() and (cells["per_km2"] > 0).all()


def test_geopackage_and_rfc7946_geojson(wm_store, tmp_path):
    t = aggregate(wm_store, "ward", months=JAN)
    gpkg = write_table(t, tmp_path / "w.gpkg", {"layer": "ward"})
    info = pyogrio.read_info(gpkg)
    assert info["features"] == int(t.geometry.notna().sum()) == 269 and "4326" in info["crs"]
    fc = json.loads(write_table(t, tmp_path / "w.geojson", {}).read_text())
    assert "crs" not in fc and len(fc["features"]) == len(t)
    for f in fc["features"]:
        g = f["geometry"]
        if g is None:
            continue
        shape = shapely.geometry.shape(g)
        polys = shape.geoms if shape.geom_type == "MultiPolygon" else [shape]
        assert all(shapely.is_ccw(p.exterior) for p in polys)
        coords = np.array(shapely.get_coordinates(shape))
        assert np.allclose(coords, coords.round(6)) and (-7 < coords[:, 0]).all() and (coords[:, 1] < 56).all()
    csv = write_table(aggregate(wm_store, "ward", months=JAN, geometry=False), tmp_path / "w.csv", {})
    lines = csv.read_text().splitlines()
    assert lines[0].startswith("code,name,level,month,crime_type,count,rate_per_1000,per_km2,population,vintage")
    assert (tmp_path / "w.csv.meta.json").exists()
    assert "Open Government Licence" in (tmp_path / "w.csv.meta.json").read_text()
    fcd = to_feature_collection(t.head(3))
    assert "NaN" not in json.dumps(fcd)


def test_top_locations_group_by_snap_point(wm_store):
    w = aggregate(wm_store, "ward", geometry=False)
    busiest = w[w["code"].str.startswith("E05")].sort_values("count").iloc[-1]["code"]
    top = top_locations(wm_store, "ward", busiest, n=5)
    assert len(top) == 5 and top["count"].is_monotonic_decreasing
    assert not top[["lon", "lat"]].duplicated().any()


def test_quarter_change_needs_two_quarters(wm_store):
    with pytest.raises(InputError, match="two consecutive complete quarters"):
        quarter_change(wm_store, "ward")


def test_bad_requests_are_one_line_input_errors(wm_store):
    with pytest.raises(InputError, match="level 'county'"):
        aggregate(wm_store, "county")
    with pytest.raises(InputError, match="finer than the public"):
        aggregate(wm_store, "h3:9", audience="parish")
