"""Spatial weights for hot spots: H3 k-ring neighbours and queen contiguity for polygon layers.

Weights are returned as a binary ``scipy.sparse.csr_matrix`` aligned with the input order, **without** the
self-weight (the diagonal is zero). Gi* adds the self-weight itself, exactly as esda's
``G_Local(star=True, transform="B")`` does (``fill_diagonal(w, 1)``), so the same matrix serves Gi and Gi*.
Only cells of the study area are neighbours of each other: a k-ring cell outside the list is ignored.
"""

from __future__ import annotations

import h3
import numpy as np
import pandas as pd
import scipy.sparse as sp

from geo.errors import InputError


def h3_kring_weights(cells, k: int = 1) -> sp.csr_matrix:
    """Binary k-ring contiguity among the given H3 cells (self excluded).

    Parameters
    ----------
    cells : sequence of str
        H3 cell indexes, all of one resolution (the study area).
    k : int, default 1
        Grid distance: cells within ``k`` steps are neighbours.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``n x n`` float matrix, 1 where cell j is within ``k`` of cell i and both are in ``cells``.

    Examples
    --------
    >>> c = h3.latlng_to_cell(52.19, -2.22, 9)
    >>> w = h3_kring_weights([c, *sorted(h3.grid_ring(c, 1))[:2]], k=1)
    >>> w.toarray().sum(axis=1).tolist()
    [2.0, 2.0, 2.0]
    """
    cells = [str(c) for c in cells]
    if k < 1:
        raise InputError(f"k-ring size k={k} is not usable; expected an integer of at least 1", param="k")
    pos = pd.Index(cells)
    if not pos.is_unique:
        raise InputError("H3 cells contain duplicates; expected each study-area cell once", param="cells")
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    disks = [h3.grid_disk(c, k) for c in cells]
    lengths = np.fromiter((len(d) for d in disks), dtype=np.int64, count=len(disks))
    flat = [n for d in disks for n in d]
    src = np.repeat(np.arange(len(cells)), lengths)
    dst = pos.get_indexer(flat) if flat else np.empty(0, dtype=np.int64)
    keep = (dst >= 0) & (dst != src)
    rows.append(src[keep])
    cols.append(dst[keep])
    r, c = np.concatenate(rows), np.concatenate(cols)
    return sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(len(cells), len(cells)))


def queen_weights(polygons) -> sp.csr_matrix:
    """Binary queen contiguity (shared edge or vertex) between polygons, via libpysal (self excluded).

    Parameters
    ----------
    polygons : geopandas.GeoDataFrame or GeoSeries
        Polygons of one level (the study area), in any CRS.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``n x n`` float matrix aligned with the row order of ``polygons``.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> sq = gpd.GeoSeries([box(0, 0, 1, 1), box(1, 0, 2, 1), box(3, 0, 4, 1)])
    >>> queen_weights(sq).toarray().tolist()
    [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    """
    import geopandas as gpd
    from libpysal.weights import Queen

    geoms = polygons if isinstance(polygons, gpd.GeoDataFrame) else gpd.GeoDataFrame(geometry=polygons)
    geoms = geoms.reset_index(drop=True)
    w = Queen.from_dataframe(geoms, use_index=True, silence_warnings=True)
    m = w.sparse.tocsr().astype(float)
    m.setdiag(0)
    m.eliminate_zeros()
    m.data[:] = 1.0
    return m


def to_libpysal(weights: sp.spmatrix, ids=None):
    """Wrap a sparse weights matrix as a libpysal ``W`` (to hand to esda).

    Examples
    --------
    >>> w = to_libpysal(sp.csr_matrix(np.array([[0, 1.0], [1.0, 0]])))
    >>> w.n, w.cardinalities
    (2, {0: 1, 1: 1})
    """
    from libpysal.weights import WSP

    return WSP(sp.csr_matrix(weights), id_order=list(ids) if ids is not None else None).to_W(silence_warnings=True)
