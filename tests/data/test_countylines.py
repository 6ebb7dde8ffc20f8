"""data/countylines.py and data/demo_lines.py: validation, rejects, storing, replacing, the synthetic set."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from boundaries.lookups import lad_to_csp_pfa, rail_stations, ward_to_lad
from data import countylines as dcl
from data.demo_lines import generate_demo_lines, load_demo_lines, write_demo_lines
from data.store import open_store
from geo import countylines as cl
from geo.errors import InputError

LINES_HEADER = "line_id,name,origin_force,origin_area,first_seen,last_seen,status"
DEST_HEADER = "line_id,area_code,cuckooed_addresses,first_seen,last_seen"


@pytest.fixture
def store(tmp_path):
    return open_store(tmp_path / "store")


def _write(path, header, rows):
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


@pytest.fixture
def corpus(tmp_path):
    """Valid lines L1, L2, L3 and one row per kind of fault, with the reason each must be rejected for."""
    lines = _write(tmp_path / "lines.csv", LINES_HEADER, [
        "L1,Ace,E23000014,E08000025,2018-01-01,2019-01-31,active",        # row 2 ok
        "L2,Bee,West Midlands Police,,2018-02,,active",                    # row 3 ok (force by name, month date)
        "L3,Cee,merseyside,,2018-03-01,,active",                           # row 4 ok (slug)
        "L4,Dee,E23999999,,2018-01-01,,active",                            # row 5 unknown force
        "L5,Eee,British Transport Police,,2018-01-01,,active",             # row 6 force without a force area
        "L6,Fee,E23000001,E08999999,2018-01-01,,active",                   # row 7 unknown origin area
        "L7,Gee,E23000001,,2018-13-01,,active",                            # row 8 bad date
        "L8,Hee,E23000001,,2018-05-01,2018-01-01,active",                  # row 9 dates out of order
        "L1,Ace again,E23000014,,2018-01-01,,active",                      # row 10 duplicate line_id
        ",Nameless,E23000014,,2018-01-01,,active",                         # row 11 missing line_id
    ])
    dests = _write(tmp_path / "destinations.csv", DEST_HEADER, [
        "L1,E06000020,2,2018-01-15,2019-01-31",                            # row 2 ok (LAD)
        "L1,E05009974,1,2018-01-15,",                                      # row 3 ok (ward)
        "L2,E22000332,0,,",                                                # row 4 ok (CSP)
        "L3,E06000020,,,",                                                 # row 5 ok (count unknown)
        "L2,E06999999,1,,",                                                # row 6 unknown area code
        "L2,E01028702,1,,",                                                # row 7 LSOA: wrong level
        "L2,E06000020,-1,,",                                               # row 8 negative addresses
        "L4,E06000020,1,,",                                                # row 9 its line was rejected
        "L9,E06000020,1,,",                                                # row 10 no such line
        "L1,E06000020,2,2018-01-15,2019-01-31",                            # row 11 duplicate destination
        "L2,,1,,",                                                         # row 12 no area, no lon/lat
        "L3,E07000237,1,2018-06-01,2018-02-01",                            # row 13 dates out of order
    ])
    points = _write(tmp_path / "points.csv", "line_id,lon,lat,cuckooed_addresses", [
        "L3,-2.45,52.68,1",                                                # row 2 ok
        "L3,2.35,48.85,1",                                                 # row 3 Paris: outside Britain
    ])
    stations = _write(tmp_path / "stations.csv", "line_id,crs_code", [
        "L1,TFC", "L2,wof", "L2,XYZ", "L1,TFC", "L9,SHR",                  # ok, ok, unknown, duplicate, dangling
    ])
    links = _write(tmp_path / "links.csv", "line_id,offence_id", ["L1,abc", "L1,", "L3,def"])
    expected = {
        ("lines.csv", 5): "unknown force", ("lines.csv", 6): "no police force area",
        ("lines.csv", 7): "unknown area code", ("lines.csv", 8): "bad date",
        ("lines.csv", 9): "dates out of order", ("lines.csv", 10): "duplicate line_id",
        ("lines.csv", 11): "missing value",
        ("destinations.csv", 6): "unknown area code", ("destinations.csv", 7): "wrong area level",
        ("destinations.csv", 8): "negative count", ("destinations.csv", 9): "its line was rejected",
        ("destinations.csv", 10): "no such line", ("destinations.csv", 11): "duplicate destination",
        ("destinations.csv", 12): "missing destination", ("destinations.csv", 13): "dates out of order",
        ("points.csv", 3): "outside Great Britain",
        ("stations.csv", 4): "unknown station", ("stations.csv", 5): "duplicate station",
        ("stations.csv", 6): "no such line", ("links.csv", 3): "missing value",
    }
    return [lines, dests, points, stations, links], expected


def test_every_fault_rejected_with_its_reason_and_the_rest_stored(store, corpus, tmp_path):
    paths, expected = corpus
    store.write_table("unrelated", pd.DataFrame({"x": [1]}), {"who": "someone else"})
    recs = dcl.load_records(store, paths, rejects_path=tmp_path / "rejects.csv")
    rej = pd.read_csv(tmp_path / "rejects.csv", dtype=str, keep_default_na=False)
    assert list(rej.columns) == ["file", "row", "field", "value", "reason"]
    got = {(r.file, int(r.row)): r.reason for r in rej.itertuples()}
    assert set(got) == set(expected)
    for key, reason in expected.items():
        assert reason in got[key], (key, got[key])
    assert len({r.split(":")[0] for r in rej["reason"]}) >= 10  # at least ten kinds of fault
    assert rej.set_index(["file", "row"]).loc[("lines.csv", "5"), "value"] == "E23999999"
    # the valid rest is stored
    lines = store.read_table("countylines_lines").set_index("line_id")
    assert sorted(lines.index) == ["L1", "L2", "L3"]
    assert lines.loc["L2", "origin_force"] == "E23000014" and lines.loc["L3", "origin_force"] == "E23000004"
    assert lines.loc["L1", "origin_area_name"] == "Birmingham"
    assert str(lines.loc["L2", "first_seen"].date()) == "2018-02-01"
    dests = store.read_table("countylines_destinations")
    assert len(dests) == 5
    assert dict(zip(dests["area_code"].fillna("-"), dests["level"], strict=True)) == {
        "E06000020": "lad", "E05009974": "ward", "E22000332": "csp", "-": "point"}
    assert dests["lon"].notna().sum() == 1
    st = store.read_table("countylines_stations")
    assert sorted(st["crs_code"]) == ["TFC", "WOF"] and st["name"].notna().all()
    assert sorted(store.read_table("countylines_links")["offence_id"]) == ["abc", "def"]
    assert recs.stored == 3 + 5 + 2 + 2 and recs.rows_read == 10 + 12 + 2 + 5 + 3
    assert recs.stored + len(rej) == recs.rows_read
    meta = store.table_meta("countylines_lines")
    assert meta["synthetic"] is False and meta["rejected"] == len(rej)
    # nothing else changed
    assert store.read_table("unrelated")["x"].tolist() == [1]
    assert store.table_meta("unrelated") == {"who": "someone else"}


def test_json_with_four_lists_reads_like_the_csvs(store, tmp_path):
    doc = {"synthetic": True,
           "lines": [{"line_id": "J1", "name": "Jay", "origin_force": "E23000014", "first_seen": "2018-01-01"},
                     {"line_id": "J2", "origin_force": "Nowhere Police"}],
           "destinations": [{"line_id": "J1", "area_code": "E07000236", "cuckooed_addresses": 2},
                            {"line_id": "J2", "area_code": "E07000236"}],
           "links": [{"line_id": "J1", "offence_id": "x1"}],
           "stations": [{"line_id": "J1", "crs_code": "RDC"}]}
    p = tmp_path / "lines.json"
    p.write_text(json.dumps(doc))
    recs = dcl.load_records(store, [p])
    assert recs.lines["line_id"].tolist() == ["J1"] and recs.synthetic
    assert set(recs.rejects["file"]) == {"lines.json:lines", "lines.json:destinations"}
    assert store.table_meta("countylines_destinations")["synthetic"] is True


@pytest.mark.parametrize("content,name", [
    ("a,b,c\n1,2,3\n", "weird.csv"),
    ("", "empty.csv"),
    ('{"nothing": []}', "x.json"),
    ("{not json", "y.json"),
])
def test_file_level_faults_exit_and_change_nothing(store, corpus, tmp_path, content, name):
    paths, _ = corpus
    dcl.load_records(store, paths[:2])
    before = store.read_table("countylines_lines")
    bad = tmp_path / name
    bad.write_text(content)
    with pytest.raises(InputError) as e:
        dcl.load_records(store, [paths[0], bad])
    assert name in str(e.value)
    pd.testing.assert_frame_equal(store.read_table("countylines_lines"), before)


def test_nothing_usable_is_an_input_error_and_writes_rejects(store, tmp_path):
    p = _write(tmp_path / "lines.csv", LINES_HEADER, ["X1,x,E23999999,,,,", "X2,y,Gotham Police,,,,"])
    with pytest.raises(InputError, match="nothing usable"):
        dcl.load_records(store, [p], rejects_path=tmp_path / "r.csv")
    assert len(pd.read_csv(tmp_path / "r.csv")) == 2
    assert store.read_table("countylines_lines") is None


def test_loading_again_replaces(store, tmp_path):
    a = _write(tmp_path / "a.csv", LINES_HEADER, ["A1,a,E23000014,,,,", "A2,b,E23000014,,,,"])
    d = _write(tmp_path / "d.csv", DEST_HEADER, ["A1,E06000020,1,,"])
    dcl.load_records(store, [a, d])
    b = _write(tmp_path / "b.csv", LINES_HEADER, ["B1,c,E23000004,,,,"])
    dcl.load_records(store, [b])
    assert store.read_table("countylines_lines")["line_id"].tolist() == ["B1"]
    assert len(store.read_table("countylines_destinations")) == 0  # nothing left dangling
    # destinations alone are checked against the stored lines, and replace only the destinations
    d2 = _write(tmp_path / "d2.csv", DEST_HEADER, ["B1,E07000237,0,,", "A1,E06000020,1,,"])
    recs = dcl.load_records(store, [d2])
    assert store.read_table("countylines_destinations")["line_id"].tolist() == ["B1"]
    assert "no such line among the lines loaded" in recs.rejects["reason"].iloc[0]
    assert store.read_table("countylines_lines")["line_id"].tolist() == ["B1"]


def test_load_network_and_fallback_geometries(store, corpus):
    paths, _ = corpus
    dcl.load_records(store, paths)
    graph, recs = dcl.load_network(store)
    assert graph.graph["synthetic"] is False
    origins = dcl.origin_geometries(store, recs).set_index("code")
    assert {"E23000014", "E23000004", "E08000025"} <= set(origins.index)
    assert origins.loc["E23000014", "geometry"].distance(
        dcl.pfa_centroids().set_index("code").loc["E23000014", "geometry"]) == 0
    dest = dcl.destination_geometries(store, recs).set_index("code")
    # a ward without a loaded ward layer falls back to its LAD's centroid
    assert dest.loc["E05009974", "geometry"].equals(dest.loc["E06000020", "geometry"])
    assert "E22000332" in dest.index
    f = cl.flows(graph, dcl.origin_geometries(store, recs), dcl.destination_geometries(store, recs))
    assert f.attrs["missing"] == [] and f["lines"].sum() == len(recs.destinations)


# ---- the synthetic demo set ---------------------------------------------------------------------------
WEST_MERCIA_LADS = set(lad_to_csp_pfa(2019).query("pfa == 'E23000016'")["lad"])


def test_demo_set_matches_the_published_facts():
    f = generate_demo_lines()
    lines = f["lines"]
    assert len(lines) == 76 and lines["line_id"].is_unique
    split = lines["origin_force"].value_counts().to_dict()
    assert split == {"E23000014": 73, "E23000004": 2, "E23000001": 1}
    assert split["E23000014"] / 76 > 0.95
    for k in ("lines", "destinations", "stations"):
        assert f[k]["synthetic"].eq(True).all()
    wards = ward_to_lad(2019).set_index("ward")["lad"]
    lads = f["destinations"]["area_code"].map(wards)
    assert lads.notna().all() and set(lads) <= WEST_MERCIA_LADS
    top6 = {"E06000020", "E07000237", "E07000236", "E06000019", "E06000051", "E07000239"}
    assert lads.isin(top6).mean() > 0.85
    assert set(f["stations"]["crs_code"]) <= set(rail_stations()["crs_code"])
    assert (pd.to_datetime(lines["first_seen"]) <= pd.to_datetime(lines["last_seen"])).all()


def test_demo_set_is_deterministic_and_seed_dependent():
    a, b, c = generate_demo_lines(7), generate_demo_lines(7), generate_demo_lines(8)
    for k in a:
        pd.testing.assert_frame_equal(a[k], b[k])
    assert not a["destinations"].equals(c["destinations"])


def test_second_seed_and_split_shares_computed_from_records(store):
    split = {"E23000014": 40, "E23000004": 7, "E23000001": 3}
    recs = load_demo_lines(store, seed=11, split=split)
    assert len(recs.rejects) == 0
    graph, _ = dcl.load_network(store)
    assert graph.graph["synthetic"] is True and dcl.is_synthetic(store)
    shares = cl.origin_shares(graph).set_index("code")
    assert shares["lines"].to_dict() == split
    assert shares["share"].to_dict() == pytest.approx({"E23000014": 0.8, "E23000004": 0.14, "E23000001": 0.06})
    assert store.table_meta("countylines_stations")["synthetic"] is True


def test_demo_csvs_are_readable_county_lines_files(tmp_path):
    paths = write_demo_lines(tmp_path, seed=3)
    assert [p.name for p in paths] == ["lines.csv", "destinations.csv", "links.csv", "stations.csv"]
    recs = dcl.read_records(paths)
    assert len(recs.rejects) == 0 and len(recs.lines) == 76 and recs.synthetic


def test_colocation_with_real_offences_and_wards(store, shared_data):
    from data.ingest import ingest

    ingest(store, [shared_data / "crime/street/west-mercia/2019-01-west-mercia-street.csv.gz"])
    load_demo_lines(store, seed=5)
    assert dcl.colocation_table(store) is None  # no ward layer loaded
    from boundaries.layers import read_boundary_file
    from data.ingest import reassign_all

    layer, meta = read_boundary_file(shared_data / "boundaries/wards/wards_dec2019_west_mercia.geojson", "ward")
    store.save_layer("ward", layer, meta, reassign_all(store, ("ward", layer, meta)))
    t = dcl.colocation_table(store)
    assert set(t["crime_type"]) == {"Drugs", "Possession of weapons"}
    assert t["code"].nunique() == len(t) // 2
    counts = store.read_assignment(levels=["ward"])
    offences = store.read_offences(columns=["offence_id", "crime_type"])
    drugs = counts.merge(offences, on="offence_id")
    code = t["code"].iloc[0]
    want = int(((drugs["ward"] == code) & (drugs["crime_type"] == "Drugs")).sum())
    assert int(t[(t["code"] == code) & (t["crime_type"] == "Drugs")]["count"].iloc[0]) == want
    assert set(t["class"]) <= {"hot_99", "hot_95", "hot_90", "cold_99", "cold_95", "cold_90", "not_significant",
                               "not_computed", "too_few_events"}
