"""Boundary files: field and vintage detection, CRS checks, repairs, and the force table on real names."""

import json

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from boundaries.forces import FORCES, find_force
from boundaries.layers import read_boundary_file
from geo.errors import InputError


def test_real_layers_detect_fields_vintage_and_repairs(shared_data):
    w, wm = read_boundary_file(shared_data / "boundaries/wards/wards_dec2019_west_mercia.geojson", "ward")
    assert (wm["code_field"], wm["name_field"], wm["vintage"], len(w)) == ("WD19CD", "WD19NM", 2019, 269)
    lad, lm = read_boundary_file(shared_data / "boundaries/lad/lad_dec2022_uk_buc.geojson", "lad")
    assert lm["repaired"] == 2 and lad.geometry.is_valid.all()  # MANIFEST: 2 invalid from simplification
    p, pm = read_boundary_file(shared_data / "boundaries/parish/par_oa_dissolved_west_mercia.geojson", "parish")
    assert pm["approximate"] and "Approximate boundary" in pm["notice"] and len(p) == 570
    lsoa, _ = read_boundary_file(shared_data / "boundaries/lsoa/lsoa11_dec2011_ew_bsc.geojson.gz", "lsoa")
    assert len(lsoa) == 34753 and lsoa.crs.to_epsg() == 4326


def test_british_national_grid_is_reprojected_and_missing_crs_refused(tmp_path, shared_data):
    w, _ = read_boundary_file(shared_data / "boundaries/wards/wards_dec2019_west_mercia.geojson", "ward")
    bng = tmp_path / "wards_bng.gpkg"
    w.rename(columns={"code": "WD19CD", "name": "WD19NM"}).to_crs(27700).to_file(bng)
    back, meta = read_boundary_file(bng, "ward")
    assert meta["crs_in"] == "EPSG:27700" and back.crs.to_epsg() == 4326
    assert abs(back.total_bounds - w.total_bounds).max() < 1e-6
    nocrs = tmp_path / "nocrs.geojson"
    fc = json.loads(w.head(2).rename(columns={"code": "WD19CD"}).to_json())
    fc.pop("crs", None)
    nocrs.write_text(json.dumps(fc))
    gdf = gpd.read_file(nocrs)
    if gdf.crs is None:  # GDAL assumes CRS84 for GeoJSON; a shapefile without .prj has none
        with pytest.raises(InputError, match="no CRS"):
            read_boundary_file(nocrs, "ward")
    shp = tmp_path / "nocrs.shp"
    gpd.GeoDataFrame({"WD19CD": ["E05000001"]}, geometry=[shapely.box(0, 0, 1, 1)]).to_file(shp)
    with pytest.raises(InputError, match="no CRS"):
        read_boundary_file(shp, "ward")


def test_wrong_level_and_wrong_file_are_one_line_errors(tmp_path, shared_data):
    with pytest.raises(InputError, match="no parish code field"):
        read_boundary_file(shared_data / "boundaries/wards/wards_dec2019_west_mercia.geojson", "parish")
    with pytest.raises(InputError, match="not ward codes"):
        read_boundary_file(shared_data / "boundaries/lad/lad_dec2022_uk_buc.geojson", "ward", code_field="LAD22CD")
    bad = tmp_path / "x.geojson"
    bad.write_text("not json")
    with pytest.raises(InputError, match="not a readable boundary file"):
        read_boundary_file(bad, "ward")


def test_force_table_knows_every_force_in_the_real_files(shared_data):
    names = set()
    for f in (shared_data / "crime/street").glob("*/*.csv.gz"):
        names |= set(pd.read_csv(f, encoding="utf-8-sig", usecols=["Falls within"])["Falls within"].unique())
    assert names and all(find_force(n) is not None for n in names)
    assert len({f.pfa_code for f in FORCES if f.pfa_code}) == 43  # every E23/W15 force area once
    assert find_force("British Transport Police").pfa_code is None
