"""Offences in flight: the Arrow table ingest passes from the readers through assignment to the store.

Ingest speed is decided by how often a million strings are converted between Python objects and Arrow, so the
readers build an Arrow table and the embedded store writes it without a pandas round trip. A *batch* is a
``pyarrow.Table`` with the canonical columns (``geo.record.COLUMNS``, ``month`` as ``timestamp[us]``), ``h3_10``,
and the location as two float64 columns ``lon`` and ``lat`` (EPSG:4326; null for an unlocated offence) instead of
geometry objects. Readers may add ``source_line``; stores ignore columns they do not keep.

On disk (embedded store) the location becomes a GeoParquet 1.1 geometry column in the native ``point``
encoding (``struct<x: double, y: double>``), which needs no per-row geometry object to write or read;
``geopandas.read_parquet`` reads it like any GeoParquet file.
"""

from __future__ import annotations

import datetime  # noqa: F401  (doctests)
import datetime as dt
import json
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyproj
import shapely

from data.store import H3_COLUMN
from geo.record import COLUMNS

CRS = "EPSG:4326"
_CRS_JSON = pyproj.CRS(CRS).to_json_dict()
#: Arrow type of each canonical column in a batch.
SCHEMA = pa.schema(
    [pa.field(c, pa.timestamp("us") if c == "month" else pa.string()) for c in COLUMNS]
    + [pa.field(H3_COLUMN, pa.string()), pa.field("lon", pa.float64()), pa.field("lat", pa.float64())]
)
POINT = pa.struct([pa.field("x", pa.float64(), nullable=False), pa.field("y", pa.float64(), nullable=False)])


def empty() -> pa.Table:
    """A batch with no offences."""
    return SCHEMA.empty_table()


def conform(table: pa.Table, *, extra: tuple[str, ...] = ()) -> pa.Table:
    """``table`` with the batch columns in order and type (missing ones null), plus the ``extra`` columns it has."""
    cols, fields = [], []
    for f in SCHEMA:
        col = table.column(f.name) if f.name in table.column_names else pa.nulls(len(table), f.type)
        cols.append(col.cast(f.type) if col.type != f.type else col)
        fields.append(f)
    for name in extra:
        if name in table.column_names:
            cols.append(table.column(name))
            fields.append(table.schema.field(name))
    return pa.Table.from_arrays(cols, schema=pa.schema(fields))


def from_frame(frame: gpd.GeoDataFrame) -> pa.Table:
    """A batch from a canonical GeoDataFrame (points in EPSG:4326; None for unlocated offences).

    Examples
    --------
    >>> import shapely
    >>> f = gpd.GeoDataFrame({"offence_id": ["a", "b"], "month": pd.to_datetime(["2019-01-01"] * 2)},
    ...                      geometry=[shapely.Point(-2.5, 52.7), None], crs=4326)
    >>> t = from_frame(f)
    >>> t.column("lon").to_pylist(), t.column("lat").to_pylist(), t.column("force").null_count
    ([-2.5, None], [52.7, None], 2)
    """
    n = len(frame)
    geoms = np.asarray(frame.geometry.values if "geometry" in frame else np.full(n, None), dtype=object)
    lon, lat = np.full(n, np.nan), np.full(n, np.nan)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if ok.any():
        if not (shapely.get_type_id(geoms[ok]) == 0).all():
            raise ValueError("offence geometries must be points")
        lon[ok], lat[ok] = shapely.get_x(geoms[ok]), shapely.get_y(geoms[ok])
    plain = pd.DataFrame({c: frame[c] for c in frame.columns if c in SCHEMA.names and c not in ("lon", "lat")})
    if "month" in plain:
        plain["month"] = pd.to_datetime(plain["month"]).astype("datetime64[us]")
    for c in plain.columns:
        if c != "month":
            plain[c] = plain[c].astype(object).where(plain[c].notna(), None)
    table = pa.Table.from_pandas(plain, preserve_index=False)
    table = table.append_column("lon", pa.array(lon, mask=~ok)).append_column("lat", pa.array(lat, mask=~ok))
    return conform(table)


def to_frame(table: pa.Table) -> gpd.GeoDataFrame:
    """The canonical GeoDataFrame of a batch (``geometry`` from lon/lat; other columns as they are)."""
    lon = table.column("lon").to_numpy(zero_copy_only=False).astype(float)
    lat = table.column("lat").to_numpy(zero_copy_only=False).astype(float)
    ok = np.isfinite(lon) & np.isfinite(lat)
    geoms = np.full(len(table), None, dtype=object)
    if ok.any():
        from geo.assign import distinct_xy  # one Point per distinct location, shared by its offences

        codes, first = distinct_xy(lon[ok], lat[ok])
        geoms[ok] = shapely.points(lon[ok][first], lat[ok][first])[codes]
    rest = table.drop_columns(["lon", "lat"])
    frame = pd.DataFrame({  # strings as Python objects with None for null, as the rest of the code expects
        name: col.to_numpy(zero_copy_only=False) if not pa.types.is_timestamp(col.type) else col.to_pandas()
        for name, col in zip(rest.column_names, rest.columns, strict=True)
    })
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=CRS), crs=CRS)


