"""HTML pages: the search page, /maps/parish/{code} (public), /maps/area/{level}/{code} (neighbourhood),
/maps/hotspots (analyst), /briefings/{level}/{code} and /reports/parish/{code} (printable)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse

from api import maps
from api.attribution import MAP_ATTRIBUTION
from api.auth import Principal
from api.deps import Filters, FiltersDep, PrincipalDep, ServicesDep, check_code, level_for, require
from api.http_errors import BadParameter
from api.pages import TEMPLATES, VIRIDIS, AreaView, area_view, environment, legend, trend_svg
from api.responses import cache_headers, etagged
from api.scope import public_outside_scope, require_in_scope
from api.tables import area_table
from data import aggregate as agg
from geo.record import CRIME_TYPES, POLYGON_LEVELS, month_label

HTML = "text/html; charset=utf-8"
STATIC = TEMPLATES.parent / "static"
CodePath = Annotated[str, PathParam(description="GSS code", examples=["E04011437"])]
HS_LEGEND = [("#b2182b", "hot spot, 99 %"), ("#ef8a62", "hot spot, 95 %"), ("#fddbc7", "hot spot, 90 %"),
             ("#f7f7f7", "not significant"), ("#d1e5f0", "cold spot, 90 %"), ("#67a9cf", "cold spot, 95 %"),
             ("#2166ac", "cold spot, 99 %")]
#: emerging categories grouped as api/static/app/crimemap.js colours them (ColorBrewer BrBG, colour-blind safe)
EMERGING_LEGEND = [("#8c510a", "new, consecutive or intensifying hot spot"), ("#d8b365", "persistent hot spot"),
                   ("#f6e8c3", "diminishing, sporadic, oscillating or historical hot spot"),
                   ("#c7eae5", "diminishing, sporadic, oscillating or historical cold spot"),
                   ("#5ab4ac", "persistent cold spot"), ("#01665e", "new, consecutive or intensifying cold spot")]
#: KDE contour outlines (line style, not colour, tells them apart)
KDE_LEGEND = [("solid thick", "densest 1 % of the area"), ("dashed", "densest 5 %"), ("dotted", "densest 10 %")]


def emerging_layer(sv, f: Filters) -> tuple[str | None, str | None, str | None]:
    """Where the map gets emerging hot spots: ``(url, None, level)`` for the first cached run (h3:9, h3:8, h3:10,
    h3:7), else ``(None, note, None)`` saying why there is none — too few months, or no run cached yet."""
    from api.routes_hotspots import cache_params, kde_months
    from data import hotspot_cache
    from geo.emerging import MIN_MONTHS

    n = len(kde_months(sv, f))
    if n < MIN_MONTHS:
        return None, (f"Emerging hot spots need at least {MIN_MONTHS} months of data (a monthly trend test "
                      f"cannot reach 95 % with fewer); these filters cover {n} month{'s' if n != 1 else ''}."), None
    for lv in ("h3:9", "h3:8", "h3:10", "h3:7"):
        if hotspot_cache.get(sv.store, cache_params(sv, "emerging", lv, f)) is not None:
            query = f.query()
            return f"/hotspots?method=emerging&level={lv}" + (f"&{query}" if query else ""), None, lv
    months = f"{month_label(f.months[0])}..{month_label(f.months[1])}" if f.months else None
    hint = "crimemap hotspots run --method emerging --level h3:9 --out em.csv" + (
        f" --months {months}" if months else "") + "".join(
        f' --crime-type "{t}"' for t in f.crime_types or ())
    return None, f"No cached emerging hot-spot run for these filters: make one with `{hint}`.", None


def _map_for(v: AreaView, tile_layer: str, *, points: bool = False) -> dict[str, str]:
    m = maps.offline_map(v.bounds)
    maps.CrimeTiles(f"/tiles/{tile_layer}/{{z}}/{{x}}/{{y}}.mvt", tile_layer, MAP_ATTRIBUTION).add_to(m)
    maps.add_outline(m, v.shape, v.name)
    if points and v.locations is not None and len(v.locations):
        maps.add_points(m, v.locations, "Top locations")
    return maps.render_parts(m)


def briefing_html(sv, who: Principal, level: str, code: str, *, standalone: bool = False, env=None,
                  months=None) -> str:
    """The one-page briefing of an area, as the web route serves it and ``crimemap briefing`` writes it.

    ``standalone`` (a file, or a PDF): a static SVG map instead of the tile map, and the stylesheet inlined, so
    the page needs no server.
    """
    env = env or environment()
    lv = level_for(level, who)
    if lv not in POLYGON_LEVELS:
        raise BadParameter("level", level, ", ".join(POLYGON_LEVELS))
    require_in_scope(sv, who, lv, check_code(code))
    v = area_view(sv, who, lv, check_code(code), with_locations=True, months=months)
    ctx = dict(title=f"Crime briefing: {v.name}", v=v, chart=trend_svg(v.monthly, f"Offences per month in {v.name}"),
               legend=legend(v.breaks), purpose="One-page crime briefing for", period=v.period, vintage=v.vintage,
               marking="OFFICIAL")
    if standalone:
        table = area_table(sv, who, lv, Filters(months=months) if months else Filters())
        ctx.update(map=None, inline_css=(STATIC / "app" / "crimemap.css").read_text(),
                   static_map=maps.static_svg_map(table, v.code, colours=VIRIDIS,
                                                  title=f"{v.name} and the {lv} areas around it"))
    else:
        ctx.update(map=_map_for(v, lv))
    return env.get_template("briefing.html").render(**ctx)


def pages_router() -> APIRouter:
    r = APIRouter(tags=["pages"])
    env = environment()

    def page(request: Request, who: Principal, max_age: int, template: str, **ctx):
        body = env.get_template(template).render(**ctx).encode()
        return etagged(request, body, HTML, cache_headers(who, max_age))

    @r.get("/", response_class=HTMLResponse, summary="Find a parish by name")
    def index(request: Request, sv: ServicesDep, who: PrincipalDep,
              q: Annotated[str | None, Query(max_length=100, description="parish, ward or place name",
                                             examples=["Wellington"])] = None):
        results = None
        if q is not None and q.strip():
            results = agg.search_areas(sv.store, q, limit=50).to_dict("records")
        months = agg.loaded_months(sv.store)
        cov = f"{month_label(months[0])} to {month_label(months[-1])}" if months else "no months yet"
        return page(request, who, sv.settings.cache_seconds, "index.html", title="Crime in your area", q=q,
                    results=results, coverage=cov, map=None)

    @r.get("/maps/parish/{code}", response_class=HTMLResponse, summary="Public parish page: map, trend, tables")
    def parish_page(request: Request, code: CodePath, sv: ServicesDep, who: PrincipalDep):
        who = public_outside_scope(sv, who, "parish", code)
        v = area_view(sv, who, "parish", check_code(code), with_locations=False)
        return page(request, who, sv.settings.cache_seconds, "area.html", title=f"Crime in {v.name}", v=v,
                    map=_map_for(v, "parish"), chart=trend_svg(v.monthly, f"Offences per month in {v.name}"),
                    legend=legend(v.breaks), tile_label="parish", public=who.audience == "parish",
                    period=v.period, vintage=v.vintage)

    @r.get("/maps/area/{level}/{code}", response_class=HTMLResponse,
           summary="Neighbourhood team page: area, hot spots, top locations, downloads",
           dependencies=[Depends(require("analyst", "neighbourhood"))])
    def area_page(request: Request, level: str, code: CodePath, sv: ServicesDep, who: PrincipalDep):
        lv = level_for(level, who)
        if lv not in POLYGON_LEVELS:
            raise BadParameter("level", level, ", ".join(POLYGON_LEVELS))
        require_in_scope(sv, who, lv, check_code(code))  # before any work for an area it may not see
        v = area_view(sv, who, lv, check_code(code), with_locations=True)
        return page(request, who, 60, "area.html", title=f"{v.name}: neighbourhood view", v=v,
                    map=_map_for(v, lv, points=True), chart=trend_svg(v.monthly, f"Offences per month in {v.name}"),
                    legend=legend(v.breaks), tile_label=lv, public=False, period=v.period, vintage=v.vintage,
                    marking="OFFICIAL")

    @r.get("/briefings/{level}/{code}", response_class=HTMLResponse,
           summary="Printable one-page briefing (HTML with print CSS)")
    def briefing(request: Request, level: str, code: CodePath, sv: ServicesDep, who: PrincipalDep):
        body = briefing_html(sv, who, level, code, env=env)
        return etagged(request, body.encode(), HTML, cache_headers(who, 60))

    @r.get("/reports/parish/{code}", response_class=HTMLResponse,
           summary="Quarterly report for the parish-council meeting (printable)")
    def parish_report(request: Request, code: CodePath, sv: ServicesDep, who: PrincipalDep):
        who = public_outside_scope(sv, who, "parish", code)
        v = area_view(sv, who, "parish", check_code(code), with_locations=False)
        return page(request, who, sv.settings.cache_seconds, "briefing.html", title=f"Quarterly crime report: {v.name}",
                    v=v, map=_map_for(v, "parish"), chart=trend_svg(v.monthly, f"Offences per month in {v.name}"),
                    legend=legend(v.breaks), purpose="Quarterly report to the parish council of", period=v.period,
                    vintage=v.vintage, marking="OFFICIAL")

    @r.get("/maps/hotspots", response_class=HTMLResponse, summary="Analyst hot-spot map",
           dependencies=[Depends(require("analyst"))])
    def hotspots_page(request: Request, sv: ServicesDep, who: PrincipalDep, f: FiltersDep):
        from api.routes_hotspots import cached_hotspots
        from data.countylines import is_synthetic

        f = Filters(f.months, f.crime_types, None)
        hot, hs_level = None, None
        for lv in ("h3:9", "h3:8", "h3:10", "h3:7"):
            g = cached_hotspots(sv, "gistar", lv, f)
            if g is not None:
                hot = g.sort_values("z", ascending=False).head(15).rename(columns={"class": "hs_class"})
                hs_level = lv
                break
        geom = agg.area_geometry(sv.store, "lad") if "ward" in sv.store.layers() else None
        bounds = tuple(geom.total_bounds) if geom is not None and len(geom) else (-3.3, 51.9, -1.8, 53.0)
        query = f.query()
        suffix = f"?{query}" if query else ""
        m = maps.offline_map(bounds)
        maps.CrimeTiles("/tiles/h3/{z}/{x}/{y}.mvt" + suffix, "h3", MAP_ATTRIBUTION,
                        label="Offences per km² (H3 cells)").add_to(m)
        maps.CrimeTiles("/tiles/hotspots/{z}/{x}/{y}.mvt" + suffix, "hotspots", "", pane="hotspots",
                        label="Gi* hot and cold spots").add_to(m)
        maps.CountyLines("/countylines/flows").add_to(m)
        emerging_url, emerging_note, em_level = emerging_layer(sv, f)
        maps.HotspotOverlays("/hotspots/kde" + suffix, emerging_url, emerging_note).add_to(m)
        months = agg.loaded_months(sv.store)
        labels = [month_label(x) for x in months]
        month_options = ([(f"{labels[0]}..{labels[-1]}", f"all loaded ({labels[0]} to {labels[-1]})")]
                         if labels else []) + [(x, x) for x in labels]
        chosen_months = month_options[0][0] if month_options else ""
        if f.months:
            lo, hi = month_label(f.months[0]), month_label(f.months[1])
            chosen_months = lo if lo == hi else f"{lo}..{hi}"
            if chosen_months not in dict(month_options):
                month_options.append((chosen_months, chosen_months))
        chosen_type = f.crime_types[0] if f.crime_types and len(f.crime_types) == 1 else ""
        types_label = ", ".join(f.crime_types) if f.crime_types else "all crime excluding anti-social behaviour"
        run_hint = "crimemap hotspots run --method gistar --level h3:9 --out hs.csv" + (
            f" --months {chosen_months}" if f.months else "") + "".join(
            f' --crime-type "{t}"' for t in f.crime_types or ())
        return page(request, who, 60, "hotspots.html", title="Hot spots", map=maps.render_parts(m), hot=hot,
                    hs_level=hs_level, hs_legend=HS_LEGEND, synthetic=is_synthetic(sv.store), marking="OFFICIAL",
                    month_options=month_options, chosen_months=chosen_months, crime_types=CRIME_TYPES,
                    chosen_type=chosen_type, types_label=types_label, run_hint=run_hint, viridis=VIRIDIS,
                    em_level=em_level, emerging_note=emerging_note, emerging_legend=EMERGING_LEGEND,
                    kde_legend=KDE_LEGEND)

    return r
