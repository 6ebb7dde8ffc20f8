"""The aggregate tables as the web service reads them: the caller's audience and the app's threshold applied,
colour classes added, and a projected copy with a spatial index kept for tiles.

Every route reads figures through here and nothing else aggregates, so GeoJSON, tiles, exports and pages agree
(and suppression is the aggregate's, never a template's).
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from api.auth import Principal
from api.deps import Filters, Services
from api.tiles import tile_properties
from data import aggregate as agg

#: number of colour classes (quantiles of offences per km²)
CLASSES = 5


def area_table(sv: Services, who: Principal, level: str, f: Filters, *, geometry: bool = True,
               by_month: bool = False, by_type: bool = False, codes: list[str] | None = None) -> gpd.GeoDataFrame:
    """``data.aggregate.aggregate`` for the caller (suppressed for the public), with a colour ``class`` column."""
    t = agg.aggregate(sv.store, level, months=f.months, crime_types=f.crime_types, bbox=f.bbox,
                      audience=who.audience, by_month=by_month, by_type=by_type, geometry=geometry,
                      threshold=sv.settings.threshold, codes=codes)
    t = t.copy()
    t["class"] = density_classes(t["per_km2"].to_numpy(dtype=float))
    return t


def density_classes(per_km2: np.ndarray, n: int = CLASSES) -> np.ndarray:
    """Quantile class (0 … n-1) of each value; NaN where the value is hidden or missing.

    Examples
    --------
    >>> density_classes(np.array([1.0, 2, 3, 4, 5, np.nan])).tolist()
    [0.0, 1.0, 2.0, 3.0, 4.0, nan]
    """
    ok = np.isfinite(per_km2)
    out = np.full(per_km2.shape, np.nan)
    if ok.any():
        ranks = pd.Series(per_km2[ok]).rank(method="average", pct=True).to_numpy()
        out[ok] = np.minimum(np.floor(ranks * n - 1e-9), n - 1).clip(0)
    return out


def class_breaks(table: pd.DataFrame, n: int = CLASSES) -> list[float]:
    """Upper bounds (offences per km²) of each class, for legends."""
    v = table["per_km2"].to_numpy(dtype=float)
    v = v[np.isfinite(v)]
    if not len(v):
        return []
    return [float(np.quantile(v, (i + 1) / n)) for i in range(n)]


@dataclass
class TileSource:
    """One layer's aggregate in Web Mercator with an STRtree, ready to cut tiles from."""

    frame: pd.DataFrame
    geoms: np.ndarray
    tree: shapely.STRtree
    _props: list[dict] | None = None

    @property
    def props(self) -> list[dict]:
        """Each row's tile properties, converted once (not once per tile)."""
        if self._props is None:
            self._props = tile_properties(self.frame)
        return self._props


def tile_source(sv: Services, who: Principal, level: str, f: Filters) -> TileSource:
    """The layer's aggregate for the caller, projected and indexed once per (store generation, role, filters)."""
    key = ("tiles", sv.store.location, sv.generation(), who.audience, level, f.key)

    def make() -> TileSource:
        t = area_table(sv, who, level, Filters(f.months, f.crime_types, None))
        t = t[t.geometry.notna().to_numpy()]
        geoms = t.to_crs("EPSG:3857").geometry.to_numpy()
        return TileSource(pd.DataFrame(t.drop(columns="geometry")).reset_index(drop=True), geoms,
                          shapely.STRtree(geoms))

    return sv.frames.get_or_make(key, make)