def storage_table(table: pa.Table, keep: list[str]) -> pa.Table:
    """The GeoParquet form of a batch: the ``keep`` columns and a native-point ``geometry`` column, with metadata."""
    lon, lat = table.column("lon").combine_chunks(), table.column("lat").combine_chunks()
    valid = pc.and_(pc.is_valid(lon), pc.is_valid(lat))
    mask = pc.invert(valid).to_numpy(zero_copy_only=False)
    x = pc.fill_null(lon, 0.0).to_numpy(zero_copy_only=False)
    y = pc.fill_null(lat, 0.0).to_numpy(zero_copy_only=False)
    geometry = pa.StructArray.from_arrays([pa.array(x), pa.array(y)], fields=list(POINT), mask=pa.array(mask))
    out = table.select(keep).append_column(pa.field("geometry", POINT), geometry)
    return out.replace_schema_metadata({b"geo": geo_metadata(x[~mask], y[~mask])})


def geo_metadata(x: np.ndarray, y: np.ndarray) -> bytes:
    """GeoParquet 1.1 file metadata for a native-point geometry column with these coordinates."""
    bbox = [float(x.min()), float(y.min()), float(x.max()), float(y.max())] if len(x) else None
    column = {"encoding": "point", "geometry_types": ["Point"], "crs": _CRS_JSON}
    if bbox is not None and all(math.isfinite(v) for v in bbox):
        column["bbox"] = bbox
    return json.dumps({"version": "1.1.0", "primary_column": "geometry", "columns": {"geometry": column}}).encode()


def from_storage(table: pa.Table) -> pa.Table:
    """A stored offences table back in batch form (lon/lat from the native-point or WKB geometry column)."""
    g = table.column("geometry").combine_chunks()
    if pa.types.is_struct(g.type):
        lon = pc.if_else(g.is_valid(), pc.struct_field(g, "x"), None)
        lat = pc.if_else(g.is_valid(), pc.struct_field(g, "y"), None)
    else:  # WKB, as written by earlier versions of the store
        geoms = shapely.from_wkb(g.to_numpy(zero_copy_only=False))
        valid = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        xs, ys = np.full(len(geoms), np.nan), np.full(len(geoms), np.nan)
        xs[valid], ys[valid] = shapely.get_x(geoms[valid]), shapely.get_y(geoms[valid])
        lon, lat = pa.array(xs, mask=~valid), pa.array(ys, mask=~valid)
    return conform(table.drop_columns(["geometry"]).append_column("lon", lon).append_column("lat", lat))


def force_months(table: pa.Table) -> tuple[np.ndarray, dict[tuple[str, dt.date], tuple[int, int]]]:
    """Row order grouping a table (with ``force`` and ``month`` columns) by force-month, and each force-month's run.

    Returns ``(order, runs)``: the rows of (force, month) are ``order[a:b]`` for ``(a, b) = runs[(force, month)]``
    (``month`` a ``datetime.date``); within a run rows keep their order. One stable sort of integer codes.

    Examples
    --------
    >>> t = pa.table({"force": ["b", "a", "b"], "month": pa.array([0, 0, 0], pa.timestamp("us"))})
    >>> order, runs = force_months(t)
    >>> order.tolist(), sorted(runs.items())
    ([1, 0, 2], [(('a', datetime.date(1970, 1, 1)), (0, 1)), (('b', datetime.date(1970, 1, 1)), (1, 3))])
    """
    if not len(table):
        return np.zeros(0, dtype=np.int64), {}
    force, fidx = _encoded(table.column("force"))
    month, midx = _encoded(table.column("month"))
    fnames = force.to_pylist()
    fsorted = np.argsort(np.array(fnames, dtype=object))  # codes in (force name, month) order
    frank = np.empty(len(fnames), dtype=np.int64)
    frank[fsorted] = np.arange(len(fnames))
    mvals = month.to_numpy(zero_copy_only=False)
    mrank = np.empty(len(mvals), dtype=np.int64)
    mrank[np.argsort(mvals)] = np.arange(len(mvals))
    nm = len(mvals)
    code = frank[fidx] * nm + mrank[midx]
    # ingest concatenates files in force-month order, so the rows are usually grouped already
    grouped = bool((code[1:] >= code[:-1]).all())
    order = np.arange(len(code)) if grouped else np.argsort(code, kind="stable")
    bounds = np.searchsorted(code if grouped else code[order], np.arange(len(fnames) * nm + 1))
    months = [m.date() if hasattr(m, "date") else m for m in month.to_pylist()]
    runs = {}
    for fi, name in enumerate(fnames):
        for mi, m in enumerate(months):
            j = frank[fi] * nm + mrank[mi]
            if bounds[j + 1] > bounds[j]:
                runs[(name, m)] = (int(bounds[j]), int(bounds[j + 1]))
    return order, runs


