"""Aggregate tables: offences per area × month × crime type, for every level, with rates, coverage and
(for the parish / public audience) suppression — the one source every output reads.

The base table of a level counts every stored offence by (code, month, crime type) from the assignment
table (or the H3 column); it is computed once per store generation and level and cached. Every figure a
person sees (CLI, GeoJSON, tiles, exports, pages) is cut from it by :func:`aggregate`, so totals, nesting
and suppression agree everywhere.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict

import geopandas as gpd
import numpy as np
import pandas as pd

from boundaries import lookups
from boundaries.forces import force_by_pfa
from data.assignment import chain_vintage
from data.store import Store
from geo.assign import OUTSIDE, UNLOCATED
from geo.errors import InputError, NotFoundError
from geo.hexgrid import cell_area_km2, cells_at, cells_to_parent, cells_to_polygons
from geo.population import apportion_by_area, apportion_by_lookup
from geo.record import (
    ALL_CRIME,
    ALL_CRIME_TYPES,
    ASB,
    CRIME_TYPES,
    PUBLIC_LEVELS,
    crime_types_label,
    h3_resolution,
    month_label,
    parse_level,
)
from geo.suppression import complementary_suppression, primary_suppression

AUDIENCES = ("analyst", "neighbourhood", "parish")
OUTPUT_COLUMNS = ["code", "name", "level", "month", "crime_type", "count", "rate_per_1000", "per_km2",
                  "population", "vintage", "suppressed", "no_data", "approximate"]
SPECIAL = (OUTSIDE, UNLOCATED)
LEGACY_SUFFIX = " (2011 category)"

_CACHE: OrderedDict = OrderedDict()
_LOCK = threading.Lock()


def _cached(key, fn):
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    value = fn()
    with _LOCK:
        _CACHE[key] = value
        while len(_CACHE) > 64:
            _CACHE.popitem(last=False)
    return value


def _key(store: Store, *parts):
    return (store.location, store.generation, *parts)


def parish_missing_message() -> str:
    return ("no parish boundaries are loaded; load the ONS civil-parish file with `crimemap boundaries load FILE "
            "--level parish` (the approximate OA-built par_oa_dissolved_west_mercia.geojson works too); meanwhile "
            "a parish can be summarised through its wards (parish→ward lookup, approximate)")


# ---- base table -------------------------------------------------------------------------------------

def base_counts(store: Store, level: str) -> pd.DataFrame:
    """Every stored offence counted by ``code, force, month, crime_type`` at ``level`` (cached per generation).

    ``crime_type`` is the police.uk category; 2011-format categories with no exact modern match keep their
    own name with the suffix " (2011 category)". Codes include ``outside`` and ``unlocated``.
    """
    level = parse_level(level)
    return _cached(_key(store, "base", level), lambda: _base_counts(store, level))


def _base_counts(store: Store, level: str) -> pd.DataFrame:
    off = store.read_offences(columns=["offence_id", "force", "month", "crime_type", "crime_type_source", "h3_10"])
    ct = off["crime_type"].astype(object)
    legacy = ct.isna()
    ct = ct.where(~legacy, off["crime_type_source"].astype(object) + LEGACY_SUFFIX)
    res = h3_resolution(level)
    if res is not None:
        code = cells_at(off["h3_10"].astype(object).to_numpy(), res)
    else:
        meta = store.layers()
        if level in ("ward", "parish") and level not in meta:
            if level == "parish":
                raise NotFoundError(parish_missing_message(), param="level")
            raise NotFoundError("no ward boundaries are loaded; load them with `crimemap boundaries load FILE "
                                "--level ward` (e.g. ONS Wards (December 2019))", param="level")
        a = store.read_assignment(levels=[level])
        merged = off[["force", "month", "offence_id"]].merge(a, on=["force", "month", "offence_id"], how="left")
        code = merged[level].astype(object).to_numpy()
        code = np.where(pd.isna(code), OUTSIDE, code)
    frame = pd.DataFrame({"code": code, "force": off["force"].astype(object).to_numpy(),
                          "month": pd.to_datetime(off["month"]).to_numpy(), "crime_type": ct.to_numpy()})
    return frame.groupby(["code", "force", "month", "crime_type"], observed=True).size().rename("count").reset_index()


# ---- geometry, names, population ---------------------------------------------------------------------

def area_geometry(store: Store, level: str) -> gpd.GeoDataFrame:
    """Polygons of a level: the loaded layer, else (LAD, CSP, PFA) wards dissolved through the lookups.

    Returns ``code, name, geometry`` (EPSG:4326) and ``attrs['vintage']``, ``attrs['approximate']``.
    H3 levels have no fixed layer: their polygons are made per cell by :func:`aggregate`.
    """
    level = parse_level(level)
    return _cached(_key(store, "geom", level), lambda: _area_geometry(store, level))


def _area_geometry(store: Store, level: str) -> gpd.GeoDataFrame:
    meta = store.layers()
    if level in meta:
        g = store.read_layer(level)
        g.attrs.update(vintage=str(meta[level].get("vintage")), approximate=bool(meta[level].get("approximate")),
                       notice=meta[level].get("notice"), source=meta[level].get("source"))
        return g
    if level in ("lad", "csp", "pfa") and "ward" in meta:
        v = chain_vintage(meta)
        wards = store.read_layer("ward")
        w2l = lookups.ward_to_lad(v).set_index("ward")["lad"]
        wards = wards.assign(lad=wards["code"].map(w2l)).dropna(subset=["lad"])
        chain = lookups.lad_to_csp_pfa(v).set_index("lad")
        wards["csp"] = wards["lad"].map(chain["csp"])
        wards["pfa"] = wards["lad"].map(chain["pfa"])
        d = wards.dissolve(by=level, as_index=False)[[level, "geometry"]].rename(columns={level: "code"})
        d["name"] = d["code"].map(lookups.area_names())
        g = gpd.GeoDataFrame(d[["code", "name", "geometry"]], crs="EPSG:4326")
        g.attrs.update(vintage=f"{v} (dissolved from wards)", approximate=False, notice=None, source="wards")
        return g
    g = gpd.GeoDataFrame({"code": [], "name": []}, geometry=gpd.GeoSeries([], crs="EPSG:4326"))
    g.attrs.update(vintage=None, approximate=False, notice=None, source=None)
    return g


def _population(store: Store, level: str, codes: pd.Index, geoms: gpd.GeoSeries | None) -> pd.Series:
    """Census 2021 residents per area of a level, apportioned as DESIGN.md says (NaN where unknown)."""
    return _cached(_key(store, "pop", level, tuple(codes) if h3_resolution(level) else None),
                   lambda: _population_uncached(store, level, codes, geoms))


def lsoa11_population() -> pd.Series:
    """Census 2021 residents on 2011 LSOAs through the ONS LSOA11→21 lookup (splits and merges shared)."""
    pop21 = lookups.population_lsoa21().set_index("lsoa21")["population"]
    return apportion_by_lookup(pop21, lookups.lsoa11_to_lsoa21(), "lsoa21", "lsoa11")


def _population_uncached(store, level, codes, geoms):
    meta = store.layers()
    v = chain_vintage(meta)
    pop11 = lsoa11_population()
    if level == "lsoa":
        return pop11.reindex(codes)
    w = lookups.lsoa11_to_ward(v)
    if level == "ward":
        return apportion_by_lookup(pop11, w, "lsoa11", "ward").reindex(codes)
    lad = apportion_by_lookup(pop11, w, "lsoa11", "lad")
    if level == "lad":
        return lad.reindex(codes)
    chain = lookups.lad_to_csp_pfa(v)
    if level in ("csp", "pfa"):
        return apportion_by_lookup(lad, chain, "lad", level).reindex(codes)
    # parishes and H3 cells: area overlap with wards (the ward layer must be loaded)
    if "ward" not in meta or geoms is None or len(geoms) == 0:
        return pd.Series(np.nan, index=codes)
    wards = store.read_layer("ward")
    wards["pop"] = wards["code"].map(apportion_by_lookup(pop11, w, "lsoa11", "ward"))
    wards = wards.dropna(subset=["pop"])
    target = gpd.GeoDataFrame(geometry=gpd.GeoSeries(np.asarray(geoms), index=codes, crs="EPSG:4326"))
    return apportion_by_area(wards, "pop", target)


def _area_km2(geoms: gpd.GeoSeries) -> np.ndarray:
    return gpd.GeoSeries(geoms, crs="EPSG:4326").to_crs("EPSG:27700").area.to_numpy() / 1e6


# ---- coverage -----------------------------------------------------------------------------------------

def loaded_months(store: Store, forces: list[str] | None = None) -> list[dt.date]:
    cov = store.coverage()
    if forces:
        cov = cov[cov["force"].isin(forces)]
    return sorted({m.date() for m in pd.to_datetime(cov["month"])})


def _area_forces(store: Store, level: str, codes: pd.Index) -> pd.Series:
    """The force (slug) whose data covers each area, via the area's force area (PFA)."""
    v = chain_vintage(store.layers())
    chain = lookups.lad_to_csp_pfa(v)
    if level == "pfa":
        pfa = pd.Series(codes, index=codes)
    elif level == "csp":
        pfa = pd.Series(codes, index=codes).map(chain.drop_duplicates("csp").set_index("csp")["pfa"])
    elif level == "lad":
        pfa = pd.Series(codes, index=codes).map(chain.set_index("lad")["pfa"])
    else:
        if level == "ward":
            lad = pd.Series(codes, index=codes).map(lookups.ward_to_lad(v).set_index("ward")["lad"])
        elif level == "lsoa":
            lad = pd.Series(codes, index=codes).map(lookups.lsoa11_to_ward(v).set_index("lsoa11")["lad"])
        else:
            p2l = pd.concat([lookups.parish_to_ward().drop_duplicates("parish").set_index("parish")["lad"],
                             lookups.unparished_areas().set_index("ncp")["lad"]])
            lad = pd.Series(codes, index=codes).map(p2l[~p2l.index.duplicated()])
        pfa = lad.map(chain.set_index("lad")["pfa"])
    slugs = {c: f.slug for c in pfa.dropna().unique() if (f := force_by_pfa(c)) is not None}
    return pd.Series([slugs.get(c) for c in pfa], index=pfa.index, dtype=object)  # None where no force


