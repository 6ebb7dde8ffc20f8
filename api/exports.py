"""Write aggregate tables to files people open: GeoJSON (RFC 7946), GeoPackage, CSV, GeoParquet.

The format follows the file extension. Attribution and metadata never go in a CSV body: they go in a
``FILE.meta.json`` sidecar (CSV, GeoJSON, GeoParquet) or the GeoPackage's metadata table.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import InputError

ATTRIBUTION = [
    "Contains public sector information licensed under the Open Government Licence v3.0.",
    "Source: Office for National Statistics licensed under the Open Government Licence v.3.0. "
    "Contains OS data © Crown copyright and database right.",
]
STATIONS_ATTRIBUTION = "Railway stations: © davwheat/uk-railway-stations (Trainline EU data), Open Database License."
FORMATS = {".geojson": "geojson", ".json": "geojson", ".gpkg": "gpkg", ".csv": "csv", ".parquet": "parquet"}


def output_format(path: str | Path) -> str:
    """The export format for a file name, from its extension.

    Examples
    --------
    >>> output_format("wards.gpkg")
    'gpkg'
    """
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        raise InputError(f"output {Path(path).name!r} has extension {ext or '(none)'}; expected one of "
                         f"{', '.join(sorted(set(FORMATS) - {'.json'}))}", param="out")
    return FORMATS[ext]


def rfc7946(gdf: gpd.GeoDataFrame, precision: int = 6) -> gpd.GeoDataFrame:
    """WGS84, exterior rings counter-clockwise (right-hand rule), coordinates rounded to ``precision`` decimals.

    Examples
    --------
    >>> g = gpd.GeoDataFrame(geometry=[shapely.Polygon([(0, 0), (0, 1), (1, 1), (1, 0)])], crs=4326)
    >>> bool(shapely.is_ccw(rfc7946(g).geometry.iloc[0].exterior))
    True
    """
    g = gdf.to_crs("EPSG:4326") if gdf.crs is not None and gdf.crs.to_epsg() != 4326 else gdf.copy()
    geoms = np.asarray(g.geometry.values, dtype=object)
    ok = np.array([x is not None and not x.is_empty for x in geoms], dtype=bool)
    if ok.any():
        fixed = shapely.set_precision(np.asarray(list(geoms[ok])), 10 ** -precision)
        fixed = shapely.orient_polygons(fixed, exterior_cw=False) if hasattr(shapely, "orient_polygons") else \
            np.array([shapely.geometry.polygon.orient(f, 1.0) if f.geom_type == "Polygon" else f for f in fixed])
        geoms = geoms.copy()
        geoms[ok] = fixed
    g = g.set_geometry(gpd.GeoSeries(geoms, index=g.index, crs="EPSG:4326"))
    return g


def clean_value(v):
    """JSON-safe value: NaN/inf → None, numpy scalars → Python.

    Examples
    --------
    >>> clean_value(float("nan")) is None, clean_value(np.int64(3))
    (True, 3)
    """
    if v is None:
        return None
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    if v is pd.NA or v is pd.NaT:
        return None
    return v


def to_feature_collection(gdf: gpd.GeoDataFrame, meta: dict | None = None, precision: int = 6) -> dict:
    """An RFC 7946 FeatureCollection dict (no NaN/infinity; nulls for missing values)."""
    g = rfc7946(gdf, precision) if len(gdf) else gdf
    props = [c for c in g.columns if c != g.geometry.name]
    feats = []
    geo_json = shapely.to_geojson(np.asarray(g.geometry.values, dtype=object)) if len(g) else []
    for i, row in enumerate(g[props].itertuples(index=False, name=None)):
        gj = geo_json[i]
        feats.append({"type": "Feature", "properties": {k: clean_value(v) for k, v in zip(props, row, strict=True)},
                      "geometry": json.loads(gj) if gj is not None else None})
    fc = {"type": "FeatureCollection", "features": feats}
    if meta:
        fc["metadata"] = {k: clean_value(v) for k, v in meta.items()}
    return fc


def write_table(gdf: gpd.GeoDataFrame | pd.DataFrame, path: str | Path, meta: dict) -> Path:
    """Write an aggregate (or hot-spot) table to ``path``; format from the extension; metadata beside it."""
    path = Path(path)
    fmt = output_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = dict(meta, attribution=ATTRIBUTION + list(meta.get("extra_attribution", [])))
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        if fmt == "csv":
            frame = pd.DataFrame(gdf.drop(columns=[gdf.geometry.name]) if isinstance(gdf, gpd.GeoDataFrame) else gdf)
            frame.to_csv(tmp, index=False)
        elif fmt == "geojson":
            g = gdf if isinstance(gdf, gpd.GeoDataFrame) else gpd.GeoDataFrame(gdf, geometry=[None] * len(gdf),
                                                                                crs="EPSG:4326")
            tmp.write_text(json.dumps(to_feature_collection(g), separators=(",", ":")))
        elif fmt == "parquet":
            gdf.to_parquet(tmp, index=False)
        else:
            g = gdf if isinstance(gdf, gpd.GeoDataFrame) else gpd.GeoDataFrame(gdf, geometry=[None] * len(gdf),
                                                                                crs="EPSG:4326")
            g = g[g.geometry.notna()] if g.geometry.notna().any() else g
            layer = str(meta.get("layer", "crimemap"))
            g.to_file(tmp, driver="GPKG", layer=layer, engine="pyogrio",
                      metadata={"crimemap": json.dumps(meta, default=str)})
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    if fmt != "gpkg":
        side = path.with_name(path.name + ".meta.json")
        side.write_text(json.dumps({k: clean_value(v) for k, v in meta.items()}, indent=1, default=str))
    return path
