"""Folium maps that work offline: Leaflet and the VectorGrid plugin come from the app's /static/vendor (npm
packages installed at setup), never a CDN; crime layers are vector tiles fetched from the API, so the page
stays small whatever the data size."""

from __future__ import annotations

import re

import folium
import geopandas as gpd
from branca.element import MacroElement
from folium.elements import JSCSSMixin
from jinja2 import Template

LEAFLET_JS = ("leaflet", "/static/vendor/leaflet/dist/leaflet.js")
LEAFLET_CSS = ("leaflet_css", "/static/vendor/leaflet/dist/leaflet.css")
VECTORGRID_JS = ("vectorgrid", "/static/vendor/leaflet.vectorgrid/dist/Leaflet.VectorGrid.bundled.min.js")
APP_JS = ("crimemap", "/static/app/crimemap.js")
#: Folium's viewport tag disables zooming (WCAG 1.4.4); the page template has its own
_VIEWPORT = re.compile(r"<meta[^>]+name=[\"']viewport[\"'][^>]*>", re.I)
_EXTERNAL = re.compile(r"""<(script|link)[^>]+(src|href)=["']https?://""", re.I)


class CrimeTiles(JSCSSMixin, MacroElement):
    """A vector-tile layer of the crime API on the parent map (styled, with popups and attribution)."""

    _template = Template("""{% macro script(this, kwargs) %}
        crimemapTiles({{ this._parent.get_name() }}, {{ this.options|tojson }});
    {% endmacro %}""")
    default_js = [VECTORGRID_JS, APP_JS]

    def __init__(self, url: str, layer: str, attribution: str, *, pane: str | None = None, label: str | None = None):
        super().__init__()
        self._name = "CrimeTiles"
        self.options = {"url": url, "layer": layer, "attribution": attribution, "pane": pane, "label": label}


class CountyLines(JSCSSMixin, MacroElement):
    """County-lines flows, destination areas and rail stations fetched from ``url`` (the analyst-only API),
    each a switchable layer; a map note says so when the data are synthetic."""

    _template = Template("""{% macro script(this, kwargs) %}
        crimemapCountyLines({{ this._parent.get_name() }}, {{ this.options|tojson }});
    {% endmacro %}""")
    default_js = [APP_JS]

    def __init__(self, url: str = "/countylines/flows"):
        super().__init__()
        self._name = "CountyLines"
        self.options = {"url": url}


class HotspotOverlays(JSCSSMixin, MacroElement):
    """KDE contours (``kde_url``) and emerging hot-spot classes (``emerging_url``), fetched from the analyst API as
    GeoJSON, each a switchable layer with popups. Without an ``emerging_url`` the map says ``emerging_note``
    instead (e.g. too few months) rather than asking for a result that cannot exist."""

    _template = Template("""{% macro script(this, kwargs) %}
        crimemapHotspotOverlays({{ this._parent.get_name() }}, {{ this.options|tojson }});
    {% endmacro %}""")
    default_js = [APP_JS]

    def __init__(self, kde_url: str, emerging_url: str | None, emerging_note: str | None = None):
        super().__init__()
        self._name = "HotspotOverlays"
        self.options = {"kde_url": kde_url, "emerging_url": emerging_url, "emerging_note": emerging_note}


