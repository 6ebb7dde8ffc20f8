"""A token's area scope: which areas of a level it may see (DESIGN.md "People and what they may see").

A scope lists area codes (LAD, CSP, ward, parish, LSOA); an area of any level is inside it when its representative
point lies in the union of the scope's polygons (an H3 cell: its centre). Force-wide rows ("outside",
"unlocated") and areas larger than the scope (its CSP, its force area) are outside it.
"""

from __future__ import annotations

import h3
import numpy as np
import shapely

from api.auth import ANONYMOUS, AuthError, Principal
from api.deps import Services
from data import aggregate as agg
from geo.record import POLYGON_LEVELS, h3_resolution

#: levels whose polygons can make up a scope, finest first
_SCOPE_LEVELS = ("parish", "ward", "lsoa", "lad", "csp", "pfa")


def scope_area(sv: Services, scope: tuple[str, ...]):
    """The union of the scope's polygons (prepared), cached per store generation; None when none is known."""

    def make():
        parts = []
        for level in _SCOPE_LEVELS:
            g = agg.area_geometry(sv.store, level)
            if len(g):
                parts.extend(g.geometry[g["code"].isin(scope).to_numpy()].to_numpy())
        if not parts:
            return False  # the LRU does not keep None
        u = shapely.union_all(np.asarray(parts, dtype=object))
        shapely.prepare(u)
        return u

    area = sv.frames.get_or_make(("scope-area", sv.generation(), scope), make)
    return area if area is not False else None


def _representative_xy(sv: Services, level: str, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """lon, lat of a point inside each area (NaN for codes with no polygon, such as 'outside')."""
    lon, lat = np.full(len(codes), np.nan), np.full(len(codes), np.nan)
    if h3_resolution(level) is not None:
        for i, c in enumerate(codes):
            if h3.is_valid_cell(c):
                lat[i], lon[i] = h3.cell_to_latlng(c)
        return lon, lat
    if level not in POLYGON_LEVELS:
        return lon, lat

    def make():
        g = agg.area_geometry(sv.store, level)
        pts = shapely.point_on_surface(g.geometry.to_numpy())
        return dict(zip(g["code"], zip(shapely.get_x(pts), shapely.get_y(pts), strict=True), strict=True))

    where = sv.frames.get_or_make(("scope-points", sv.generation(), level), make)
    for i, c in enumerate(codes):
        xy = where.get(c)
        if xy is not None:
            lon[i], lat[i] = xy
    return lon, lat


def in_scope(sv: Services, who: Principal, level: str, codes) -> np.ndarray:
    """A boolean mask of ``codes`` (areas of ``level``) the caller may see; all True without a scope."""
    codes = np.asarray(list(codes), dtype=object).astype(str)
    if who.scope is None:
        return np.ones(len(codes), dtype=bool)
    mask = np.isin(codes, list(who.scope))
    area = scope_area(sv, who.scope)
    if area is None or not len(codes):
        return mask
    lon, lat = _representative_xy(sv, level, codes)
    ok = np.isfinite(lon)
    if ok.any():
        mask[ok] |= shapely.contains_xy(area, lon[ok], lat[ok])
    return mask


def require_in_scope(sv: Services, who: Principal, level: str, code: str) -> None:
    """403 when an area page or briefing asks for an area outside the caller's scope."""
    if who.scope is not None and not in_scope(sv, who, level, [code])[0]:
        raise AuthError(f"{level} {code} is outside this token's area scope ({', '.join(who.scope)}); expected an "
                        f"area inside it", param="code", status_code=403)


def public_outside_scope(sv: Services, who: Principal, level: str, code: str) -> Principal:
    """The caller on a public page: a scoped token outside its scope sees what the public sees."""
    if who.scope is not None and not in_scope(sv, who, level, [code])[0]:
        return ANONYMOUS
    return who
