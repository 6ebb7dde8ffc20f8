"""geo/countylines.py: the graph, its analyses and exports, on hand-made records with known answers."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import networkx as nx
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, box

from geo import countylines as cl

WM, MER, MET = "E23000014", "E23000004", "E23000001"
NAMES = {WM: "West Midlands", MER: "Merseyside", MET: "Metropolitan Police"}


def _lines(forces: list[str], **extra) -> pd.DataFrame:
    return pd.DataFrame({
        "line_id": [f"L{i}" for i in range(len(forces))], "name": [f"Line {i}" for i in range(len(forces))],
        "origin_force": forces, "origin_force_name": [NAMES.get(f, f) for f in forces], **extra,
    })


@pytest.fixture
def small():
    """5 lines: 3 West Midlands, 1 Merseyside, 1 Met; two clusters of shared destinations and a loner."""
    lines = _lines([WM, WM, WM, MER, MET], origin_area=["E08000025", None, None, None, None],
                   first_seen=pd.to_datetime(["2018-01-05", "2018-02-01", "2018-02-20", "2018-03-01", "2018-01-01"]),
                   last_seen=pd.to_datetime(["2018-03-31", None, "2018-02-25", "2018-04-30", "2018-01-31"]),
                   synthetic=False)
    dests = pd.DataFrame({
        "line_id": ["L0", "L0", "L1", "L1", "L2", "L3", "L4"],
        "area_code": ["W_T1", "W_T2", "W_T1", "W_T2", "W_R1", "W_R1", "W_X"],
        "area_name": ["Telford A", "Telford B", "Telford A", "Telford B", "Redditch A", "Redditch A", "Elsewhere"],
        "level": "ward",
        "cuckooed_addresses": [1, 2, 0, 1, 3, 1, 0],
        "first_seen": pd.to_datetime(["2018-01-10"] * 7), "last_seen": pd.NaT,
    })
    stations = pd.DataFrame({"line_id": ["L0", "L1", "L2"], "crs_code": ["TFC", "TFC", "RDC"],
                             "name": ["Telford Central", "Telford Central", "Redditch"],
                             "lon": [-2.4407, -2.4407, -1.9455], "lat": [52.6788, 52.6788, 52.3063]})
    links = pd.DataFrame({"line_id": ["L0", "L0"], "offence_id": ["a", "b"]})
    return cl.build_graph(lines, dests, links, stations)


def test_graph_has_the_four_node_kinds_and_three_edge_kinds(small):
    kinds = pd.Series(dict(small.nodes(data="kind"))).value_counts().to_dict()
    assert kinds == {"line": 5, "area": 4, "force": 3, "station": 2}
    edge_kinds = pd.Series([k for *_, k in small.edges(data="kind")]).value_counts().to_dict()
    assert edge_kinds == {"originates_in": 5, "supplies": 7, "travels_via": 3}
    assert small.nodes["line:L0"]["linked_offences"] == 2
    assert small.nodes["line:L0"]["origin_area"] == "E08000025"
    assert small.edges["line:L2", "area:W_R1", "supplies:0"]["cuckooed_addresses"] == 3


def test_origin_shares_known_answer(small):
    s = cl.origin_shares(small)
    assert s[["code", "lines"]].values.tolist() == [[WM, 3], [MET, 1], [MER, 1]]
    assert s["share"].tolist() == pytest.approx([0.6, 0.2, 0.2])
    assert s.loc[0, "name"] == "West Midlands"


def test_lines_per_destination_counts_distinct_lines_and_rolls_up(small):
    d = cl.lines_per_destination(small).set_index("code")
    assert d.loc["W_T1", "lines"] == 2 and d.loc["W_R1", "lines"] == 2 and d.loc["W_X", "lines"] == 1
    assert d.loc["W_R1", "cuckooed_addresses"] == 4
    h = pd.DataFrame({"ward": ["W_T1", "W_T2", "W_R1", "W_X"], "lad": ["TEL", "TEL", "RED", "RED"],
                      "lad_name": ["Telford", "Telford", "Redditch", "Redditch"], "csp": ["C1", "C1", "C2", "C2"]})
    lad = cl.lines_per_destination(small, level="lad", hierarchy=h).set_index("code")
    # L0 and L1 supply two Telford wards each: they count once for the LAD
    assert lad.loc["TEL", "lines"] == 2 and lad.loc["TEL", "cuckooed_addresses"] == 4
    assert lad.loc["RED", "lines"] == 3 and lad.loc["RED", "name"] == "Redditch"
    csp = cl.lines_per_destination(small, level="csp", hierarchy=h)
    assert csp.set_index("code")["lines"].to_dict() == {"C1": 2, "C2": 3}


def test_communities_group_lines_sharing_destinations(small):
    c = cl.line_communities(small, seed=3)
    groups = sorted(sorted(g) for g in c.groupby("community")["line_id"].apply(list))
    assert groups == [["L0", "L1"], ["L2", "L3"], ["L4"]]
    assert cl.line_communities(small, seed=3).equals(c)  # seeded: same answer
    d = cl.describe_communities(small, c)
    assert d["lines"].tolist() == [2, 2, 1]


def test_centrality_force_hub_and_degrees(small):
    c = cl.centrality(small).set_index("node")
    assert c.loc["force:E23000014", "degree"] == 3
    assert c.loc["line:L0", "degree"] == 4  # force, two wards, one station
    assert c["betweenness"].between(0, 1).all()
    assert c.loc["area:W_R1", "betweenness"] > c.loc["area:W_X", "betweenness"]


def test_lines_active_per_month():
    lines = pd.DataFrame({"first_seen": pd.to_datetime(["2018-01-05", "2018-02-01", "2018-02-20", "2018-03-01"]),
                          "last_seen": pd.to_datetime(["2018-03-31", None, "2018-02-25", "2018-04-30"])})
    a = cl.lines_active_per_month(lines)
    assert a["month"].tolist() == [dt.date(2018, m, 1) for m in (1, 2, 3, 4)]
    assert a["lines"].tolist() == [1, 3, 3, 2]


def test_flows_from_origin_area_or_force_centroid(small):
    origins = gpd.GeoDataFrame({"code": [WM, MER, MET, "E08000025"]},
                               geometry=[Point(-1.9, 52.5), Point(-2.9, 53.4), Point(-0.1, 51.5), Point(-1.89, 52.48)],
                               crs="EPSG:4326")
    areas = gpd.GeoDataFrame({"code": ["W_T1", "W_T2", "W_R1"]},
                             geometry=[box(-2.5, 52.6, -2.4, 52.7), box(-2.45, 52.65, -2.35, 52.75),
                                       box(-2.0, 52.25, -1.9, 52.35)], crs="EPSG:4326").to_crs(27700)
    f = cl.flows(small, origins, areas)
    assert set(f.geom_type) == {"LineString"} and f.crs.to_epsg() == 4326
    pairs = {(r.origin, r.destination): r.lines for r in f.itertuples()}
    # L0 starts from its origin area (Birmingham), L1 and L2 from the force centroid
    assert pairs == {("E08000025", "W_T1"): 1, ("E08000025", "W_T2"): 1, (WM, "W_T1"): 1, (WM, "W_T2"): 1,
                     (WM, "W_R1"): 1, (MER, "W_R1"): 1}
    assert f.attrs["missing"] == ["W_X"]
    start = f[f["origin"] == MER].geometry.iloc[0].coords[0]
    assert start == pytest.approx((-2.9, 53.4))
    polys = cl.destination_areas(small, areas)
    assert polys.set_index("code")["lines"].to_dict() == {"W_R1": 2, "W_T1": 2, "W_T2": 2}
    assert set(polys.geom_type) == {"Polygon"}
    pts = cl.station_points(small)
    assert pts.set_index("crs_code")["lines"].to_dict() == {"TFC": 2, "RDC": 1}


def test_point_destinations_become_point_nodes():
    g = cl.build_graph(_lines([WM]), pd.DataFrame({"line_id": ["L0"], "area_code": [None], "lon": [-2.5],
                                                    "lat": [52.7]}))
    (node,) = [n for n, k in g.nodes(data="kind") if k == "point"]
    f = cl.flows(g, gpd.GeoDataFrame({"code": [WM]}, geometry=[Point(-1.9, 52.5)], crs="EPSG:4326"),
                 gpd.GeoDataFrame({"code": []}, geometry=[], crs="EPSG:4326"))
    assert f.geometry.iloc[0].coords[-1] == pytest.approx((-2.5, 52.7))
    assert g.nodes[node]["level"] == "point"


def test_nearest_stations_in_metres():
    areas = gpd.GeoDataFrame({"code": ["A"]}, geometry=[Point(-2.44, 52.68)], crs="EPSG:4326")
    stations = gpd.GeoDataFrame({"crs_code": ["TFC", "SHR", "RDC"], "name": ["T", "S", "R"]},
                                geometry=[Point(-2.4407, 52.6788), Point(-2.7495, 52.7116), Point(-1.9455, 52.3063)],
                                crs="EPSG:4326")
    n = cl.nearest_stations(areas, stations, k=2)
    assert n["crs_code"].tolist() == ["TFC", "SHR"] and n["rank"].tolist() == [1, 2]
    assert n["distance_m"].iloc[0] < 200 and 20_000 < n["distance_m"].iloc[1] < 23_000


def test_graphml_round_trip_same_nodes_edges_attributes(small, tmp_path):
    g = cl.graph_for_export(small)
    p = tmp_path / "g.graphml"
    nx.write_graphml(g, p)
    back = nx.read_graphml(p, force_multigraph=True, edge_key_type=str)
    assert isinstance(back, nx.MultiDiGraph) and back.graph["synthetic"] is False
    assert dict(back.nodes(data=True)) == dict(g.nodes(data=True))
    edges = sorted(g.edges(keys=True, data=True), key=repr)
    assert sorted(back.edges(keys=True, data=True), key=repr) == edges
    assert back.nodes["line:L0"]["first_seen"] == "2018-01-05"
    # a plain read (no parallel edges here, so networkx gives a DiGraph): same nodes, edges and attributes,
    # the edge key coming back as the GraphML edge id
    plain = nx.read_graphml(p)
    assert dict(plain.nodes(data=True)) == dict(g.nodes(data=True))
    expected = sorted(((u, v, {**d, "id": k}) for u, v, k, d in edges), key=repr)
    assert sorted(plain.edges(data=True), key=repr) == expected


def test_export_graph_keeps_one_type_per_attribute(small):
    g = cl.graph_for_export(small)
    for records in ([d for _, d in g.nodes(data=True)], [d for *_, d in g.edges(keys=True, data=True)]):
        types: dict[str, set] = {}
        for d in records:
            for k, v in d.items():
                types.setdefault(k, set()).add(type(v))
        assert all(len(t) == 1 for t in types.values()), types


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from([WM, MER, MET, "E23000016"]), min_size=1, max_size=60))
def test_shares_are_counts_over_total(forces):
    s = cl.origin_shares(cl.build_graph(_lines(forces)))
    assert s["lines"].sum() == len(forces)
    assert s["share"].sum() == pytest.approx(1.0)
    for r in s.itertuples():
        assert r.lines == forces.count(r.code)
        assert r.share == pytest.approx(forces.count(r.code) / len(forces))
