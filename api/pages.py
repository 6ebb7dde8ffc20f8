"""What the HTML pages show: the figures of one area for the caller, a small SVG trend chart, and the Jinja
environment. Figures come from ``data.aggregate`` with the caller's audience (suppression is never applied here)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

import geopandas as gpd
import jinja2
import numpy as np
import pandas as pd

from api import attribution
from api.auth import Principal
from api.deps import Services
from api.tables import CLASSES, class_breaks
from boundaries import lookups
from data import aggregate as agg
from data.assignment import chain_vintage
from geo.errors import NotFoundError

TEMPLATES = Path(__file__).resolve().parent / "templates"
VIRIDIS = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"]


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, trim_blocks=True,
                             lstrip_blocks=True)
    env.globals.update(attribution=attribution, viridis=VIRIDIS, today=dt.date.today)
    env.filters["count"] = show_count
    env.filters["num"] = lambda v, d=1: "–" if v is None or not np.isfinite(float(v)) else f"{float(v):,.{d}f}"
    return env


def show_count(value, suppressed: bool = False, no_data: bool = False) -> str:
    """How a count reads on a page: "<5" when suppressed, "no data" outside coverage, never a fake zero.

    Examples
    --------
    >>> show_count(12.0), show_count(float("nan"), True), show_count(float("nan"), False, True)
    ('12', '<5', 'no data')
    """
    if no_data:
        return "no data"
    if suppressed:
        return "<5"
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    return f"{int(round(float(value))):,}"


@dataclass
class AreaView:
    """Everything a page shows about one area."""

    level: str
    code: str
    name: str
    shape: gpd.GeoDataFrame
    period: str
    vintage: str | None
    notice: str | None
    monthly: pd.DataFrame
    types: pd.DataFrame
    comparison: list[dict] = field(default_factory=list)
    locations: pd.DataFrame | None = None
    breaks: list[float] = field(default_factory=list)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return tuple(float(v) for v in self.shape.total_bounds)


def area_view(sv: Services, who: Principal, level: str, code: str, *, with_locations: bool,
              months=None) -> AreaView:
    """The figures of one polygon area for the caller (suppressed for the public), or 404.

    ``months`` (first, last) limits the totals, crime types, locations and comparisons; the monthly trend
    always shows every loaded month.
    """
    geom = agg.area_geometry(sv.store, level)
    shape = geom[geom["code"] == code]
    if shape.empty:
        raise NotFoundError(f"{level} {code!r} is not among the {len(geom)} {level} areas loaded; find one with "
                            f"/search?q=NAME", param="code")
    th = sv.settings.threshold
    total = agg.aggregate(sv.store, level, months=months, audience=who.audience, geometry=False, codes=[code],
                          threshold=th)
    layer_table = agg.aggregate(sv.store, level, months=months, audience=who.audience, geometry=False, threshold=th)
    monthly = agg.monthly_series(sv.store, level, code, audience=who.audience, threshold=th)
    types = agg.type_breakdown(sv.store, level, code, months=months, audience=who.audience, threshold=th)
    row = total.iloc[0]
    meta = sv.store.layers().get(level, {})
    view = AreaView(level=level, code=code, name=str(shape["name"].iloc[0] or code), shape=shape,
                    period=str(row["month"]), vintage=str(row["vintage"]), notice=meta.get("notice") or (
                        attribution_notice(geom) if bool(row["approximate"]) else None),
                    monthly=monthly, types=types, breaks=class_breaks(layer_table))
    view.comparison = [_compare_row(level, row)] + _parents(sv, who, level, code, months)
    if with_locations and who.audience != "parish":
        view.locations = agg.top_locations(sv.store, level, code, months=months, n=10)
    return view


def attribution_notice(geom) -> str | None:
    return geom.attrs.get("notice") or "Approximate boundary."


def _compare_row(level: str, row) -> dict:
    return {"level": level, "code": row["code"], "name": row["name"], "count": row["count"],
            "suppressed": bool(row["suppressed"]), "no_data": bool(row["no_data"]),
            "rate": row["rate_per_1000"], "population": row["population"]}


def _parents(sv: Services, who: Principal, level: str, code: str, months=None) -> list[dict]:
    """The local authority and force area the area lies in, for comparison."""
    v = chain_vintage(sv.store.layers())
    lad = None
    if level == "parish":
        p = lookups.parish_to_ward().drop_duplicates("parish").set_index("parish")["lad"]
        u = lookups.unparished_areas().set_index("ncp")["lad"]
        lad = p.get(code, u.get(code))
    elif level == "ward":
        lad = lookups.ward_to_lad(v).set_index("ward")["lad"].get(code)
    elif level == "lsoa":
        lad = lookups.lsoa11_to_ward(v).set_index("lsoa11")["lad"].get(code)
    elif level == "lad":
        lad = code
    rows = []
    chain = lookups.lad_to_csp_pfa(v).set_index("lad")
    pfa = chain["pfa"].get(lad) if lad is not None else None
    for lv, c in (("lad", lad), ("pfa", pfa)):
        if c is None or lv == level:
            continue
        t = agg.aggregate(sv.store, lv, months=months, audience=who.audience, geometry=False, codes=[c],
                          threshold=sv.settings.threshold)
        if len(t):
            rows.append(_compare_row(lv, t.iloc[0]))
    return rows


def trend_svg(monthly: pd.DataFrame, title: str) -> str:
    """A small accessible bar chart of monthly counts (suppressed months drawn as grey '<5', no data as a gap)."""
    w, h, pad = 560, 200, 34
    n = max(len(monthly), 1)
    counts = monthly["count"].to_numpy(dtype=float)
    top = float(np.nanmax(counts)) if np.isfinite(counts).any() else 1.0
    top = max(top, 5.0)
    bw = (w - 2 * pad) / n
    parts = [f'<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-labelledby="chart-title">',
             f'<title id="chart-title">{escape(title)}</title>',
             f'<line x1="{pad}" y1="{h - pad}" x2="{w - pad}" y2="{h - pad}" stroke="#1a1a1a"/>']
    for i, r in enumerate(monthly.itertuples(index=False)):
        x = pad + i * bw + bw * 0.15
        label = show_count(r.count, bool(r.suppressed), bool(getattr(r, "no_data", False)))
        if np.isfinite(r.count):
            bh = (h - 2 * pad) * float(r.count) / top
            fill = "#3b528b"
        elif r.suppressed:
            bh, fill = (h - 2 * pad) * 4 / top, "#8c8c8c"
        else:
            bh, fill = 0, "none"
        y = h - pad - bh
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bw * 0.7:.1f}" height="{bh:.1f}" fill="{fill}">'
                     f'<title>{escape(str(r.month))}: {escape(label)}</title></rect>')
        parts.append(f'<text x="{x + bw * 0.35:.1f}" y="{y - 4:.1f}" font-size="12" text-anchor="middle" '
                     f'fill="#1a1a1a">{escape(label)}</text>')
        parts.append(f'<text x="{x + bw * 0.35:.1f}" y="{h - pad + 16}" font-size="12" text-anchor="middle" '
                     f'fill="#1a1a1a">{escape(str(r.month))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def legend(breaks: list[float]) -> list[dict]:
    """Legend rows: the viridis classes (offences per km², quintiles), then suppressed and no data."""
    rows = []
    lo = 0.0
    for i in range(min(CLASSES, len(breaks))):
        rows.append({"colour": VIRIDIS[i], "label": f"{lo:,.1f}–{breaks[i]:,.1f} per km²"})
        lo = breaks[i]
    rows.append({"colour": "#bdbdbd", "label": "fewer than 5 (suppressed)"})
    rows.append({"colour": "#ffffff", "label": "no data (not zero)"})
    return rows


