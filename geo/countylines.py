"""The county-lines network: a networkx MultiDiGraph of lines, the force areas they come from, the areas they
supply and the rail stations they travel through, and the analyses run on it.

Nodes carry ``kind`` (``line``, ``force``, ``area``, ``point``, ``station``), ``code`` and ``name``; node ids are
``"<kind>:<code>"`` so a line id can never collide with an area code. Edges run from the line:
``originates_in`` (line → force area), ``supplies`` (line → destination area, one edge per destination record,
with its dates and ``cuckooed_addresses``) and ``travels_via`` (line → station). Every node and edge carries
``synthetic``, and so does the graph (``graph.graph["synthetic"]``).

Inputs are the clean frames ``data.countylines`` hands over (``lines``: line_id, name, origin_force,
origin_force_name, origin_area, first_seen, last_seen, status, synthetic; ``destinations``: line_id,
area_code, area_name, level, lon, lat, cuckooed_addresses, first_seen, last_seen, synthetic; ``links``:
line_id, offence_id; ``stations``: line_id, crs_code, name, lon, lat). Geometries come in as GeoDataFrames;
nothing here reads a file.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely

from geo.errors import InputError

#: the node kinds, in the order summaries list them
NODE_KINDS = ("line", "force", "area", "point", "station")
#: the edge kinds
EDGE_KINDS = ("originates_in", "supplies", "travels_via")
_METRIC_CRS = "EPSG:27700"


def _value(v):
    """A record value as the graph keeps it: None for missing, python scalars, ``date`` for dates."""
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        return v.date()
    if isinstance(v, np.generic):
        return v.item()
    return v


def _frame(frame: pd.DataFrame | None, columns: Iterable[str]) -> pd.DataFrame:
    if frame is None:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"county-lines frame has columns {list(frame.columns)}; expected also {missing}")
    return frame


def line_node(line_id: str) -> str:
    """The node id of a line.

    Examples
    --------
    >>> line_node("L001")
    'line:L001'
    """
    return f"line:{line_id}"


def _point_code(lon: float, lat: float) -> str:
    return f"{lon:.5f},{lat:.5f}"


def build_graph(
    lines: pd.DataFrame,
    destinations: pd.DataFrame | None = None,
    links: pd.DataFrame | None = None,
    stations: pd.DataFrame | None = None,
) -> nx.MultiDiGraph:
    """Build the county-lines MultiDiGraph from validated record frames.

    Parameters
    ----------
    lines : DataFrame
        One row per line: ``line_id, name, origin_force, origin_force_name`` and optionally ``origin_area,
        first_seen, last_seen, status, synthetic``.
    destinations : DataFrame, optional
        ``line_id`` and ``area_code`` (or ``lon``/``lat``), optionally ``area_name, level, cuckooed_addresses,
        first_seen, last_seen``.
    links : DataFrame, optional
        ``line_id, offence_id``: counted on the line node as ``linked_offences``.
    stations : DataFrame, optional
        ``line_id, crs_code`` and optionally ``name, lon, lat``.

    Returns
    -------
    networkx.MultiDiGraph

    Examples
    --------
    >>> lines = pd.DataFrame({"line_id": ["A", "B"], "name": ["Ace", "Bee"],
    ...                       "origin_force": ["E23000014", "E23000004"],
    ...                       "origin_force_name": ["West Midlands", "Merseyside"]})
    >>> dests = pd.DataFrame({"line_id": ["A", "B"], "area_code": ["E06000020", "E06000020"]})
    >>> g = build_graph(lines, dests)
    >>> sorted(g.nodes)
    ['area:E06000020', 'force:E23000004', 'force:E23000014', 'line:A', 'line:B']
    >>> sorted(k for _, _, k in g.edges(keys=True))
    ['originates_in', 'originates_in', 'supplies:0', 'supplies:0']
    """
    lines = _frame(lines, ["line_id", "origin_force"])
    destinations = _frame(destinations, ["line_id"])
    links = _frame(links, ["line_id", "offence_id"])
    stations = _frame(stations, ["line_id", "crs_code"])
    synthetic_lines = bool(lines["synthetic"].fillna(False).astype(bool).any()) if "synthetic" in lines else False
    g = nx.MultiDiGraph(synthetic=synthetic_lines)
    linked = links.groupby("line_id").size().to_dict() if len(links) else {}

    def get(row, col, default=None):
        return _value(row.get(col, default))

    for row in lines.to_dict("records"):
        lid = str(row["line_id"])
        syn = bool(get(row, "synthetic") or False)
        force_code = str(row["origin_force"])
        g.add_node(
            line_node(lid), kind="line", code=lid, name=get(row, "name") or lid,
            origin_force=force_code, origin_area=get(row, "origin_area"),
            first_seen=get(row, "first_seen"), last_seen=get(row, "last_seen"), status=get(row, "status"),
            linked_offences=int(linked.get(lid, 0)), synthetic=syn,
        )
        fnode = f"force:{force_code}"
        if fnode not in g:
            g.add_node(fnode, kind="force", code=force_code, name=get(row, "origin_force_name") or force_code,
                       synthetic=False)
        g.add_edge(line_node(lid), fnode, key="originates_in", kind="originates_in", synthetic=syn)

    counters: dict[str, int] = {}
    for row in destinations.to_dict("records"):
        lid = str(row["line_id"])
        if line_node(lid) not in g:
            raise InputError(f"destination for line {lid!r}, which is not among the lines; expected a known line_id")
        code = get(row, "area_code")
        if code is None:
            lon, lat = float(row["lon"]), float(row["lat"])
            code = _point_code(lon, lat)
            node = f"point:{code}"
            attrs = dict(kind="point", code=code, name=f"point {code}", level="point", lon=lon, lat=lat)
        else:
            node = f"area:{code}"
            attrs = dict(kind="area", code=str(code), name=get(row, "area_name") or str(code),
                         level=get(row, "level") or "area")
        if node not in g:
            g.add_node(node, synthetic=False, **attrs)
        syn = bool(get(row, "synthetic") or False)
        if syn:
            g.nodes[node]["synthetic"] = True
        n = counters.get(lid + node, 0)
        counters[lid + node] = n + 1
        cuckooed = get(row, "cuckooed_addresses")
        g.add_edge(
            line_node(lid), node, key=f"supplies:{n}", kind="supplies",
            first_seen=get(row, "first_seen"), last_seen=get(row, "last_seen"),
            cuckooed_addresses=None if cuckooed is None else int(cuckooed), synthetic=syn,
        )

    for row in stations.to_dict("records"):
        lid = str(row["line_id"])
        if line_node(lid) not in g:
            raise InputError(f"station for line {lid!r}, which is not among the lines; expected a known line_id")
        crs = str(row["crs_code"])
        node = f"station:{crs}"
        if node not in g:
            g.add_node(node, kind="station", code=crs, name=get(row, "name") or crs,
                       lon=get(row, "lon"), lat=get(row, "lat"), synthetic=False)
        syn = bool(get(row, "synthetic") or False)
        g.add_edge(line_node(lid), node, key="travels_via", kind="travels_via", synthetic=syn)
    return g


def _nodes(graph: nx.MultiDiGraph, kind: str) -> list[str]:
    return [n for n, k in graph.nodes(data="kind") if k == kind]


def _targets(graph: nx.MultiDiGraph, node: str, kind: str) -> list[str]:
    return sorted({v for _, v, k in graph.out_edges(node, data="kind") if k == kind})


def origin_shares(graph: nx.MultiDiGraph) -> pd.DataFrame:
    """Lines and share of lines per origin force area, most lines first.

    Returns
    -------
    DataFrame
        ``code, name, lines, share`` (share is a fraction of all lines; shares sum to 1).

    Examples
    --------
    >>> lines = pd.DataFrame({"line_id": list("ABCD"), "origin_force": ["E23000014"] * 3 + ["E23000004"],
    ...                       "origin_force_name": ["West Midlands"] * 3 + ["Merseyside"]})
    >>> origin_shares(build_graph(lines))
            code           name  lines  share
    0  E23000014  West Midlands      3   0.75
    1  E23000004     Merseyside      1   0.25
    """
    rows = []
    for line in _nodes(graph, "line"):
        for f in _targets(graph, line, "originates_in"):
            rows.append((graph.nodes[f]["code"], graph.nodes[f]["name"]))
    d = pd.DataFrame(rows, columns=["code", "name"])
    if d.empty:
        return pd.DataFrame({"code": [], "name": [], "lines": pd.Series([], dtype=int),
                             "share": pd.Series([], dtype=float)})
    out = d.groupby(["code", "name"], as_index=False).size().rename(columns={"size": "lines"})
    out["share"] = out["lines"] / out["lines"].sum()
    return out.sort_values(["lines", "code"], ascending=[False, True], ignore_index=True)


def lines_per_destination(
    graph: nx.MultiDiGraph, *, level: str | None = None, hierarchy: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Distinct lines and cuckooed addresses per destination area, optionally rolled up to ``lad`` or ``csp``.

    Parameters
    ----------
    graph : MultiDiGraph
        From :func:`build_graph`.
    level : {None, "ward", "lad", "csp"}
        None keeps the areas as recorded. Otherwise each destination is mapped to that level through
        ``hierarchy``; destinations that cannot be mapped (a CSP when asking for LADs, a point) are left out.
    hierarchy : DataFrame, optional
        Ward → LAD → CSP lookup with any of the columns ``ward, lad, csp`` and ``ward_name, lad_name,
        csp_name`` (one row per ward, or per LAD when there is no ward column).

    Returns
    -------
    DataFrame
        ``code, name, level, lines, cuckooed_addresses``, most lines first. A line supplying two wards of one
        LAD counts once for that LAD.

    Examples
    --------
    >>> lines = pd.DataFrame({"line_id": ["A", "B"], "origin_force": ["E23000014"] * 2})
    >>> dests = pd.DataFrame({"line_id": ["A", "A", "B"], "area_code": ["W1", "W2", "W2"],
    ...                       "level": "ward", "cuckooed_addresses": [1, 2, 0]})
    >>> g = build_graph(lines, dests)
    >>> lines_per_destination(g)[["code", "lines", "cuckooed_addresses"]]
      code  lines  cuckooed_addresses
    0   W2      2                   2
    1   W1      1                   1
    >>> h = pd.DataFrame({"ward": ["W1", "W2"], "lad": ["L1", "L1"], "lad_name": ["Town", "Town"]})
    >>> lines_per_destination(g, level="lad", hierarchy=h)[["code", "name", "lines"]]
      code  name  lines
    0   L1  Town      2
    """
    rows = []
    for u, v, d in graph.edges(data=True):
        if d.get("kind") != "supplies":
            continue
        node = graph.nodes[v]
        rows.append((graph.nodes[u]["code"], node["code"], node["name"], node.get("level"),
                     d.get("cuckooed_addresses") or 0))
    d = pd.DataFrame(rows, columns=["line_id", "code", "name", "level", "cuckooed_addresses"])
    if level is not None:
        if level not in ("ward", "lad", "csp"):
            raise InputError(f"level {level!r} for destination roll-up; expected one of ward, lad, csp")
        d = _roll_up(d, level, hierarchy)
    if d.empty:
        return pd.DataFrame(columns=["code", "name", "level", "lines", "cuckooed_addresses"])
    out = d.groupby(["code", "name", "level"], as_index=False, dropna=False).agg(
        lines=("line_id", "nunique"), cuckooed_addresses=("cuckooed_addresses", "sum"))
    return out.sort_values(["lines", "code"], ascending=[False, True], ignore_index=True)


