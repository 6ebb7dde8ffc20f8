"""Kernel density estimation of offences in EPSG:27700 (metres): a gridded surface, contours, point scores.

Kernels (``h`` the bandwidth, ``d`` the distance):

- ``quartic``: ``K(d) = 3 / (pi h^2) * (1 - d^2/h^2)^2`` for ``d < h``, else 0 (the crime-mapping default).
- ``gaussian``: ``K(d) = 1 / (2 pi h^2) * exp(-d^2 / (2 h^2))``, truncated at ``4 h`` (mass lost < 0.04 %).

Bandwidth rule (:func:`bandwidth_rule`, used when no bandwidth is given): ``h = 5 x cell size``, where the
default cell size is the shorter side of the points' extent (1st-99th percentile) / 150 (Chainey's rule of thumb, as
sfhotspot's automatic cell size), rounded to 10 m and at least 25 m. Hot-spot ranking on a grid of cells
(:func:`kde_at`) uses the rule ``h = 2 x centre spacing`` of that grid instead (see ``geo.evaluation``).

The grid surface is computed by binning the points onto the grid (each point to the cell that holds it) and
convolving with the kernel sampled at cell centres, normalised to sum 1 (FFT, ``scipy.signal.fftconvolve``),
so the surface integrates to the number of points exactly; the grid is padded by the kernel's reach so no
mass falls off the edge. Discretisation error: each point is moved at most half a cell diagonal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import signal
from scipy.spatial import cKDTree

from geo.errors import InputError

KERNELS = ("quartic", "gaussian")
_REACH = {"quartic": 1.0, "gaussian": 4.0}


def _kernel_values(d2: np.ndarray, h: float, kernel: str) -> np.ndarray:
    if kernel == "quartic":
        u = 1.0 - d2 / h**2
        return np.where(u > 0, 3.0 / (np.pi * h**2) * u**2, 0.0)
    return np.where(d2 <= (4 * h) ** 2, np.exp(-d2 / (2 * h**2)) / (2 * np.pi * h**2), 0.0)


def _check_kernel(kernel: str) -> str:
    k = str(kernel).lower()
    if k not in KERNELS:
        raise InputError(f"kernel {str(kernel)[:30]!r} is not one of {', '.join(KERNELS)}", param="kernel")
    return k


def _check_xy(xy) -> np.ndarray:
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    if not np.isfinite(xy).all():
        raise InputError("KDE points must have finite EPSG:27700 coordinates; received missing values", param="xy")
    return xy


def default_cell_size(xy) -> float:
    """Automatic cell size: shorter side of the points' extent / 150, rounded to 10 m, at least 25 m.

    The extent is the 1st to 99th percentile of each coordinate, so a few mis-located points far away do not
    blow the grid up.

    Examples
    --------
    >>> default_cell_size([[0, 0], [30_000, 60_000]])
    200.0
    """
    xy = _check_xy(xy)
    if len(xy) == 0:
        return 25.0
    side = float(np.min(np.percentile(xy, 99, axis=0) - np.percentile(xy, 1, axis=0)))
    return float(max(25.0, round(side / 150 / 10) * 10))


def bandwidth_rule(cell_size: float) -> float:
    """Default bandwidth for a surface of the given cell size: ``5 x cell size`` (metres).

    Examples
    --------
    >>> bandwidth_rule(100)
    500.0
    """
    if not cell_size > 0:
        raise InputError(
            f"cell size {cell_size!r} m is not usable; expected a positive number of metres", param="cell_size"
        )
    return 5.0 * float(cell_size)


@dataclass
class KDEGrid:
    """A density surface: ``density[row, col]`` in events per km^2, row 0 at ``y0`` (south)."""

    density: np.ndarray
    x0: float
    y0: float
    cell_size: float
    bandwidth: float
    kernel: str
    n_events: float

    def cell_counts(self) -> np.ndarray:
        """Expected events per cell (density x cell area); sums to ``n_events``."""
        return self.density * (self.cell_size**2 / 1e6)

    def to_frame(self, *, min_density: float = 0.0) -> pd.DataFrame:
        """Grid cells with density above ``min_density``: ``code, x, y, density, count`` (x, y cell centres)."""
        rows, cols = np.nonzero(self.density > min_density)
        return pd.DataFrame(
            {
                "code": [f"r{r}c{c}" for r, c in zip(rows, cols, strict=True)],
                "x": self.x0 + (cols + 0.5) * self.cell_size,
                "y": self.y0 + (rows + 0.5) * self.cell_size,
                "density": self.density[rows, cols],
                "count": self.cell_counts()[rows, cols],
            }
        )


def kde_grid(
    xy, *, cell_size: float | None = None, bandwidth: float | None = None, kernel: str = "quartic", weights=None
) -> KDEGrid:
    """Kernel density surface of points on a regular grid (FFT convolution of binned points).

    Parameters
    ----------
    xy : array-like, shape (n, 2)
        Point coordinates in EPSG:27700 metres.
    cell_size : float, optional
        Grid cell side in metres (default :func:`default_cell_size`).
    bandwidth : float, optional
        Kernel bandwidth in metres (default :func:`bandwidth_rule`).
    kernel : {"quartic", "gaussian"}
    weights : array-like, optional
        Events per point (default 1 each).

    Returns
    -------
    KDEGrid
        Density in events per km^2; ``cell_counts().sum()`` equals the number of events.

    Examples
    --------
    >>> g = kde_grid([[1000, 1000], [1050, 990], [3000, 2000]], cell_size=50, bandwidth=200)
    >>> round(float(g.cell_counts().sum()), 6)
    3.0
    """
    kernel = _check_kernel(kernel)
    xy = _check_xy(xy)
    w = np.ones(len(xy)) if weights is None else np.asarray(weights, dtype=float).ravel()
    if len(xy) == 0 or w.sum() <= 0:
        raise InputError("KDE needs at least one located offence; received none", param="xy")
    cs = float(cell_size) if cell_size is not None else default_cell_size(xy)
    if not cs > 0:
        raise InputError(
            f"cell size {cell_size!r} m is not usable; expected a positive number of metres", param="cell_size"
        )
    h = float(bandwidth) if bandwidth is not None else bandwidth_rule(cs)
    if not h > 0:
        raise InputError(
            f"bandwidth {bandwidth!r} m is not usable; expected a positive number of metres", param="bandwidth"
        )
    reach = int(np.ceil(_REACH[kernel] * h / cs))
    lo = np.floor(xy.min(axis=0) / cs) * cs - reach * cs
    hi = np.ceil(xy.max(axis=0) / cs) * cs + reach * cs
    nx, ny = int(round((hi[0] - lo[0]) / cs)) + 1, int(round((hi[1] - lo[1]) / cs)) + 1
    if nx * ny > 200_000_000:
        raise InputError(
            f"a {nx} x {ny} grid at {cs:g} m is too large; expected a coarser --cell-size", param="cell_size"
        )
    col = np.clip(((xy[:, 0] - lo[0]) // cs).astype(np.int64), 0, nx - 1)
    row = np.clip(((xy[:, 1] - lo[1]) // cs).astype(np.int64), 0, ny - 1)
    binned = np.bincount(row * nx + col, weights=w, minlength=nx * ny).reshape(ny, nx)
    off = np.arange(-reach, reach + 1) * cs
    d2 = off[None, :] ** 2 + off[:, None] ** 2
    ker = _kernel_values(d2, h, kernel)
    if ker.sum() <= 0:  # bandwidth far below the cell size: all mass stays in its cell
        ker = np.zeros_like(d2)
        ker[reach, reach] = 1.0
    ker = ker / ker.sum()
    counts = signal.fftconvolve(binned, ker, mode="same")
    counts = np.clip(counts, 0.0, None)  # FFT round-off
    counts *= w.sum() / counts.sum()
    return KDEGrid(counts / (cs**2 / 1e6), float(lo[0]), float(lo[1]), cs, h, kernel, float(w.sum()))


def kde_at(xy, targets, *, bandwidth: float, kernel: str = "quartic", weights=None) -> np.ndarray:
    """Exact kernel density (events per km^2) at target locations, by KD-tree (no grid).

    Used to score cells (H3 or polygon centroids) for ranking.

    Examples
    --------
    >>> d = kde_at([[0, 0], [0, 0]], [[0, 0], [500, 0]], bandwidth=100)
    >>> d.round(2).tolist()
    [190.99, 0.0]
    """
    kernel = _check_kernel(kernel)
    xy = _check_xy(xy)
    targets = _check_xy(targets)
    w = np.ones(len(xy)) if weights is None else np.asarray(weights, dtype=float).ravel()
    if not bandwidth > 0:
        raise InputError(
            f"bandwidth {bandwidth!r} m is not usable; expected a positive number of metres", param="bandwidth"
        )
    if len(xy) == 0 or len(targets) == 0:
        return np.zeros(len(targets))
    r = _REACH[kernel] * bandwidth
    pairs = cKDTree(targets).sparse_distance_matrix(cKDTree(xy), r, output_type="ndarray")  # keeps d = 0
    vals = _kernel_values(pairs["v"] ** 2, bandwidth, kernel) * w[pairs["j"]]
    return np.bincount(pairs["i"], weights=vals, minlength=len(targets)) * 1e6


#: densities below this share of the peak are FFT round-off (about 1e-12 over the whole padded grid), not offences
ROUNDOFF = 1e-9


def kde_contours(grid: KDEGrid, area_shares=(0.01, 0.05, 0.10)):
    """Contour polygons of the surface: for each share, the densest cells covering that share of the
    non-zero-density area, dissolved into (stepped, cell-edged) polygons in EPSG:27700.

    "Non-zero" means above :data:`ROUNDOFF` times the peak: FFT convolution leaves tiny positive values over the
    whole padded grid, which would otherwise make the shares cover the grid's box rather than where offences are.

    Returns
    -------
    geopandas.GeoDataFrame
        ``area_share, density_threshold, geometry`` (EPSG:27700), one (multi)polygon per share.

    Examples
    --------
    >>> g = kde_grid([[1000, 1000], [1010, 990], [3000, 2000]], cell_size=50, bandwidth=200)
    >>> c = kde_contours(g, [0.5])
    >>> c.crs.to_epsg(), bool(c.geometry.iloc[0].area > 0)
    (27700, True)
    """
    import geopandas as gpd
    import shapely

    dens = grid.density.ravel()
    nz = np.sort(dens[dens > ROUNDOFF * dens.max()])[::-1] if dens.size else dens
    rows = []
    for share in area_shares:
        take = max(1, int(np.floor(share * nz.size)))
        thr = float(nz[take - 1])
        r, c = np.nonzero(grid.density >= thr)
        x = grid.x0 + c * grid.cell_size
        y = grid.y0 + r * grid.cell_size
        boxes = shapely.box(x, y, x + grid.cell_size, y + grid.cell_size)
        rows.append({"area_share": float(share), "density_threshold": thr, "geometry": shapely.union_all(boxes)})
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:27700")


def lonlat_to_bng(lon, lat) -> np.ndarray:
    """Longitude/latitude (EPSG:4326) to British National Grid metres (EPSG:27700), shape (n, 2).

    Examples
    --------
    >>> lonlat_to_bng([-2.22], [52.19]).round(-2).tolist()
    [[385100.0, 254700.0]]
    """
    from pyproj import Transformer

    t = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
    x, y = t.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.column_stack([x, y])
