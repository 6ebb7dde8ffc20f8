"""``crimemap lines load|summary|export`` end to end on an embedded store."""

from __future__ import annotations

import json
import re

import networkx as nx
import pytest

from api.cli import main
from data.countylines import load_network
from data.demo_lines import write_demo_lines
from data.store import open_store
from geo.countylines import graph_for_export


def run(capsys, *args):
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    cap = capsys.readouterr()
    return e.value.code, cap.out, cap.err


@pytest.fixture
def hand_made(tmp_path):
    """8 West Midlands lines, 1 Merseyside, 1 Met, and one line from a force that does not exist."""
    forces = ["E23000014"] * 8 + ["merseyside", "Metropolitan Police Service", "E23999999"]
    lines = ["line_id,name,origin_force,origin_area,first_seen,last_seen,status"]
    dests = ["line_id,area_code,cuckooed_addresses,first_seen,last_seen"]
    towns = ["E06000020", "E07000237", "E07000236"]
    for i, f in enumerate(forces):
        lines.append(f"H{i},Line {i},{f},,2018-0{1 + i % 9}-01,2019-01-31,active")
        dests.append(f"H{i},{towns[i % 3]},{i % 3},2018-0{1 + i % 9}-15,2019-01-31")
    (tmp_path / "lines.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "destinations.csv").write_text("\n".join(dests) + "\n")
    return [tmp_path / "lines.csv", tmp_path / "destinations.csv"]


def _share_on_force_line(text, force, pct):
    return any(force in line and re.search(rf"\b{pct}\s*%", line) for line in text.splitlines())


def test_load_and_summary_shares_from_hand_made_records(capsys, tmp_path, hand_made):
    store = tmp_path / "store"
    rc, _, err = run(capsys, "lines", "load", *hand_made, "--store", store, "--rejects", tmp_path / "rej.csv")
    assert rc == 0
    assert "E23999999" in err and "unknown force" in err and "Traceback" not in err
    assert "rej.csv" in err and (tmp_path / "rej.csv").exists()
    rc, out, _ = run(capsys, "lines", "summary", "--store", store)
    assert rc == 0
    assert _share_on_force_line(out, "E23000014", 80)
    assert _share_on_force_line(out, "E23000004", 10) and _share_on_force_line(out, "E23000001", 10)
    assert "West Midlands" in out and "SYNTHETIC" not in out
    rc, out, _ = run(capsys, "lines", "summary", "--json", "--store", store)
    s = json.loads(out)
    assert {o["code"]: (o["lines"], o["share"]) for o in s["origins"]} == {
        "E23000014": (8, 0.8), "E23000004": (1, 0.1), "E23000001": (1, 0.1)}
    assert s["lines"] == 10 and s["synthetic"] is False
    assert {d["code"] for d in s["top_lads"]} == {"E06000020", "E07000237", "E07000236"}
    assert sum(c["lines"] for c in s["communities"]) == 10


def test_summary_of_a_synthetic_second_seed(capsys, tmp_path):
    paths = write_demo_lines(tmp_path / "demo", seed=99, split={"E23000014": 17, "E23000004": 2, "E23000001": 1})
    store = tmp_path / "store"
    assert run(capsys, "lines", "load", *paths, "--store", store)[0] == 0
    rc, out, _ = run(capsys, "lines", "summary", "--store", store)
    assert rc == 0 and "SYNTHETIC" in out
    assert _share_on_force_line(out, "E23000014", 85) and _share_on_force_line(out, "E23000004", 10)
    assert _share_on_force_line(out, "E23000001", 5)
    s = json.loads(run(capsys, "lines", "summary", "--json", "--store", store)[1])
    assert s["synthetic"] is True and "SYNTHETIC" in s["notice"]
    assert [o["lines"] for o in s["origins"]] == [17, 2, 1]


def test_exports(capsys, tmp_path, hand_made):
    store = tmp_path / "store"
    run(capsys, "lines", "load", *hand_made, "--store", store, "--rejects", tmp_path / "rej.csv")
    expected = graph_for_export(load_network(open_store(store))[0])
    rc, _, _ = run(capsys, "lines", "export", "--format", "graphml", "--out", tmp_path / "g.graphml", "--store", store)
    assert rc == 0
    back = nx.read_graphml(tmp_path / "g.graphml", force_multigraph=True, edge_key_type=str)
    assert dict(back.nodes(data=True)) == dict(expected.nodes(data=True))
    assert sorted(back.edges(keys=True, data=True), key=repr) == sorted(expected.edges(keys=True, data=True), key=repr)
    assert "Open Government Licence" in back.graph["attribution"]

    assert run(capsys, "lines", "export", "--format", "gexf", "--out", tmp_path / "g.gexf", "--store", store)[0] == 0
    gx = nx.read_gexf(tmp_path / "g.gexf")
    assert set(gx.nodes) == set(expected.nodes) and gx.number_of_edges() == expected.number_of_edges()

    assert run(capsys, "lines", "export", "--format", "json", "--out", tmp_path / "g.json", "--store", store)[0] == 0
    nl = nx.node_link_graph(json.loads((tmp_path / "g.json").read_text()), edges="edges")
    assert set(nl.nodes) == set(expected.nodes)

    assert run(capsys, "lines", "export", "--format", "geojson", "--out", tmp_path / "f.geojson",
               "--store", store)[0] == 0
    fc = json.loads((tmp_path / "f.geojson").read_text())
    layers = {f["properties"]["layer"] for f in fc["features"]}
    assert layers == {"flows", "destinations"} and fc["synthetic"] is False
    flows = [f for f in fc["features"] if f["properties"]["layer"] == "flows"]
    assert {f["geometry"]["type"] for f in flows} == {"LineString"}
    assert sum(f["properties"]["lines"] for f in flows) == 10
    assert "ODbL" in fc["attribution"]


def test_unusable_input_exits_2_with_one_line(capsys, tmp_path):
    p = tmp_path / "lines.csv"
    p.write_text("line_id,name,origin_force,origin_area,first_seen,last_seen,status\nX,x,E23999999,,,,\n")
    rc, _, err = run(capsys, "lines", "load", p, "--store", tmp_path / "s", "--rejects", tmp_path / "r.csv")
    assert rc == 2 and "nothing usable" in err and "r.csv" in err and "Traceback" not in err
    rc, _, err = run(capsys, "lines", "summary", "--store", tmp_path / "s")
    assert rc == 2 and "no county-lines records" in err
    q = tmp_path / "odd.csv"
    q.write_text("a,b\n1,2\n")
    rc, _, err = run(capsys, "lines", "load", q, "--store", tmp_path / "s")
    assert rc == 2 and "odd.csv" in err and "line_id" in err
    rc, _, err = run(capsys, "lines", "export", "--format", "svg", "--out", tmp_path / "x", "--store", tmp_path / "s")
    assert rc == 2 and "graphml" in err
