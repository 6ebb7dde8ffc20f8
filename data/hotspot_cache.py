"""Cache of hot-spot results keyed by their inputs, kept as named tables in the store.

The key is a SHA-256 of the method, level, months, crime types, parameters and seed, plus the store's data
vintage (:func:`data_vintage`: the ingest catalogue and the loaded layers' metadata), so a cached result is never
stale: new offences or a reloaded layer mean a new key. (Not ``Store.generation``: writing the cache entry
itself bumps that.)
The web layer reads results from here instead of re-running Gi* with permutations per request.
"""

from __future__ import annotations

import hashlib
import json

import pandas as pd

from data.store import Store

PREFIX = "hotspots_"


def data_vintage(store: Store) -> str:
    """A digest of what the results depend on: every ingest recorded and every loaded layer's metadata."""
    body = json.dumps({"ingests": store.ingests(), "layers": store.layers()}, sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def cache_key(store: Store, params: dict) -> str:
    """A stable key for ``params`` (JSON-serialisable) on the store's current generation."""
    body = json.dumps({"params": params, "vintage": data_vintage(store)}, sort_keys=True, default=str)
    return PREFIX + hashlib.sha256(body.encode()).hexdigest()[:24]


def get(store: Store, params: dict) -> tuple[pd.DataFrame, dict] | None:
    """The cached (frame, meta) for these inputs, or None."""
    key = cache_key(store, params)
    frame = store.read_table(key)
    if frame is None:
        return None
    return frame, store.table_meta(key) or {}


def put(store: Store, params: dict, frame: pd.DataFrame, meta: dict) -> str:
    """Store a result under its key (atomically, as every store write); returns the key."""
    key = cache_key(store, params)
    store.write_table(key, pd.DataFrame(frame), {**meta, "params": params})
    return key


def get_or_compute(store: Store, params: dict, compute) -> tuple[pd.DataFrame, dict]:
    """The cached result, or ``compute() -> (frame, meta)`` stored and returned."""
    hit = get(store, params)
    if hit is not None:
        return hit
    frame, meta = compute()
    put(store, params, frame, meta)
    return frame, meta