# ---- the aggregate ------------------------------------------------------------------------------------

def _select_types(crime_types) -> tuple[str, ...] | None:
    """None = all crime (ASB excluded, 2011 categories included)."""
    if crime_types is None or set(crime_types) == set(ALL_CRIME_TYPES):
        return None
    return tuple(crime_types)


def _type_mask(ct: pd.Series, types: tuple[str, ...] | None) -> np.ndarray:
    if types is None:
        return (ct != ASB).to_numpy()
    return ct.isin(types).to_numpy()


def aggregate(store: Store, level: str, *, months: tuple[dt.date, dt.date] | None = None,
              crime_types: tuple[str, ...] | None = None, forces: list[str] | None = None,
              bbox: tuple[float, float, float, float] | None = None, audience: str = "analyst",
              by_month: bool = False, by_type: bool = False, geometry: bool = True, threshold: int = 5,
              codes: list[str] | None = None, fill: bool = True) -> gpd.GeoDataFrame | pd.DataFrame:
    """Offences per area of ``level`` (and month / crime type), with rates, coverage and suppression.

    Parameters
    ----------
    store : Store
    level : str
        ``parish``, ``ward``, ``lsoa``, ``lad``, ``csp``, ``pfa`` or ``h3:7`` … ``h3:10``.
    months : (date, date), optional
        First and last month, both included; default every loaded month.
    crime_types : tuple of str, optional
        police.uk categories; default all crime (every type but anti-social behaviour).
    forces : list of str, optional
        Force slugs to include.
    bbox : (minx, miny, maxx, maxy), optional
        Keep areas intersecting this lon/lat box.
    audience : {"analyst", "neighbourhood", "parish"}
        ``parish`` (also the anonymous public) gets suppressed figures and no level finer than ``h3:8``.
    by_month, by_type : bool
        One row per month / per crime type instead of one total.
    geometry : bool
        Return a GeoDataFrame with polygons (EPSG:4326).
    codes : list of str, optional
        Keep only these area codes.
    fill : bool
        List every area of a polygon level (zero where no offence), not only those with offences.

    Returns
    -------
    GeoDataFrame or DataFrame with :data:`OUTPUT_COLUMNS`; rows ``outside`` and ``unlocated`` carry the offences
    no area of the level holds, so the counts of a level add up to the filtered total.
    """
    level = parse_level(level)
    if audience not in AUDIENCES:
        raise InputError(f"audience {audience!r} is not one of {', '.join(AUDIENCES)}", param="audience")
    if audience == "parish" and level not in PUBLIC_LEVELS:
        raise InputError(f"level {level!r} is finer than the public may see; expected one of "
                         f"{', '.join(PUBLIC_LEVELS)}", param="level", status_code=403)
    all_months = loaded_months(store, forces)
    if not all_months:
        raise NotFoundError("the store holds no offences yet; run `crimemap ingest FILE` first", param="months")
    lo, hi = months if months is not None else (all_months[0], all_months[-1])
    sel_months = [m for m in all_months if lo <= m <= hi]
    types = _select_types(crime_types)
    type_label = crime_types_label(crime_types if crime_types else ALL_CRIME_TYPES)
    if audience == "parish":
        table = _public_table(store, level, types, by_type, by_month, lo, hi, all_months, forces, threshold)
    else:
        table = _counts(store, level, types, by_type, by_month, lo, hi, forces)
        table["suppressed"] = False
    if not by_type:
        table["crime_type"] = type_label
    period = f"{month_label(lo)}..{month_label(hi)}" if lo != hi else month_label(lo)
    if not by_month:
        table["month"] = period

    geom = area_geometry(store, level) if h3_resolution(level) is None else None
    if fill and geom is not None and len(geom):
        table = _fill(table, geom["code"], by_month, by_type, sel_months)
        if not by_type:
            table["crime_type"] = type_label
        if not by_month:
            table["month"] = period
    if codes is not None:
        table = table[table["code"].isin(codes)]
    res = h3_resolution(level)
    areas = table.loc[~table["code"].isin(SPECIAL), "code"].drop_duplicates()
    if res is not None:
        polys = pd.Series(cells_to_polygons(areas.tolist()), index=areas.to_numpy(), dtype=object)
        names = pd.Series(areas.to_numpy(), index=areas.to_numpy())
        vintage, approximate = f"H3 resolution {res}", False
        area_km2 = pd.Series(cell_area_km2(res), index=areas.to_numpy()) if len(areas) else pd.Series(dtype=float)
        if len(areas):
            area_km2 = pd.Series(_area_km2(gpd.GeoSeries(polys.to_numpy(), crs="EPSG:4326")), index=areas.to_numpy())
    else:
        gi = geom.set_index("code")
        polys = gi.geometry.reindex(areas.to_numpy())
        names = gi["name"].reindex(areas.to_numpy())
        fallback = lookups.area_names()
        names = names.where(names.notna(), areas.map(fallback).set_axis(areas.to_numpy()))
        vintage = geom.attrs.get("vintage")
        approximate = bool(geom.attrs.get("approximate"))
        ok = polys.notna()
        area_km2 = pd.Series(np.nan, index=areas.to_numpy())
        if ok.any():
            area_km2[ok.to_numpy()] = _area_km2(gpd.GeoSeries(polys[ok].to_numpy(), crs="EPSG:4326"))
    pop = _population(store, level, pd.Index(areas.to_numpy()), polys if len(areas) else None)
    table["name"] = table["code"].map(names)
    table.loc[table["code"] == OUTSIDE, "name"] = f"Outside the loaded {level} areas"
    table.loc[table["code"] == UNLOCATED, "name"] = "Unlocated (no coordinates)"
    table["level"] = level
    table["population"] = table["code"].map(pop).astype(float)
    km2 = table["code"].map(area_km2).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        table["rate_per_1000"] = np.where(table["population"] > 0, table["count"] / table["population"] * 1000, np.nan)
        table["per_km2"] = np.where(km2 > 0, table["count"] / km2, np.nan)
    table["vintage"] = f"{level} {vintage}; population {lookups.POPULATION_VINTAGE}" if vintage else \
        f"population {lookups.POPULATION_VINTAGE}"
    table["approximate"] = approximate
    # coverage: an area whose force has no data for the period is "no data", never zero
    if res is None and len(areas):
        af = _area_forces(store, level, pd.Index(areas.to_numpy()))
        cov = store.coverage()
        have = set(zip(cov["force"], pd.to_datetime(cov["month"]).dt.date, strict=True))
        if by_month:
            mon = pd.to_datetime(table["month"] + "-01").dt.date if len(table) else pd.Series([], dtype=object)
            nod = [(f is not None) and ((f, m) not in have) for f, m in
                   zip(table["code"].map(af), mon, strict=True)]
        else:
            nod = [(f is not None) and not any((f, m) in have for m in sel_months) for f in table["code"].map(af)]
        # offences a loaded force recorded in another force's area are real data: only empty areas are "no data"
        table["no_data"] = (np.asarray(nod, dtype=bool) & ~table["code"].isin(SPECIAL).to_numpy()
                            & ~(table["count"].fillna(0) > 0).to_numpy())
    else:
        table["no_data"] = False
    table.loc[table["no_data"], ["count", "rate_per_1000", "per_km2"]] = np.nan
    sup = table["suppressed"].to_numpy(dtype=bool)
    table.loc[sup, ["count", "rate_per_1000", "per_km2"]] = np.nan
    table = table[OUTPUT_COLUMNS].sort_values(["code", "month", "crime_type"], kind="stable").reset_index(drop=True)
    if bbox is not None:
        inb = table["code"].map(polys.map(lambda g: g is not None and g.intersects(_box(bbox))) if len(polys)
                                else pd.Series(dtype=bool)).fillna(False).astype(bool)
        table = table[inb.to_numpy()].reset_index(drop=True)
    if not geometry:
        return pd.DataFrame(table)
    g = table["code"].map(polys) if len(polys) else pd.Series([None] * len(table))
    out = gpd.GeoDataFrame(table, geometry=gpd.GeoSeries(g.to_numpy(), crs="EPSG:4326"), crs="EPSG:4326")
    out.attrs.update(level=level, crime_types=type_label, months=period, audience=audience,
                     notice=geom.attrs.get("notice") if geom is not None else None,
                     population_vintage=lookups.POPULATION_VINTAGE, threshold=threshold)
    return out


