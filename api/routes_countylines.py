"""/countylines/summary|flows|graph: county-lines network views, for analysts only (never public)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from api.deps import PrincipalDep, ServicesDep, require
from api.responses import cache_headers, dumps, etagged

AnalystOnly = Depends(require("analyst"))


def countylines_router() -> APIRouter:
    r = APIRouter(tags=["county lines"], dependencies=[AnalystOnly])

    @r.get("/countylines/summary", summary="Lines per origin force, top destinations, communities (analyst)",
           response_class=Response)
    def summary(request: Request, sv: ServicesDep, who: PrincipalDep):
        from api.cli_lines import summarise

        return etagged(request, dumps(summarise(sv.store)), "application/json", cache_headers(who, 60))

    @r.get("/countylines/flows", summary="Flows, destination areas and stations as GeoJSON (analyst)",
           response_class=Response)
    def flows(request: Request, sv: ServicesDep, who: PrincipalDep):
        from api.cli_lines import network_geojson
        from data.countylines import load_network

        graph, recs = load_network(sv.store)
        return etagged(request, dumps(network_geojson(sv.store, graph, recs)), "application/geo+json",
                       cache_headers(who, 60))

    @r.get("/countylines/graph", summary="The line network as node-link JSON (analyst)", response_class=Response)
    def graph(request: Request, sv: ServicesDep, who: PrincipalDep):
        import networkx as nx

        from data.countylines import load_network
        from geo.countylines import graph_for_export

        g, _ = load_network(sv.store)
        data = nx.node_link_data(graph_for_export(g), edges="edges")
        return etagged(request, dumps(data), "application/json", cache_headers(who, 60))

    return r
