"""/health, /coverage and /search."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from api.deps import PrincipalDep, ServicesDep
from api.http_errors import BadParameter
from api.responses import json_response, records
from data import aggregate as agg
from geo.record import month_label


def meta_router() -> APIRouter:
    r = APIRouter(tags=["service"])

    @r.get("/health", summary="Liveness: the store answers",
           responses={200: {"content": {"application/json": {"example": {"status": "ok", "generation": 7}}}}})
    def health(sv: ServicesDep) -> dict:
        return {"status": "ok", "generation": sv.store.generation}

    @r.get("/coverage", summary="Forces and months loaded (anything else is 'no data', never zero)",
           responses={200: {"content": {"application/json": {"example": [
               {"force": "west-mercia", "month": "2019-01", "stored": 9000, "located": 8900, "unlocated": 100}]}}}})
    def coverage(request: Request, sv: ServicesDep, who: PrincipalDep):
        cov = sv.store.coverage()
        rows = [dict(r, month=month_label(r["month"])) for r in cov.to_dict("records")]
        layers = {lv: {k: m.get(k) for k in ("vintage", "source", "approximate", "notice", "features")}
                  for lv, m in sv.store.layers().items()}
        return json_response(request, who, {"coverage": rows, "layers": layers}, sv.settings.cache_seconds)

    @r.get("/search", summary="Parish, ward and place names (or a code) containing q",
           responses={200: {"content": {"application/json": {"example": {"results": [
               {"code": "E04011437", "name": "Wellington", "level": "parish"}]}}}}})
    def search(request: Request, sv: ServicesDep, who: PrincipalDep,
               q: Annotated[str, Query(min_length=1, max_length=100, description="name or code",
                                       examples=["Wellington"])],
               limit: Annotated[int, Query(ge=1, le=100, description="most results")] = 20):
        if not q.strip():
            raise BadParameter("q", q, "1 to 100 characters of a place name or code")
        found = agg.search_areas(sv.store, q, limit=limit)
        return json_response(request, who, {"results": records(found)}, sv.settings.cache_seconds)

    return r
