"""Population denominators: apportion Census 2021 residents to other geographies, preserving totals."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd


def apportion_by_lookup(values: pd.Series, lookup: pd.DataFrame, source: str, target: str) -> pd.Series:
    """Share each source unit's value equally among the target units the lookup links it to.

    Splits and merges both work: a source linked to k targets gives each 1/k of its value, so the total
    over the targets equals the total over the sources that appear in the lookup.

    Examples
    --------
    >>> v = pd.Series({"new1": 100.0, "new2": 60.0})
    >>> lk = pd.DataFrame({"lsoa21": ["new1", "new2", "new2"], "lsoa11": ["old1", "old2", "old3"]})
    >>> apportion_by_lookup(v, lk, "lsoa21", "lsoa11").to_dict()
    {'old1': 100.0, 'old2': 30.0, 'old3': 30.0}
    """
    lk = lookup[[source, target]].drop_duplicates()
    k = lk.groupby(source)[target].transform("size")
    share = lk[source].map(values).astype(float) / k
    return share.groupby(lk[target]).sum()


def apportion_by_area(source: gpd.GeoDataFrame, value: str, target: gpd.GeoDataFrame, *,
                      crs: str = "EPSG:27700") -> pd.Series:
    """Share each source polygon's value among target polygons by area of overlap (in ``crs``).

    The total over the targets equals the source total times the share of source area the targets cover.

    Examples
    --------
    >>> import shapely
    >>> src = gpd.GeoDataFrame({"pop": [100.0]}, geometry=[shapely.box(0, 0, 2, 1)], crs=27700)
    >>> tgt = gpd.GeoDataFrame({"code": ["A", "B"]}, geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)],
    ...                        crs=27700)
    >>> apportion_by_area(src, "pop", tgt.set_index("code")).to_dict()
    {'A': 50.0, 'B': 50.0}
    """
    s = source.to_crs(crs)
    t = target.to_crs(crs)
    s_area = s.geometry.area.to_numpy()
    tree_idx_t, tree_idx_s = s.sindex.query(t.geometry.values, predicate="intersects")
    if len(tree_idx_t) == 0:
        return pd.Series(0.0, index=t.index)
    inter = t.geometry.values[tree_idx_t].intersection(s.geometry.values[tree_idx_s])
    frac = np.asarray(inter.area) / np.where(s_area[tree_idx_s] > 0, s_area[tree_idx_s], np.inf)
    vals = s[value].to_numpy(float)[tree_idx_s] * frac
    out = pd.Series(vals).groupby(np.asarray(t.index)[tree_idx_t]).sum()
    return out.reindex(t.index, fill_value=0.0)