def offline_map(bounds: tuple[float, float, float, float], *, min_zoom: int = 7, max_zoom: int = 18) -> folium.Map:
    """A Folium map with no basemap and no CDN assets, fitted to ``bounds`` (minx, miny, maxx, maxy)."""
    m = folium.Map(location=[(bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2], zoom_start=12,
                   tiles=None, control_scale=True, min_zoom=min_zoom, max_zoom=max_zoom, prefer_canvas=False)
    m.default_js = [LEAFLET_JS]
    m.default_css = [LEAFLET_CSS]
    fit = folium.FitBounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    fit.options["animate"] = False  # an animated fit loads a whole set of tiles at the start zoom first
    fit.add_to(m)
    return m


def add_outline(m: folium.Map, shape: gpd.GeoDataFrame, name: str, *, tolerance: float = 0.0002) -> None:
    """The area outline, simplified so the page stays small (the polygon is the only data inlined)."""
    g = shape[["code", "name", "geometry"]].copy()
    g["geometry"] = g.geometry.simplify(tolerance, preserve_topology=True)
    folium.GeoJson(g.to_json(drop_id=True), name=name,
                   style_function=lambda _: {"fill": False, "color": "#d7191c", "weight": 3},
                   tooltip=folium.GeoJsonTooltip(fields=["name", "code"], aliases=["Area", "Code"])).add_to(m)


def add_points(m: folium.Map, points, name: str) -> None:
    """Top locations (analyst / neighbourhood pages only): a few numbered circle markers."""
    fg = folium.FeatureGroup(name=name)
    for i, r in enumerate(points.itertuples(index=False), start=1):
        folium.CircleMarker([r.lat, r.lon], radius=6, color="#000000", weight=2, fill=True, fill_color="#fde725",
                            fill_opacity=1, tooltip=f"{i}. {r.location}: {r.count}").add_to(fg)
    fg.add_to(m)


def render_parts(m: folium.Map) -> dict[str, str]:
    """The map's <head> assets, its <div> and its script, to place inside a page template."""
    fig = m.get_root()
    fig.render()
    parts = {"head": _VIEWPORT.sub("", fig.header.render()), "html": fig.html.render(), "script": fig.script.render()}
    for k, v in parts.items():
        if _EXTERNAL.search(v):  # a new Folium default pointing at a CDN: refuse rather than ship it
            raise RuntimeError(f"map {k} refers to an outside host; add a local asset for it")
    return parts


def static_svg_map(table: gpd.GeoDataFrame, code: str, *, width: int = 560, height: int = 400,
                   colours: list[str], title: str) -> str:
    """A self-contained SVG map (no scripts, no tiles): the areas of ``table`` around ``code`` in their colour
    class, the area itself outlined — for briefings written to a file or printed to PDF."""
    import math
    from html import escape

    import numpy as np
    import shapely

    area = table[table["code"] == code]
    x0, y0, x1, y1 = area.total_bounds
    pad_x, pad_y = (x1 - x0) * 0.25 + 0.002, (y1 - y0) * 0.25 + 0.002
    box = (x0 - pad_x, y0 - pad_y, x1 + pad_x, y1 + pad_y)
    near = table[table.geometry.notna().to_numpy() & table.intersects(shapely.box(*box)).to_numpy()]
    k = math.cos(math.radians((box[1] + box[3]) / 2))
    scale = min(width / ((box[2] - box[0]) * k), height / (box[3] - box[1]))
    ox = (width - (box[2] - box[0]) * k * scale) / 2
    oy = (height - (box[3] - box[1]) * scale) / 2

    def path(geom) -> str:
        geom = shapely.simplify(geom, 0.5 / scale)
        parts = []
        for poly in getattr(geom, "geoms", [geom]):
            for ring in [poly.exterior, *poly.interiors]:
                xy = np.asarray(ring.coords)
                px = ox + (xy[:, 0] - box[0]) * k * scale
                py = oy + (box[3] - xy[:, 1]) * scale
                parts.append("M" + "L".join(f"{a:.1f},{b:.1f}" for a, b in zip(px, py, strict=True)) + "Z")
        return "".join(parts)

    out = [f'<svg class="static-map" viewBox="0 0 {width} {height}" role="img" aria-labelledby="smap-title">',
           f'<title id="smap-title">{escape(title)}</title>',
           f'<rect width="{width}" height="{height}" fill="#f2f2f2"/>']
    classes = near["class"].to_numpy(dtype=float) if "class" in near else np.full(len(near), np.nan)
    hidden = near["suppressed"].to_numpy(dtype=bool) if "suppressed" in near else np.zeros(len(near), bool)
    for geom, name, cls, sup in zip(near.geometry, near["name"].fillna(near["code"]), classes, hidden, strict=True):
        fill = "#bdbdbd" if sup else colours[int(cls)] if np.isfinite(cls) else "#ffffff"
        out.append(f'<path d="{path(geom)}" fill="{fill}" fill-opacity="0.75" stroke="#333" '
                   f'stroke-width="0.6" fill-rule="evenodd"><title>{escape(str(name))}</title></path>')
    out.append(f'<path d="{path(area.geometry.iloc[0])}" fill="none" stroke="#d7191c" stroke-width="3" '
               f'fill-rule="evenodd"/>')
    out.append("</svg>")
    return "".join(out)