def _roll_up(d: pd.DataFrame, level: str, hierarchy: pd.DataFrame | None) -> pd.DataFrame:
    mapping: dict[str, str] = {}
    names: dict[str, str] = {}
    if hierarchy is not None:
        h = hierarchy
        order = [c for c in ("ward", "lad", "csp") if c in h.columns]
        for c in order:
            if f"{c}_name" in h.columns:
                names.update(zip(h[c], h[f"{c}_name"], strict=True))
        if level in h.columns:
            for c in order:
                mapping.update(zip(h[c], h[level], strict=True))
    mapping.update({c: c for c in d.loc[d["level"] == level, "code"]})
    out = d.assign(code=d["code"].map(mapping)).dropna(subset=["code"])
    fallback = dict(zip(d["code"], d["name"], strict=True))
    out["name"] = out["code"].map(lambda c: names.get(c) or fallback.get(c) or c)
    out["level"] = level
    return out


def centrality(graph: nx.MultiDiGraph) -> pd.DataFrame:
    """Degree (counting parallel edges) and betweenness (on the undirected simple graph, normalised) per node.

    Examples
    --------
    >>> lines = pd.DataFrame({"line_id": ["A", "B"], "origin_force": ["E23000014"] * 2})
    >>> dests = pd.DataFrame({"line_id": ["A", "B"], "area_code": ["W1", "W2"]})
    >>> c = centrality(build_graph(lines, dests)).set_index("node")
    >>> int(c.loc["force:E23000014", "degree"]), float(c.loc["force:E23000014", "betweenness"])
    (2, 0.6666666666666666)
    """
    simple = nx.Graph(graph.to_undirected(as_view=True))
    bet = nx.betweenness_centrality(simple, normalized=True)
    rows = [(n, d.get("kind"), d.get("code"), d.get("name"), graph.degree(n), bet.get(n, 0.0))
            for n, d in graph.nodes(data=True)]
    out = pd.DataFrame(rows, columns=["node", "kind", "code", "name", "degree", "betweenness"])
    return out.sort_values(["betweenness", "degree", "node"], ascending=[False, False, True], ignore_index=True)


