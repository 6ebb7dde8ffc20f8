"""Read ONS boundary files (GeoJSON, gzip GeoJSON, GeoPackage, Shapefile) into a clean layer.

A layer is a GeoDataFrame ``code, name, geometry`` in EPSG:4326 plus metadata: the level, the vintage
(read off the code field, e.g. ``WD19CD`` → 2019), the source file, whether the polygons are approximate,
and how many invalid polygons were repaired with ``shapely.make_valid``.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from geo.errors import InputError
from geo.record import POLYGON_LEVELS

#: GSS prefixes a level's codes may have.
LEVEL_PREFIXES = {
    "parish": ("E04", "W04", "E43"),
    "ward": ("E05", "W05", "S13", "N08"),
    "lsoa": ("E01", "W01"),
    "lad": ("E06", "E07", "E08", "E09", "W06", "S12", "N09"),
    "csp": ("E22", "W22"),
    "pfa": ("E23", "W15"),
}
#: code/name field patterns per level, most specific first; {yy} is a two-digit year
_FIELDS = {
    "parish": [("PAR{yy}CD", "PAR{yy}NM"), ("par{yy}_code", "par{yy}_name"), ("id", "PAR{yy}NM")],
    "ward": [("WD{yy}CD", "WD{yy}NM"), ("ward{yy}_code", "ward{yy}_name")],
    "lsoa": [("LSOA{yy}CD", "LSOA{yy}NM"), ("lsoa{yy}_code", "lsoa{yy}_name")],
    "lad": [("LAD{yy}CD", "LAD{yy}NM"), ("ltla{yy}_code", "ltla{yy}_name"), ("lad{yy}_code", "lad{yy}_name")],
    "csp": [("CSP{yy}CD", "CSP{yy}NM"), ("csp{yy}_code", "csp{yy}_name")],
    "pfa": [("PFA{yy}CD", "PFA{yy}NM"), ("pfa{yy}_code", "pfa{yy}_name")],
}
APPROXIMATE_NOTICE = (
    "Approximate boundary: parish polygons rebuilt from 2011 Census Output Areas (ONS codes), not the legal "
    "parish line; about 11 % of small parishes are missing and merged into a neighbour."
)


def _year_of(field: str) -> int | None:
    m = re.search(r"(\d{2})(?:CD|NM|_code|_name)$", field, flags=re.I)
    return 2000 + int(m.group(1)) if m else None


def detect_fields(columns, level: str) -> tuple[str, str | None, int | None]:
    """Find the code and name fields of a boundary file for a level, and the vintage they state.

    Examples
    --------
    >>> detect_fields(["WD19CD", "WD19NM", "LAD19CD"], "ward")
    ('WD19CD', 'WD19NM', 2019)
    >>> detect_fields(["id", "PAR22NM"], "parish")
    ('id', 'PAR22NM', 2022)
    >>> detect_fields(["lsoa11_code", "lsoa11_name"], "lsoa")
    ('lsoa11_code', 'lsoa11_name', 2011)
    """
    cols = list(columns)
    for code_pat, name_pat in _FIELDS[level]:
        rx = re.compile("^" + code_pat.replace("{yy}", r"(\d{2})") + "$", re.I)
        for c in cols:
            m = rx.match(c)
            if not m and "{yy}" not in code_pat and c.lower() == code_pat.lower():
                m = True
            if m:
                names = [n for n in cols if re.match("^" + name_pat.replace("{yy}", r"\d{2}") + "$", n, re.I)]
                name = names[0] if names else None
                year = _year_of(c) or (_year_of(name) if name else None)
                return c, name, year
    raise InputError(
        f"no {level} code field among {', '.join(cols[:12])}; expected e.g. "
        f"{_FIELDS[level][0][0].replace('{yy}', '19')} (or give --code-field)",
        param="code_field",
    )


def read_boundary_file(path: str | Path, level: str, *, code_field: str | None = None,
                       name_field: str | None = None, approximate: bool | None = None) -> tuple[gpd.GeoDataFrame, dict]:
    """Read a boundary file for ``level`` into (``code, name, geometry`` in EPSG:4326, metadata).

    Raises InputError for a missing file, an unreadable one, a missing CRS, non-polygon geometry, a missing
    code field or codes that are not GSS codes of the level.
    """
    if level not in POLYGON_LEVELS:
        raise InputError(f"level {level!r} cannot be loaded from a boundary file; expected one of "
                         f"{', '.join(POLYGON_LEVELS)}", param="level")
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file; expected a GeoJSON, .geojson.gz, GeoPackage or Shapefile", param="path")
    src = f"/vsigzip/{p}" if p.suffix == ".gz" else str(p)
    try:
        gdf = gpd.read_file(src, engine="pyogrio")
    except Exception as e:  # noqa: BLE001 - any GDAL failure is an unreadable file
        raise InputError(f"{p}: not a readable boundary file ({str(e)[:120]}); expected GeoJSON, .geojson.gz, "
                         f"GeoPackage or Shapefile", param="path") from None
    if gdf.crs is None:
        raise InputError(f"{p}: file has no CRS; expected one (EPSG:4326, CRS84 or EPSG:27700)", param="path")
    if len(gdf) == 0:
        raise InputError(f"{p}: file has no features; expected {level} polygons", param="path")
    kinds = set(gdf.geom_type.dropna().unique())
    if not kinds <= {"Polygon", "MultiPolygon"}:
        raise InputError(f"{p}: geometry types {', '.join(sorted(kinds))}; expected Polygon or MultiPolygon",
                         param="path")
    if code_field is None:
        code_field, detected_name, year = detect_fields(gdf.columns, level)
    else:
        if code_field not in gdf.columns:
            raise InputError(f"{p}: no field {code_field!r}; fields are {', '.join(map(str, gdf.columns[:15]))}",
                             param="code_field")
        detected_name, year = None, _year_of(code_field)
    name_field = name_field or detected_name
    if name_field is not None and name_field not in gdf.columns:
        raise InputError(f"{p}: no field {name_field!r}; fields are {', '.join(map(str, gdf.columns[:15]))}",
                         param="name_field")
    codes = gdf[code_field].astype(str).str.strip()
    bad = ~codes.str.startswith(LEVEL_PREFIXES[level])
    if bad.mean() > 0.5:
        raise InputError(f"{p}: field {code_field} holds {codes.iloc[0]!r}…, not {level} codes; expected GSS codes "
                         f"starting {'/'.join(LEVEL_PREFIXES[level])}", param="code_field")
    crs_in = gdf.crs.to_string()
    gdf = gdf.to_crs("EPSG:4326")
    geoms = gdf.geometry.values
    invalid = ~shapely.is_valid(np.asarray(geoms))
    repaired = int(invalid.sum())
    if repaired:
        fixed = shapely.make_valid(np.asarray(geoms)[invalid])
        # make_valid can return collections: keep their polygonal part
        fixed = np.array([_polygonal(g) for g in fixed], dtype=object)
        geoms = np.asarray(geoms).copy()
        geoms[invalid] = fixed
    names = gdf[name_field].astype(str).where(gdf[name_field].notna(), None) if name_field else None
    layer = gpd.GeoDataFrame(
        {"code": codes.to_numpy(dtype=object),
         "name": (names.to_numpy(dtype=object) if names is not None else np.full(len(gdf), None, dtype=object))},
        geometry=gpd.GeoSeries(geoms, crs="EPSG:4326"), crs="EPSG:4326",
    )
    layer = layer[~bad.to_numpy()]
    dropped = int(bad.sum())
    if layer["code"].duplicated().any():  # a code split over several features: one multipolygon per code
        layer = layer.dissolve(by="code", aggfunc="first", as_index=False)[["code", "name", "geometry"]]
    if approximate is None:
        oa_built = code_field == "id" and bool(name_field and name_field.upper().startswith("PAR"))
        approximate = level == "parish" and oa_built
    meta = {
        "level": level, "vintage": year, "source": p.name, "code_field": code_field, "name_field": name_field,
        "features": int(len(layer)), "repaired": repaired, "dropped_codes": dropped, "crs_in": crs_in,
        "approximate": bool(approximate), "notice": APPROXIMATE_NOTICE if approximate else None,
        "loaded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    return layer.reset_index(drop=True), meta


def _polygonal(g):
    if g.geom_type in ("Polygon", "MultiPolygon"):
        return g
    parts = [p for p in getattr(g, "geoms", []) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()