def _box(bbox):
    import shapely

    return shapely.box(*bbox)


def _counts(store, level, types, by_type, by_month, lo, hi, forces) -> pd.DataFrame:
    b = base_counts(store, level)
    if forces:
        b = b[b["force"].isin(forces)]
    m = pd.to_datetime(b["month"]).dt.date
    b = b[((m >= lo) & (m <= hi)).to_numpy() & _type_mask(b["crime_type"], types)]
    keys = ["code"] + (["month"] if by_month else []) + (["crime_type"] if by_type else [])
    t = b.groupby(keys, observed=True)["count"].sum().reset_index()
    t["count"] = t["count"].astype(float)
    if by_month:
        t["month"] = pd.to_datetime(t["month"]).dt.strftime("%Y-%m")
    return t


def _fill(table, codes, by_month, by_type, months) -> pd.DataFrame:
    """Add zero rows for every area of the layer (and month / type present)."""
    have = list(dict.fromkeys(codes.tolist() + table["code"].tolist()))
    dims = [pd.Index(have, name="code")]
    if by_month:
        dims.append(pd.Index([month_label(m) for m in months], name="month"))
    if by_type:
        dims.append(pd.Index(sorted(set(table["crime_type"])) or [ALL_CRIME], name="crime_type"))
    full = pd.MultiIndex.from_product(dims).to_frame(index=False)
    keys = [d.name for d in dims]
    extra = [c for c in table.columns if c not in keys]
    t = full.merge(table, on=keys, how="left") if len(table) else full.assign(**{c: np.nan for c in extra})
    t["count"] = t["count"].fillna(0.0)
    if "suppressed" in t:
        t["suppressed"] = t["suppressed"].fillna(False).astype(bool)
    return t