def line_communities(graph: nx.MultiDiGraph, *, seed: int = 0, resolution: float = 1.0) -> pd.DataFrame:
    """Communities of lines that share destinations (Louvain on the line–line projection, seeded).

    Two lines are joined with a weight equal to the number of destinations they share; a line sharing none is
    a community of its own. Communities are numbered from 0 by size (largest first), ties by first line id.

    Returns
    -------
    DataFrame
        ``line_id, community, size``.

    Examples
    --------
    >>> lines = pd.DataFrame({"line_id": list("ABCD"), "origin_force": ["E23000014"] * 4})
    >>> dests = pd.DataFrame({"line_id": list("ABCD"), "area_code": ["W1", "W1", "W2", "W3"]})
    >>> line_communities(build_graph(lines, dests), seed=1)
      line_id  community  size
    0       A          0     2
    1       B          0     2
    2       C          1     1
    3       D          2     1
    """
    lines = _nodes(graph, "line")
    proj = nx.Graph()
    proj.add_nodes_from(lines)
    by_dest: dict[str, list[str]] = {}
    for u, v, k in graph.edges(data="kind"):
        if k == "supplies":
            by_dest.setdefault(v, []).append(u)
    for members in by_dest.values():
        uniq = sorted(set(members))
        for i, a in enumerate(uniq):
            for b in uniq[i + 1:]:
                w = proj.get_edge_data(a, b, {"weight": 0})["weight"]
                proj.add_edge(a, b, weight=w + 1)
    if not lines:
        return pd.DataFrame({"line_id": [], "community": [], "size": []})
    found = nx.community.louvain_communities(proj, weight="weight", resolution=resolution, seed=seed)
    groups = sorted((sorted(graph.nodes[n]["code"] for n in c) for c in found), key=lambda c: (-len(c), c[0]))
    rows = [(lid, i, len(c)) for i, c in enumerate(groups) for lid in c]
    return pd.DataFrame(rows, columns=["line_id", "community", "size"])


