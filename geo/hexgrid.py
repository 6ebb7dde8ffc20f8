"""H3 hexagons: points to cells, parents, and cells to polygons (h3-py v4)."""

from __future__ import annotations

import h3
import h3.api.basic_int
import numpy as np
import pandas as pd
import shapely

from geo.assign import UNLOCATED, distinct_xy


def points_to_h3(lon, lat, resolution: int) -> np.ndarray:
    """H3 cell (string) of each lon/lat point; None where a coordinate is missing. Each distinct point is indexed once.

    Examples
    --------
    >>> points_to_h3([-2.4497, float("nan")], [52.6766, 52.0], 9).tolist()
    ['89195c462d7ffff', None]
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    ok = np.isfinite(lon) & np.isfinite(lat)
    out = np.full(lon.shape, None, dtype=object)
    if not ok.any():
        return out
    # police.uk snaps offences to a fixed set of points: index each distinct point once and map back
    x, y = lon[ok], lat[ok]
    codes, first = distinct_xy(x, y)
    cells = cells_to_hex(xy_to_cells(x[first], y[first], resolution)).astype(str).astype(object)
    out[ok] = cells[codes]
    return out


def xy_to_cells(lon, lat, resolution: int) -> np.ndarray:
    """H3 cell (as uint64) of each lon/lat point, all finite; one call of h3 per point, no string made.

    Examples
    --------
    >>> cells_to_hex(xy_to_cells([-2.4497], [52.6766], 9)).tolist()
    [b'89195c462d7ffff']
    """
    f = h3.api.basic_int.latlng_to_cell
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    return np.fromiter(map(f, lat.tolist(), lon.tolist(), [resolution] * len(lon)), dtype=np.uint64, count=len(lon))


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def cells_to_hex(cells) -> np.ndarray:
    """The H3 strings of uint64 cells as fixed-width bytes (``S15``: a cell's leading hex digit is always 0 and is
    dropped, as ``h3.int_to_str`` does), formatted for the whole array at once.

    Examples
    --------
    >>> cells_to_hex(np.array([h3.str_to_int("8a195ad6bc8ffff")], dtype=np.uint64)).tolist()
    [b'8a195ad6bc8ffff']
    """
    c = np.ascontiguousarray(cells, dtype=np.uint64)
    if len(c) and int(c.max()) >> 60:
        raise ValueError("not H3 cells: the leading hex digit of a cell is 0")
    b = c.astype(">u8").view(np.uint8).reshape(-1, 8)
    out = np.empty((len(c), 16), dtype=np.uint8)
    out[:, 0::2], out[:, 1::2] = _HEX[b >> 4], _HEX[b & 15]
    return np.ascontiguousarray(out[:, 1:]).view("S15").ravel()


def cells_to_parent(cells, resolution: int) -> np.ndarray:
    """Parent of each cell at a coarser ``resolution`` (None stays None); computed once per distinct cell.

    Examples
    --------
    >>> cells_to_parent(["8a195ad6bc8ffff", None], 7).tolist()
    ['87195ad6bffffff', None]
    """
    arr = np.asarray(cells, dtype=object)
    ok = ~pd.isna(arr)
    out = np.full(arr.shape, None, dtype=object)
    if ok.any():
        uniq, inv = np.unique(arr[ok].astype(str), return_inverse=True)
        parents = np.array([h3.cell_to_parent(u, resolution) for u in uniq], dtype=object)
        out[ok] = parents[inv]
    return out


def cells_at(cells, resolution: int) -> np.ndarray:
    """The cell at ``resolution`` of each stored resolution-10 cell (itself or its parent); ``"unlocated"`` where
    there is none. How every count by H3 level is keyed.

    Examples
    --------
    >>> cells_at(["8a195ad6bc8ffff", None], 7).tolist()
    ['87195ad6bffffff', 'unlocated']
    """
    arr = np.asarray(cells, dtype=object)
    code = arr if resolution == 10 else cells_to_parent(arr, resolution)
    return np.where(pd.isna(code), UNLOCATED, code).astype(object)


def cells_to_polygons(cells) -> np.ndarray:
    """Shapely polygons (lon/lat) of H3 cells.

    Examples
    --------
    >>> p = cells_to_polygons(["89195c462d7ffff"])[0]
    >>> p.geom_type, len(p.exterior.coords)
    ('Polygon', 7)
    """
    polys = []
    for c in cells:
        ring = [(lng, lat) for lat, lng in h3.cell_to_boundary(c)]
        polys.append(shapely.Polygon(ring))
    return np.array(polys, dtype=object)


def cell_area_km2(resolution: int) -> float:
    """Average area of an H3 cell at ``resolution`` in km².

    Examples
    --------
    >>> round(cell_area_km2(9), 3)
    0.105
    """
    return float(h3.average_hexagon_area(resolution, unit="km^2"))