# ---- public (suppressed) tables -----------------------------------------------------------------------

def _public_table(store, level, types, by_type, by_month, lo, hi, all_months, forces, threshold):
    """Cut a request from the suppressed publication cube of the level.

    The public may ask for single months, whole calendar quarters or the whole loaded period, and for all
    crime or single crime types: those are the cells the cube publishes and protects.
    """
    if types is not None and not by_type and len(types) > 1:
        raise InputError("the public figures are published for all crime or for one crime type at a time; "
                         f"received {len(types)} types", param="crime_type", status_code=400)
    cube = public_cube(store, level, threshold=threshold, forces=forces)
    periods = _periods(all_months)
    if by_month:
        wanted = [month_label(m) for m in all_months if lo <= m <= hi]
        c = cube[cube["period"].isin(wanted)].rename(columns={"period": "month"})
    else:
        label = _period_label(lo, hi, all_months)
        if label not in periods:
            raise InputError(f"months {month_label(lo)}..{month_label(hi)} is not a published period; the public may "
                             f"ask for one month, a whole quarter or the whole loaded period "
                             f"({month_label(all_months[0])}..{month_label(all_months[-1])})", param="months")
        c = cube[cube["period"] == label].drop(columns=["period"])
    if by_type:
        tsel = list(types) if types is not None else [t for t in CRIME_TYPES if t != ASB]
        c = c[c["crime_type"].isin(tsel)]
    else:
        want = ALL_CRIME if types is None else types[0]
        c = c[c["crime_type"] == want]
    return c.reset_index(drop=True)