def describe_communities(graph: nx.MultiDiGraph, communities: pd.DataFrame, *, top: int = 3) -> pd.DataFrame:
    """One row per community: its lines, origin forces and most-supplied destinations (by name).

    Examples
    --------
    >>> lines = pd.DataFrame({"line_id": list("AB"), "origin_force": ["E23000014"] * 2})
    >>> dests = pd.DataFrame({"line_id": list("AB"), "area_code": ["W1", "W1"], "area_name": "Wharf"})
    >>> g = build_graph(lines, dests)
    >>> d = describe_communities(g, line_communities(g))
    >>> int(d.loc[0, "lines"]), d.loc[0, "destinations"]
    (2, 'Wharf (2)')
    """
    rows = []
    for cid, members in communities.groupby("community", sort=True):
        dest: dict[str, int] = {}
        forces: dict[str, int] = {}
        for lid in members["line_id"]:
            node = line_node(lid)
            for v in _targets(graph, node, "supplies"):
                nm = graph.nodes[v]["name"]
                dest[nm] = dest.get(nm, 0) + 1
            for f in _targets(graph, node, "originates_in"):
                nm = graph.nodes[f]["name"]
                forces[nm] = forces.get(nm, 0) + 1
        top_d = sorted(dest.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        top_f = sorted(forces.items(), key=lambda kv: (-kv[1], kv[0]))
        rows.append((int(cid), len(members), ", ".join(f"{n} ({c})" for n, c in top_f),
                     ", ".join(f"{n} ({c})" for n, c in top_d)))
    return pd.DataFrame(rows, columns=["community", "lines", "origins", "destinations"])


def _metric_points(frame: gpd.GeoDataFrame, what: str) -> np.ndarray:
    if frame.crs is None:
        raise InputError(f"{what} have no CRS; expected geometries with a CRS (EPSG:4326 or EPSG:27700)")
    geom = frame.to_crs(_METRIC_CRS).geometry.values
    pts = shapely.point_on_surface(geom)
    return shapely.get_coordinates(pts)


def nearest_stations(areas: gpd.GeoDataFrame, stations: gpd.GeoDataFrame, *, k: int = 3) -> pd.DataFrame:
    """The ``k`` rail stations nearest each destination (from a point inside its polygon), in metres (EPSG:27700).

    Parameters
    ----------
    areas : GeoDataFrame
        ``code`` and geometry (polygons or points), any CRS.
    stations : GeoDataFrame
        ``crs_code, name`` and point geometry, any CRS.

    Returns
    -------
    DataFrame
        ``code, rank, crs_code, name, distance_m`` (rank 1 is nearest).

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> areas = gpd.GeoDataFrame({"code": ["X"]}, geometry=[Point(-2.7, 52.7)], crs="EPSG:4326")
    >>> st = gpd.GeoDataFrame({"crs_code": ["SHR", "TFC"], "name": ["Shrewsbury", "Telford Central"]},
    ...                       geometry=[Point(-2.7495, 52.7116), Point(-2.4412, 52.6810)], crs="EPSG:4326")
    >>> nearest_stations(areas, st, k=1)[["code", "crs_code"]].values.tolist()
    [['X', 'SHR']]
    """
    cols = ["code", "rank", "crs_code", "name", "distance_m"]
    if len(areas) == 0 or len(stations) == 0:
        return pd.DataFrame(columns=cols)
    a = _metric_points(areas, "destination areas")
    s = shapely.get_coordinates(stations.to_crs(_METRIC_CRS).geometry.values) if stations.crs else None
    if s is None:
        raise InputError("stations have no CRS; expected point geometries with a CRS (EPSG:4326)")
    k = min(k, len(stations))
    dist = np.hypot(a[:, None, 0] - s[None, :, 0], a[:, None, 1] - s[None, :, 1])
    idx = np.argsort(dist, axis=1, kind="stable")[:, :k]
    codes = np.asarray(areas["code"])
    rows = [(codes[i], r + 1, stations["crs_code"].iloc[j], stations["name"].iloc[j], float(dist[i, j]))
            for i in range(len(a)) for r, j in enumerate(idx[i])]
    return pd.DataFrame(rows, columns=cols)


def lines_active_per_month(lines: pd.DataFrame, *, until: dt.date | None = None) -> pd.DataFrame:
    """How many lines were active in each month: first_seen ≤ month end and (last_seen ≥ month start or unknown).

    A line with no last_seen is active up to ``until`` (default: the latest date in the records).

    Examples
    --------
    >>> lines = pd.DataFrame({"first_seen": pd.to_datetime(["2018-01-10", "2018-02-01"]),
    ...                       "last_seen": pd.to_datetime(["2018-02-05", None])})
    >>> lines_active_per_month(lines, until=dt.date(2018, 3, 1))["lines"].tolist()
    [1, 2, 1]
    """
    if "first_seen" not in lines or lines["first_seen"].dropna().empty:
        return pd.DataFrame({"month": [], "lines": []})
    first = pd.to_datetime(lines["first_seen"])
    last = pd.to_datetime(lines["last_seen"]) if "last_seen" in lines else pd.Series(pd.NaT, index=lines.index)
    latest = max(first.max(), last.max()) if last.notna().any() else first.max()
    end = pd.Timestamp(until) if until is not None else latest
    last = last.fillna(end)
    months = pd.period_range(first.min().to_period("M"), end.to_period("M"), freq="M")
    starts = months.to_timestamp(how="start")
    ends = months.to_timestamp(how="end")
    f = first.to_numpy()[None, :]
    lv = last.to_numpy()[None, :]
    active = (f <= ends.to_numpy()[:, None]) & (lv >= starts.to_numpy()[:, None])
    return pd.DataFrame({"month": [p.start_time.date() for p in months], "lines": active.sum(axis=1).astype(int)})


def _anchor(frame: gpd.GeoDataFrame | None) -> dict[str, shapely.Geometry]:
    if frame is None or len(frame) == 0:
        return {}
    pts = shapely.point_on_surface(frame.to_crs("EPSG:4326").geometry.values)
    return dict(zip(frame["code"].astype(str), pts, strict=True))


def flows(graph: nx.MultiDiGraph, origins: gpd.GeoDataFrame, destinations: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Flow lines (EPSG:4326) from each origin to each destination with the number of lines on it.

    The origin is the line's ``origin_area`` when ``origins`` has a geometry for it, else its force area.
    Destinations are drawn to a point inside the area polygon (or the point given). Destinations or origins
    without a geometry are left out; their codes are listed in ``result.attrs["missing"]``.

    Parameters
    ----------
    origins, destinations : GeoDataFrame
        ``code`` and a geometry (polygons or centroids), any CRS.

    Returns
    -------
    GeoDataFrame
        ``origin, origin_name, destination, destination_name, lines, synthetic, geometry`` (LineString).

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> lines = pd.DataFrame({"line_id": ["A", "B"], "origin_force": ["E23000014"] * 2})
    >>> g = build_graph(lines, pd.DataFrame({"line_id": ["A", "B"], "area_code": ["W1", "W1"]}))
    >>> o = gpd.GeoDataFrame({"code": ["E23000014"]}, geometry=[Point(-1.9, 52.5)], crs="EPSG:4326")
    >>> d = gpd.GeoDataFrame({"code": ["W1"]}, geometry=[Point(-2.5, 52.7)], crs="EPSG:4326")
    >>> f = flows(g, o, d)
    >>> f[["origin", "destination", "lines"]].values.tolist(), f.geometry.iloc[0].geom_type
    ([['E23000014', 'W1', 2]], 'LineString')
    """
    o_pts, d_pts = _anchor(origins), _anchor(destinations)
    rows, missing = {}, set()
    for line in _nodes(graph, "line"):
        ln = graph.nodes[line]
        forces = _targets(graph, line, "originates_in")
        area = ln.get("origin_area")
        if area and str(area) in o_pts:
            o_code, o_name = str(area), str(area)
        elif forces and graph.nodes[forces[0]]["code"] in o_pts:
            o_code, o_name = graph.nodes[forces[0]]["code"], graph.nodes[forces[0]]["name"]
        else:
            missing.add(graph.nodes[forces[0]]["code"] if forces else ln["code"])
            continue
        for v in _targets(graph, line, "supplies"):
            dn = graph.nodes[v]
            if dn["kind"] == "point":
                d_geom = shapely.Point(dn["lon"], dn["lat"])
            elif dn["code"] in d_pts:
                d_geom = d_pts[dn["code"]]
            else:
                missing.add(dn["code"])
                continue
            key = (o_code, dn["code"])
            if key not in rows:
                rows[key] = dict(origin=o_code, origin_name=o_name, destination=dn["code"],
                                 destination_name=dn["name"], lines=0, synthetic=False,
                                 geometry=shapely.LineString([o_pts[o_code], d_geom]))
            rows[key]["lines"] += 1
            rows[key]["synthetic"] = rows[key]["synthetic"] or bool(ln.get("synthetic"))
    cols = ["origin", "origin_name", "destination", "destination_name", "lines", "synthetic", "geometry"]
    data = sorted(rows.values(), key=lambda r: (-r["lines"], r["origin"], r["destination"]))
    out = gpd.GeoDataFrame(pd.DataFrame(data, columns=cols), geometry="geometry", crs="EPSG:4326")
    out.attrs["missing"] = sorted(missing)
    return out


def destination_areas(graph: nx.MultiDiGraph, areas: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Destination areas with their line counts, as the geometries given (polygons, or centroids), EPSG:4326.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> lines = pd.DataFrame({"line_id": ["A"], "origin_force": ["E23000014"]})
    >>> g = build_graph(lines, pd.DataFrame({"line_id": ["A"], "area_code": ["W1"]}))
    >>> a = gpd.GeoDataFrame({"code": ["W1"]}, geometry=[box(-2.6, 52.6, -2.4, 52.8)], crs="EPSG:4326")
    >>> destination_areas(g, a)[["code", "lines"]].values.tolist()
    [['W1', 1]]
    """
    counts = lines_per_destination(graph)
    geo = areas.to_crs("EPSG:4326")[["code", "geometry"]].drop_duplicates("code")
    out = geo.merge(counts, on="code", how="inner")
    points = [n for n in _nodes(graph, "point")]
    if points:
        pts = counts[counts["code"].isin([graph.nodes[n]["code"] for n in points])]
        lookup = {graph.nodes[n]["code"]: shapely.Point(graph.nodes[n]["lon"], graph.nodes[n]["lat"]) for n in points}
        extra = gpd.GeoDataFrame(pts.assign(geometry=pts["code"].map(lookup)), geometry="geometry", crs="EPSG:4326")
        out = pd.concat([out, extra], ignore_index=True)
    out = gpd.GeoDataFrame(out, geometry="geometry", crs="EPSG:4326")
    out["synthetic"] = bool(graph.graph.get("synthetic", False))
    return out.sort_values(["lines", "code"], ascending=[False, True], ignore_index=True)[
        ["code", "name", "level", "lines", "cuckooed_addresses", "synthetic", "geometry"]]


def station_points(graph: nx.MultiDiGraph) -> gpd.GeoDataFrame:
    """Stations the lines travel via, as points (EPSG:4326) with the number of lines using each.

    Examples
    --------
    >>> lines = pd.DataFrame({"line_id": ["A"], "origin_force": ["E23000014"]})
    >>> st = pd.DataFrame({"line_id": ["A"], "crs_code": ["SHR"], "name": ["Shrewsbury"],
    ...                    "lon": [-2.7495], "lat": [52.7116]})
    >>> station_points(build_graph(lines, stations=st))[["crs_code", "lines"]].values.tolist()
    [['SHR', 1]]
    """
    rows = []
    for n in _nodes(graph, "station"):
        d = graph.nodes[n]
        if d.get("lon") is None or d.get("lat") is None:
            continue
        rows.append(dict(crs_code=d["code"], name=d["name"], lines=graph.in_degree(n),
                         synthetic=bool(graph.graph.get("synthetic", False)),
                         geometry=shapely.Point(d["lon"], d["lat"])))
    frame = pd.DataFrame(rows, columns=["crs_code", "name", "lines", "synthetic", "geometry"])
    return gpd.GeoDataFrame(frame, geometry="geometry", crs="EPSG:4326").sort_values(
        ["lines", "crs_code"], ascending=[False, True], ignore_index=True)


def _plain(v):
    v = _value(v)
    if isinstance(v, dt.date | dt.datetime):
        return v.isoformat()
    return v


def _plain_attrs(d: dict) -> dict:
    return {k: p for k, p in ((k, _plain(v)) for k, v in d.items()) if p is not None}


def graph_for_export(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """A copy whose attributes GraphML/GEXF/JSON can hold: dates as ISO strings, missing values left out.

    Every attribute name keeps one type across all nodes (and across all edges) -- where values of one name
    mix types they all become strings -- so ``networkx.read_graphml`` gives back exactly this graph.

    Examples
    --------
    >>> lines = pd.DataFrame({"line_id": ["A"], "origin_force": ["E23000014"], "first_seen": [dt.date(2018, 1, 2)]})
    >>> g = graph_for_export(build_graph(lines))
    >>> g.nodes["line:A"]["first_seen"], "origin_area" in g.nodes["line:A"]
    ('2018-01-02', False)
    """
    out = nx.MultiDiGraph(**_plain_attrs(graph.graph))
    for n, d in graph.nodes(data=True):
        out.add_node(n, **_plain_attrs(d))
    for u, v, k, d in graph.edges(keys=True, data=True):
        out.add_edge(u, v, key=str(k), **_plain_attrs(d))
    _unify_types([d for _, d in out.nodes(data=True)])
    _unify_types([d for *_, d in out.edges(keys=True, data=True)])
    return out


def _unify_types(records: list[dict]) -> None:
    """Turn an attribute into strings everywhere when its values mix types (a GraphML key has one type)."""
    types: dict[str, set] = {}
    for d in records:
        for k, v in d.items():
            types.setdefault(k, set()).add(type(v))
    mixed = {k for k, t in types.items() if len(t) > 1}
    for d in records:
        for k in mixed & d.keys():
            d[k] = str(d[k])


def colocation(destinations: pd.DataFrame, counts: pd.DataFrame, classes: pd.DataFrame | None = None) -> pd.DataFrame:
    """Destination areas beside their offence counts and hot-spot classes, one row per area and crime type.

    Parameters
    ----------
    destinations : DataFrame
        ``code, name, lines`` (e.g. :func:`lines_per_destination` at the level the counts are at).
    counts : DataFrame
        ``code, crime_type, count`` for the same level.
    classes : DataFrame, optional
        ``code, crime_type, class`` (Gi* classes); missing classes come out as ``not_computed``.

    Returns
    -------
    DataFrame
        ``code, name, lines, crime_type, count, class``, most lines first (a destination without offences of a
        type has count 0).

    Examples
    --------
    >>> d = pd.DataFrame({"code": ["W1", "W2"], "name": ["A", "B"], "lines": [3, 1]})
    >>> c = pd.DataFrame({"code": ["W1"], "crime_type": ["Drugs"], "count": [12]})
    >>> k = pd.DataFrame({"code": ["W1", "W2"], "crime_type": ["Drugs"] * 2, "class": ["hot_95", "not_significant"]})
    >>> colocation(d, c, k)[["code", "count", "class"]].values.tolist()
    [['W1', 12, 'hot_95'], ['W2', 0, 'not_significant']]
    """
    types = sorted(set(counts["crime_type"]) | (set(classes["crime_type"]) if classes is not None else set()))
    grid = destinations[["code", "name", "lines"]].merge(pd.DataFrame({"crime_type": types}), how="cross")
    out = grid.merge(counts[["code", "crime_type", "count"]], on=["code", "crime_type"], how="left")
    out["count"] = out["count"].fillna(0).astype(int)
    if classes is not None:
        out = out.merge(classes[["code", "crime_type", "class"]], on=["code", "crime_type"], how="left")
    else:
        out["class"] = None
    out["class"] = out["class"].fillna("not_computed")
    return out.sort_values(["lines", "code", "crime_type"], ascending=[False, True, True], ignore_index=True)
