"""``crimemap lines load|summary|export`` (issue 6): county-lines records in, network summaries and graphs out.

County-lines data is analyst-only: the CLI acts as an analyst; the web layer must not serve it to other roles.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import networkx as nx
import pandas as pd
import typer
from rich.table import Table

from api.cli import StoreOption, app
from api.console import err, out, progress
from boundaries.lookups import rail_stations
from data.countylines import (
    TABLES,
    area_hierarchy,
    colocation_table,
    destination_geometries,
    load_network,
    load_records,
    origin_geometries,
)
from data.store import open_store
from geo import countylines as cl
from geo.errors import InputError

lines = typer.Typer(help="County lines: load records, summarise the network, export the graph.", no_args_is_help=True)
app.add_typer(lines, name="lines")

SYNTHETIC_NOTICE = ("SYNTHETIC DATA: generated from published aggregate facts (76 lines in West Mercia, over 95 % "
                    "from West Midlands); not real intelligence")
ATTRIBUTION = ("Contains public sector information licensed under the Open Government Licence v3.0. Source: Office "
               "for National Statistics licensed under the Open Government Licence v3.0; contains OS data © Crown "
               "copyright and database right. Rail stations: davwheat/uk-railway-stations, Open Database License "
               "(ODbL) 1.0.")
EXPORT_FORMATS = ("graphml", "gexf", "geojson", "json")
_SHOWN_REJECTS = 50


def _percent(share: float) -> str:
    return f"{round(100 * share)} %"


@lines.command("load")
def load_cmd(
    files: list[Path] = typer.Argument(..., help="lines.csv, destinations.csv, links.csv, stations.csv (by header) "
                                                 "or one JSON with those four lists."),
    rejects: Path | None = typer.Option(None, "--rejects", help="Where to write rejected rows (CSV: file, row, "
                                                                 "field, value, reason)."),
    store: str | None = StoreOption,
) -> None:
    """Load county-lines records (replacing those stored); bad rows are listed and written to a reject file."""
    st = open_store(store)
    with progress("loading county lines", total=None):
        recs = load_records(st, files, rejects_path=rejects or (lambda: _default_reject_path(st)))
    for r in recs.rejects.sort_values(["file", "row"], kind="stable").head(_SHOWN_REJECTS).itertuples():
        err.print(f"rejected {r.file} row {r.row} {r.field}={r.value!r}: {r.reason}", markup=False)
    if len(recs.rejects):
        more = len(recs.rejects) - _SHOWN_REJECTS
        err.print(f"{len(recs.rejects)} rejected{f' ({more} more not shown)' if more > 0 else ''} written to "
                  f"{recs.reject_file}", markup=False)
    counts = ", ".join(f"{len(getattr(recs, k))} {k}" for k in recs.kinds)
    err.print(f"stored {counts} in {st.location} ({recs.rows_read} rows read, {len(recs.rejects)} faults)"
              + (" [synthetic]" if recs.synthetic else ""), markup=False)


def _default_reject_path(store) -> Path:
    """``STORE/rejects/`` of an embedded store that already exists, else the working directory (a reject
    folder in a directory that is not yet a store would stop it from becoming one)."""
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    root = Path(getattr(store, "root", "") or "")
    base = root / "rejects" if hasattr(store, "root") and (root / "catalogue.json").exists() else Path.cwd()
    return base / f"countylines-rejects-{stamp}.csv"


def summarise(store, *, seed: int = 0, top: int = 10) -> dict:
    """Everything ``lines summary`` shows, as plain JSON-safe data."""
    graph, recs = load_network(store)
    shares = cl.origin_shares(graph)
    dests = cl.lines_per_destination(graph)
    lads = cl.lines_per_destination(graph, level="lad", hierarchy=area_hierarchy())
    comms = cl.line_communities(graph, seed=seed)
    desc = cl.describe_communities(graph, comms)
    central = cl.centrality(graph)
    active = cl.lines_active_per_month(recs.lines)
    geoms = destination_geometries(store, recs)
    near = cl.nearest_stations(geoms[geoms["code"].isin(dests["code"].head(top))], rail_stations(), k=1)
    return _json_safe({
        "synthetic": bool(graph.graph.get("synthetic")),
        "notice": SYNTHETIC_NOTICE if graph.graph.get("synthetic") else None,
        "lines": int(len(recs.lines)),
        "destinations": int(len(dests)),
        "stations": int(recs.stations["crs_code"].nunique()),
        "origins": shares.to_dict("records"),
        "top_destinations": dests.head(top).to_dict("records"),
        "top_lads": lads.head(top).to_dict("records"),
        "nearest_station": near.to_dict("records"),
        "nearest_station_from": sorted(set(geoms["geometry_source"])),
        "communities": desc.to_dict("records"),
        "central_nodes": central.head(top).to_dict("records"),
        "active_per_month": active.assign(month=active["month"].astype(str)).to_dict("records"),
        "seed": seed,
        "colocation": _colocation(store, seed, top),
    })


def _colocation(store, seed: int, top: int) -> list[dict] | None:
    """Drugs / Possession of weapons beside the top destination wards, when offences and wards are loaded."""
    t = colocation_table(store, level="ward", seed=seed)
    if t is None:
        return None
    keep = t.drop_duplicates("code")["code"].head(top)
    return t[t["code"].isin(keep)].to_dict("records")


def _json_safe(v):
    if isinstance(v, dict):
        return {k: _json_safe(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_json_safe(x) for x in v]
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dt.date | dt.datetime):
        return v.isoformat()
    return v


@lines.command("summary")
def summary_cmd(
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    seed: int = typer.Option(0, "--seed", help="Seed of the Louvain community detection."),
    store: str | None = StoreOption,
) -> None:
    """Lines per origin force (count and share), top destinations, communities of lines sharing destinations."""
    s = summarise(open_store(store), seed=seed)
    if as_json:
        out.print_json(json.dumps(s))
        return
    if s["synthetic"]:
        out.print(f"[bold]{SYNTHETIC_NOTICE}[/bold]")
    out.print(f"County lines: {s['lines']} lines, {s['destinations']} destination areas, {s['stations']} stations")
    t = Table(title="Lines per origin force area")
    for c, j in (("code", "left"), ("force area", "left"), ("lines", "right"), ("share", "right")):
        t.add_column(c, justify=j, no_wrap=True)
    for r in s["origins"]:
        t.add_row(r["code"], r["name"], str(r["lines"]), _percent(r["share"]))
    out.print(t)
    t = Table(title="Top destinations (as recorded)")
    for c in ("code", "name", "level", "lines", "cuckooed addresses", "nearest station"):
        t.add_column(c, no_wrap=True)
    near = {r["code"]: f"{r['name']} ({r['distance_m'] / 1000:.1f} km)" for r in s["nearest_station"]}
    for r in s["top_destinations"]:
        t.add_row(r["code"], r["name"], r["level"], str(r["lines"]), str(r["cuckooed_addresses"]),
                  near.get(r["code"], ""))
    out.print(t)
    if s["nearest_station_from"]:
        out.print(f"(nearest station measured from: {', '.join(s['nearest_station_from'])})")
    t = Table(title="Lines per local authority district")
    for c in ("code", "name", "lines", "cuckooed addresses"):
        t.add_column(c, no_wrap=True)
    for r in s["top_lads"]:
        t.add_row(r["code"], r["name"], str(r["lines"]), str(r["cuckooed_addresses"]))
    out.print(t)
    shared = [c for c in s["communities"] if c["lines"] > 1]
    t = Table(title=f"Communities of lines sharing destinations (Louvain, seed {s['seed']}): {len(shared)} shared, "
                    f"{len(s['communities']) - len(shared)} lines on their own")
    for c in ("community", "lines", "origins", "main destinations"):
        t.add_column(c)
    for r in shared:
        t.add_row(str(r["community"]), str(r["lines"]), r["origins"], r["destinations"])
    if shared:
        out.print(t)
    else:
        out.print(t.title)
    if s["colocation"]:
        t = Table(title="Offences at destination wards (police.uk has no knife-crime category: Possession of "
                        "weapons is the nearest), with Gi* class")
        for c in ("code", "name", "lines", "crime type", "count", "Gi* class"):
            t.add_column(c)
        for r in s["colocation"]:
            t.add_row(r["code"], r["name"], str(r["lines"]), r["crime_type"], str(r["count"]), r["class"])
        out.print(t)
    if s["active_per_month"]:
        peak = max(s["active_per_month"], key=lambda r: r["lines"])
        last = s["active_per_month"][-1]
        out.print(f"Lines active per month: peak {peak['lines']} in {peak['month'][:7]}, "
                  f"{last['lines']} in {last['month'][:7]}")
    if s["synthetic"]:
        out.print(f"[bold]{SYNTHETIC_NOTICE}[/bold]")


@lines.command("export")
def export_cmd(
    fmt: str = typer.Option(..., "--format", help=f"One of {', '.join(EXPORT_FORMATS)}."),
    out_path: Path = typer.Option(..., "--out", help="The file to write."),
    store: str | None = StoreOption,
) -> None:
    """Export the network: GraphML / GEXF (Gephi) / node-link JSON graph, or GeoJSON flows, areas and stations."""
    if fmt not in EXPORT_FORMATS:
        raise InputError(f"--format {fmt!r} is not supported; expected one of {', '.join(EXPORT_FORMATS)}",
                         param="format")
    st = open_store(store)
    graph, recs = load_network(st)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    export = cl.graph_for_export(graph)
    export.graph["attribution"] = ATTRIBUTION
    if fmt == "graphml":
        nx.write_graphml(export, out_path)
    elif fmt == "gexf":
        nx.write_gexf(export, out_path)
    elif fmt == "json":
        doc = nx.node_link_data(export, edges="edges")
        out_path.write_text(json.dumps(_json_safe(doc), indent=1))
    else:
        out_path.write_text(json.dumps(network_geojson(st, graph, recs)))
    err.print(f"wrote {fmt} of {graph.number_of_nodes()} nodes and {graph.number_of_edges()} edges to {out_path}"
              + (" [SYNTHETIC]" if graph.graph.get("synthetic") else ""), markup=False)


def network_geojson(store, graph, recs) -> dict:
    """One FeatureCollection: flow LineStrings, destination areas with counts, station points (``layer`` property)."""
    flows = cl.flows(graph, origin_geometries(store, recs), destination_geometries(store, recs))
    areas = cl.destination_areas(graph, destination_geometries(store, recs))
    stations = cl.station_points(graph)
    features = []
    for layer, frame in (("destinations", areas), ("flows", flows), ("stations", stations)):
        if len(frame):
            for f in json.loads(frame.to_json(drop_id=True))["features"]:
                f["properties"]["layer"] = layer
                features.append(f)
    return _json_safe({"type": "FeatureCollection", "synthetic": bool(graph.graph.get("synthetic")),
                       "notice": SYNTHETIC_NOTICE if graph.graph.get("synthetic") else None,
                       "attribution": ATTRIBUTION, "missing_geometry": flows.attrs.get("missing", []),
                       "tables": list(TABLES.values()), "features": features})