def _periods(all_months) -> dict[str, list]:
    per = {month_label(m): [m] for m in all_months}
    quarters: dict[tuple[int, int], list] = {}
    for m in all_months:
        quarters.setdefault((m.year, (m.month - 1) // 3), []).append(m)
    for (y, q), ms in quarters.items():
        if len(ms) == 3:
            per[f"{y}-Q{q + 1}"] = ms
    if len(all_months) > 1:
        per[f"{month_label(all_months[0])}..{month_label(all_months[-1])}"] = list(all_months)
    return per


def _period_tree(periods: dict[str, list]) -> dict[str, list[str]]:
    """Each multi-month period and the periods it is the sum of, as a tree (quarter = its months; whole
    period = its complete quarters + the other months), so differences such as whole − quarter = month
    show up as a group of their own."""
    quarters = {k: v for k, v in periods.items() if "-Q" in k}
    tree = {k: [month_label(m) for m in v] for k, v in quarters.items()}
    in_q = {m for v in quarters.values() for m in v}
    for k, v in periods.items():
        if ".." in k:
            tree[k] = sorted(quarters) + [month_label(m) for m in v if m not in in_q]
    return tree


def _period_label(lo, hi, all_months) -> str:
    ms = [m for m in all_months if lo <= m <= hi]
    if not ms:
        return "none"
    if len(ms) == 1:
        return month_label(ms[0])
    if ms[0].month % 3 == 1 and len(ms) == 3 and ms[-1].year == ms[0].year:
        return f"{ms[0].year}-Q{(ms[0].month - 1) // 3 + 1}"
    if ms == list(all_months):
        return f"{month_label(all_months[0])}..{month_label(all_months[-1])}"
    return f"{month_label(ms[0])}..{month_label(ms[-1])}"


def public_cube(store: Store, level: str, *, threshold: int = 5, forces=None) -> pd.DataFrame:
    """The suppressed publication cube of a level: ``code, period, crime_type, count, suppressed``.

    Periods are every loaded month, every complete quarter and the whole period; crime types are the 13
    all-crime categories, anti-social behaviour and "all crime". Suppression: primary below ``threshold``,
    then complementary over areas (to the level total), months (to quarters and the whole period), types
    (to all crime) and, for wards, parishes, LSOAs and H3 res 8, children to their parent area.
    """
    return _cached(_key(store, "cube", level, threshold, tuple(forces or ())),
                   lambda: _public_cube(store, level, threshold, forces))


def _public_cube(store, level, threshold, forces):
    all_months = loaded_months(store, forces)
    b = base_counts(store, level)
    if forces:
        b = b[b["force"].isin(forces)]
    b = b.assign(crime_type=b["crime_type"].where(b["crime_type"].isin(CRIME_TYPES), "Other crime"))
    b["period"] = pd.to_datetime(b["month"]).dt.strftime("%Y-%m")
    per_m = b.groupby(["code", "period", "crime_type"], observed=True)["count"].sum().reset_index()
    allc = per_m[per_m["crime_type"] != ASB].groupby(["code", "period"])["count"].sum().reset_index()
    allc["crime_type"] = ALL_CRIME
    cells = pd.concat([per_m, allc], ignore_index=True)
    geom = area_geometry(store, level) if h3_resolution(level) is None else None
    codes = sorted(set(cells["code"]) | (set(geom["code"]) if geom is not None else set()))
    types = [t for t in CRIME_TYPES] + [ALL_CRIME]
    periods = _periods(all_months)
    monthly = pd.MultiIndex.from_product([codes, [month_label(m) for m in all_months], types],
                                         names=["code", "period", "crime_type"])
    full = cells.set_index(["code", "period", "crime_type"])["count"].reindex(monthly, fill_value=0).reset_index()
    frames = [full]
    for label, ms in periods.items():
        if len(ms) > 1:
            agg = full[full["period"].isin([month_label(m) for m in ms])].groupby(
                ["code", "crime_type"])["count"].sum().reset_index()
            agg["period"] = label
            frames.append(agg)
    cube = pd.concat(frames, ignore_index=True)
    cube["count"] = cube["count"].astype(float)
    sup = primary_suppression(cube["count"], threshold) | _forced_by_children(store, level, cube, threshold, forces)
    # additive groups, months → quarters → whole period first: fixing those first keeps complements inside
    # one area and type and hides far fewer large counts (LAD cells of 20 or more hidden: 282 → 38 of 598)
    groups = []
    for label, children in _period_tree(periods).items():
        member = cube["period"].isin(children + [label]).to_numpy()
        groups.append(np.where(member, cube["code"] + "|" + cube["crime_type"] + "|" + label, None))
    groups += [
        np.where(cube["crime_type"] != ASB, cube["code"] + "|" + cube["period"], None),  # types → all crime
        (cube["period"] + "|" + cube["crime_type"]).to_numpy(dtype=object),  # areas → level total
    ]
    parent = _parents(store, level, cube["code"])
    if parent is not None:
        groups.append(np.where(pd.notna(parent), parent.astype(str) + "|" + cube["period"] + "|" + cube["crime_type"],
                               None))
    cube["suppressed"] = complementary_suppression(cube["count"].to_numpy(), sup, groups)
    return cube


#: finer public levels whose areas add up (through the lookups or H3 parents) to an area of this level
CHILD_LEVELS = {"lad": ("ward", "parish", "lsoa"), "csp": ("lad",), "pfa": ("csp",), "h3:7": ("h3:8",)}


def _forced_by_children(store, level, cube, threshold, forces) -> np.ndarray:
    """Cells of this level that must be hidden because a finer level's group under them has exactly one
    hidden child (a lone child equals its parent, so showing the parent would show the child)."""
    forced = np.zeros(len(cube), dtype=bool)
    layers = store.layers()
    key = cube["code"].astype(str) + "|" + cube["period"] + "|" + cube["crime_type"]
    for child in CHILD_LEVELS.get(level, ()):
        if child in ("ward", "parish") and child not in layers:
            continue
        cc = public_cube(store, child, threshold=threshold, forces=forces)
        par = _parents(store, child, cc["code"])
        ok = par.notna().to_numpy()
        ck = (par.astype(str) + "|" + cc["period"] + "|" + cc["crime_type"])[ok]
        hidden = pd.Series(cc["suppressed"].to_numpy()[ok]).groupby(ck.to_numpy()).sum()
        forced |= key.isin(hidden.index[hidden == 1]).to_numpy()
    # a parent of zero gives nothing away (its lone child is then not its only part)
    return forced & (cube["count"].to_numpy() > 0)


def _parents(store, level, codes: pd.Series):
    """The parent area of each code whose total is published at a coarser level (LAD, CSP, PFA or H3 res 7)."""
    if level in ("lad", "csp"):
        chain = lookups.lad_to_csp_pfa(chain_vintage(store.layers()))
        m = chain.drop_duplicates(level).set_index(level)["csp" if level == "lad" else "pfa"]
        return codes.map(m)
    if level == "h3:8":
        return pd.Series(cells_to_parent(codes.where(~codes.isin(SPECIAL), None).to_numpy(), 7))
    if level in ("ward", "parish", "lsoa"):
        v = chain_vintage(store.layers())
        if level == "ward":
            m = lookups.ward_to_lad(v).set_index("ward")["lad"]
        elif level == "lsoa":
            m = lookups.lsoa11_to_ward(v).set_index("lsoa11")["lad"]
        else:
            p = pd.concat([lookups.parish_to_ward().drop_duplicates("parish").set_index("parish")["lad"],
                           lookups.unparished_areas().set_index("ncp")["lad"]])
            m = p[~p.index.duplicated()]
        return codes.map(m)
    return None


# ---- area views used by pages and briefings ------------------------------------------------------------

def monthly_series(store: Store, level: str, code: str, *, crime_types=None, audience: str = "analyst",
                   threshold: int = 5) -> pd.DataFrame:
    """Monthly counts of one area: ``month, count, suppressed`` (count NaN when suppressed or no data)."""
    t = aggregate(store, level, crime_types=crime_types, audience=audience, by_month=True, geometry=False,
                  codes=[code], threshold=threshold)
    if t.empty:
        raise NotFoundError(f"area {code!r} is not a {level} area in the store", param="code")
    return t[["month", "count", "suppressed", "no_data"]].reset_index(drop=True)


def type_breakdown(store: Store, level: str, code: str, *, months=None, audience: str = "analyst",
                   threshold: int = 5) -> pd.DataFrame:
    """Counts of one area by crime type (ASB included as its own row): ``crime_type, count, suppressed``."""
    t = aggregate(store, level, months=months, crime_types=CRIME_TYPES, audience=audience, by_type=True,
                  geometry=False, codes=[code], threshold=threshold)
    if t.empty:
        raise NotFoundError(f"area {code!r} is not a {level} area in the store", param="code")
    return t[["crime_type", "count", "suppressed"]].sort_values("count", ascending=False).reset_index(drop=True)


def top_locations(store: Store, level: str, code: str, *, months=None, crime_types=None, n: int = 10) -> pd.DataFrame:
    """The busiest snap points of an area (grouped by coordinates, not by the "On or near" name)."""
    level = parse_level(level)
    off = store.read_offences(months=months, columns=["offence_id", "force", "month", "crime_type", "location",
                                                     "h3_10", "geometry"])
    off = off[_type_mask(off["crime_type"].astype(object), _select_types(crime_types))]
    res = h3_resolution(level)
    if res is not None:
        cells = off["h3_10"].astype(object).to_numpy()
        inside = (cells if res == 10 else cells_to_parent(cells, res)) == code
    else:
        a = store.read_assignment(months=months, levels=[level])
        a = a[a[level] == code]
        inside = off.set_index(["force", "month", "offence_id"]).index.isin(
            a.set_index(["force", "month", "offence_id"]).index)
    sub = off[inside & off.geometry.notna().to_numpy()]
    if sub.empty:
        return pd.DataFrame(columns=["lon", "lat", "location", "count"])
    sub = sub.assign(lon=sub.geometry.x.round(6), lat=sub.geometry.y.round(6))
    g = sub.groupby(["lon", "lat"]).agg(count=("offence_id", "size"),
                                        location=("location", lambda s: s.mode().iat[0])).reset_index()
    return g.sort_values(["count", "lon", "lat"], ascending=[False, True, True]).head(n).reset_index(drop=True)[
        ["lon", "lat", "location", "count"]]


def search_areas(store: Store, q: str, limit: int = 20) -> pd.DataFrame:
    """Parish, ward and other loaded areas whose name or code contains ``q`` (case-insensitive)."""
    q = str(q).strip()
    if not q or len(q) > 100:
        raise InputError(f"search text of {len(q)} characters; expected 1 to 100 characters", param="q")
    rows = []
    for level in ("parish", "ward", "lad", "lsoa"):
        if level not in store.layers() and level != "lad":
            continue
        g = area_geometry(store, level)
        if g.empty:
            continue
        name = g["name"].astype(str)
        hit = name.str.contains(q, case=False, regex=False) | g["code"].astype(str).str.upper().eq(q.upper())
        for c, nm in zip(g.loc[hit, "code"], g.loc[hit, "name"], strict=True):
            rows.append({"code": c, "name": nm, "level": level,
                         "starts": not str(nm).lower().startswith(q.lower())})
    d = pd.DataFrame(rows, columns=["code", "name", "level", "starts"])
    return d.sort_values(["starts", "name"]).head(limit).drop(columns="starts").reset_index(drop=True)


# ---- inputs for hot spots ------------------------------------------------------------------------------

def area_counts(store: Store, level: str, *, months: tuple[dt.date, dt.date] | None = None,
                crime_types=None, forces: list[str] | None = None, by_month: bool = True) -> pd.DataFrame:
    """Counts per area (and month) from the base table: ``code, month (date), count``.

    Includes the ``outside`` and ``unlocated`` rows; no geometry, no suppression (analyst use: hot spots).
    """
    level = parse_level(level)
    b = base_counts(store, level)
    if forces:
        b = b[b["force"].isin(forces)]
    m = pd.to_datetime(b["month"]).dt.date
    keep = np.array(_type_mask(b["crime_type"], _select_types(tuple(crime_types) if crime_types else None)))
    if months is not None:
        keep = keep & ((m >= months[0]) & (m <= months[1])).to_numpy()
    b = b[keep]
    keys = ["code", "month"] if by_month else ["code"]
    t = b.groupby(keys, observed=True)["count"].sum().reset_index()
    if by_month:
        t["month"] = pd.to_datetime(t["month"]).dt.date
    t["count"] = t["count"].astype(int)
    return t


def study_area(store: Store, level: str, months: tuple[dt.date, dt.date] | None = None,
               forces: list[str] | None = None) -> list[str]:
    """Areas with at least one offence of any type (ASB included) in ``months`` (DESIGN.md "Hot spots")."""
    b = base_counts(store, parse_level(level))
    if forces:
        b = b[b["force"].isin(forces)]
    if months is not None:
        m = pd.to_datetime(b["month"]).dt.date
        b = b[((m >= months[0]) & (m <= months[1])).to_numpy()]
    codes = b.loc[b["count"] > 0, "code"]
    return sorted(set(codes) - set(SPECIAL))


def quarter_change(store: Store, level: str, *, quarter: str | None = None, codes: list[str] | None = None,
                   alpha: float = 0.05) -> pd.DataFrame:
    """This quarter vs the previous one per area and crime type, with exact Poisson tests and BH (analyst).

    ``quarter`` is ``YYYY-Qn`` (default: the latest complete quarter with a complete quarter before it).
    Returns ``code, crime_type, previous, current, change, ratio, p, q, flag``.
    """
    from geo.change import poisson_change

    months = loaded_months(store)
    per = _periods(months)
    qs = sorted(k for k in per if "-Q" in k)
    if quarter is None:
        pairs = [(a, b) for a, b in zip(qs, qs[1:], strict=False) if _q_next(a) == b]
        if not pairs:
            raise InputError("quarter-on-quarter change needs two consecutive complete quarters loaded; "
                             f"loaded months: {', '.join(month_label(m) for m in months) or 'none'}", param="quarter")
        prev_q, cur_q = pairs[-1]
    else:
        cur_q = quarter
        prev_q = _q_prev(quarter)
        if cur_q not in per or prev_q not in per:
            raise InputError(f"quarter {quarter!r} or the one before it is not completely loaded; expected one of "
                             f"{', '.join(qs[1:]) or 'none'}", param="quarter")
    b = base_counts(store, level)
    b = b[b["crime_type"].isin(CRIME_TYPES)]
    if codes is not None:
        b = b[b["code"].isin(codes)]
    b = b[~b["code"].isin(SPECIAL)]
    mon = pd.to_datetime(b["month"]).dt.date
    b = b.assign(q=np.where(mon.isin(per[cur_q]), cur_q, np.where(mon.isin(per[prev_q]), prev_q, None)))
    t = b.dropna(subset=["q"]).pivot_table(index=["code", "crime_type"], columns="q", values="count",
                                           aggfunc="sum", fill_value=0)
    for c in (prev_q, cur_q):
        if c not in t:
            t[c] = 0
    res = poisson_change(t[prev_q].to_numpy(), t[cur_q].to_numpy(), alpha=alpha)
    res.insert(0, "crime_type", t.index.get_level_values(1))
    res.insert(0, "code", t.index.get_level_values(0))
    res.attrs.update(previous=prev_q, current=cur_q)
    return res


def _q_next(q: str) -> str:
    y, n = int(q[:4]), int(q[-1])
    return f"{y + 1}-Q1" if n == 4 else f"{y}-Q{n + 1}"


def _q_prev(q: str) -> str:
    y, n = int(q[:4]), int(q[-1])
    return f"{y - 1}-Q4" if n == 1 else f"{y}-Q{n - 1}"


def parish_via_wards(store: Store, parish: str, *, months=None, crime_types=None) -> pd.DataFrame:
    """Summarise a parish through the ward(s) the ONS parish→ward lookup links it to (approximate).

    For use when no parish polygons are loaded: returns the ward rows with ``approximate=True``.
    """
    p2w = lookups.parish_to_ward()
    wards = p2w.loc[p2w["parish"] == parish, "ward"].unique().tolist()
    if not wards:
        raise NotFoundError(f"parish {parish!r} is not in the ONS parish→ward lookup (2019); expected an E04/W04 "
                            f"code", param="code")
    t = aggregate(store, "ward", months=months, crime_types=crime_types, codes=wards, geometry=False)
    t["approximate"] = True
    t.attrs["notice"] = (f"Parish {parish} summarised through its ward(s) {', '.join(wards)}: approximate, the wards "
                         f"extend beyond the parish.")
    return t