def _encoded(column) -> tuple[pa.Array, np.ndarray]:
    """(distinct values, each row's position among them) of a column, chunk by chunk (a batch's chunks are its
    files, each mostly one value: cheaper than combining the chunks first)."""
    col = pa.chunked_array(column) if not isinstance(column, pa.ChunkedArray) else column
    if col.num_chunks == 0:
        return pa.array([], col.type), np.zeros(0, dtype=np.int64)
    enc = pc.dictionary_encode(col).unify_dictionaries()
    idx = np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in enc.chunks]).astype(np.int64)
    return enc.chunks[0].dictionary, idx


def located(table: pa.Table) -> np.ndarray:
    """Which offences of a batch have a location."""
    return pc.and_(pc.is_valid(table.column("lon")), pc.is_valid(table.column("lat"))).to_numpy(zero_copy_only=False)


def repeated(strings) -> np.ndarray:
    """Which values of a string column occur more than once (every occurrence marked), *or* share a 64-bit hash
    with another value: a superset of the repeats, for an exact test of those few rows.

    Offence ids are nearly always 64 hex digits (police.uk Crime IDs and the readers' sha256 ids): when every
    value has one length, each chunk's values are hashed straight from its Arrow buffers, eight bytes at a time,
    with no Python string made and no copy of the column; other columns go through a dictionary encoding.

    Examples
    --------
    >>> repeated(pa.array(["ab", "cd", "ab", None])).tolist()
    [True, False, True, False]
    """
    chunks = [strings] if isinstance(strings, pa.Array) else list(pa.chunked_array(strings).chunks)
    n = sum(len(c) for c in chunks)
    if n == 0:
        return np.zeros(0, dtype=bool)
    hashes = [_hash_fixed_width(c) for c in chunks]
    if all(h is not None for h in hashes):
        h = np.concatenate(hashes)
        s = np.sort(h)
        again = np.unique(s[1:][s[1:] == s[:-1]])  # hashes seen twice or more (few)
        if not len(again):
            return np.zeros(n, dtype=bool)
        at = np.minimum(np.searchsorted(again, h), len(again) - 1)  # (np.isin sorts all n hashes again)
        return again[at] == h
    # large_string: one array of more than 2 GB of ids (about 33M of 64 characters) would overflow string offsets
    a = pa.chunked_array(chunks, type=chunks[0].type).cast(pa.large_string()).combine_chunks()
    codes = pc.dictionary_encode(a).indices.to_numpy(zero_copy_only=False)
    out = pd.Series(codes).duplicated(keep=False).to_numpy()
    return out & ~pc.is_null(a).to_numpy(zero_copy_only=False)


_MIX = np.uint64(0x9E3779B97F4A7C15)


def _hash_fixed_width(a: pa.Array) -> np.ndarray | None:
    """A 64-bit hash of each value of a string array whose values all have one length, a multiple of 8 bytes
    (None otherwise, or when a value is null): a multiply-xor of the value's 8-byte words, read in place."""
    if len(a) == 0:
        return np.zeros(0, dtype=np.uint64)
    if a.null_count or a.type not in (pa.string(), pa.large_string()):
        return None
    wide = a.type == pa.large_string()
    offsets = np.frombuffer(a.buffers()[1], dtype=np.int64 if wide else np.int32, count=len(a) + 1,
                            offset=a.offset * (8 if wide else 4))
    width = int(offsets[1] - offsets[0])
    if width < 8 or width % 8 or int(offsets[-1] - offsets[0]) != width * len(a) or (np.diff(offsets) != width).any():
        return None
    words = np.frombuffer(a.buffers()[2], dtype=np.uint8, count=len(a) * width, offset=int(offsets[0]))
    words = words.view(np.uint64).reshape(len(a), width // 8)  # numpy reads unaligned words too
    with np.errstate(over="ignore"):
        h = words[:, 0].copy()
        for j in range(1, words.shape[1]):
            h *= _MIX
            h ^= words[:, j]
        h ^= h >> np.uint64(29)
        h *= _MIX
        h ^= h >> np.uint64(32)
    return h


def keep_rows(table: pa.Table, mask: np.ndarray) -> pa.Table:
    """The rows of ``table`` where ``mask`` is True; ``table`` itself when every row is kept, zero-copy slices of
    it when only a few rows go, else a filter column by column (``Table.filter`` on a table of many chunks is
    several times slower).

    Examples
    --------
    >>> keep_rows(pa.table({"a": [1, 2, 3]}), np.array([True, False, True])).column("a").to_pylist()
    [1, 3]
    >>> keep_rows(pa.table({"a": list(range(2000))}), np.arange(2000) % 2 == 0).column("a").to_pylist()[-2:]
    [1996, 1998]
    """
    if mask.all():
        return table
    drop = np.flatnonzero(~mask)
    if len(drop) <= 1000:  # a few rows go (duplicates, typically): the runs between them, as zero-copy slices
        starts, ends = np.r_[0, drop + 1], np.r_[drop, len(mask)]
        return pa.concat_tables([table.slice(a, b - a) for a, b in zip(starts, ends, strict=True) if b > a]
                                or [table.slice(0, 0)])
    keep = pa.array(mask)
    return pa.Table.from_arrays([c.filter(keep) for c in table.columns], schema=table.schema)
