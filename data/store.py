"""The store interface: where offences, assignment tables, boundary layers and other tables live.

Two implementations pass the same tests: :class:`data.embedded.EmbeddedStore` (a directory of GeoParquet,
the default; no server) and :class:`data.postgis.PostGISStore` (PostgreSQL 15+ / PostGIS 3).
:func:`open_store` picks one from a ``--store`` value.

Tables the store keeps
----------------------
offences
    The canonical offence record (``geo.record.COLUMNS`` + ``geometry``, EPSG:4326) plus ``h3_10``
    (the H3 res-10 cell of a located offence, null when unlocated). Partitioned by (force, month).
    Key: (force, month, offence_id).
assignment
    One row per stored offence: ``force, month, offence_id`` and one column per level that is assigned
    (``lsoa, ward, parish, lad, csp, pfa``); a value is a GSS code, ``"outside"`` (located but in no polygon
    of the loaded layer) or ``"unlocated"``. Rebuilt in full whenever a layer is (re)loaded, extended at
    every ingest, so it is never stale. Which levels it holds and their vintages: ``layers()``.
layers
    Boundary polygons per level: ``code, name, geometry`` (EPSG:4326) plus a metadata dict
    (``vintage``, ``source``, ``approximate``, ``repaired``, ``code_field``, ``name_field``, ``loaded_at``).
tables
    Named plain tables (county-lines records, cached results): a DataFrame and a metadata dict.

Every write method is atomic: killed part-way, the store is exactly as before.

Conventions: in method arguments months are ``datetime.date`` (first of month); in every DataFrame the
``month`` column is ``datetime64`` (first of month, any unit); forces are police.uk slugs; codes are str.
"""

from __future__ import annotations

import abc
import datetime as dt
import os
from pathlib import Path

import geopandas as gpd
import pandas as pd

from geo.errors import InputError

#: Extra column stored with every offence.
H3_COLUMN = "h3_10"
#: Levels that have a column in the assignment table.
ASSIGNED_LEVELS = ("lsoa", "ward", "parish", "lad", "csp", "pfa")
COVERAGE_COLUMNS = ["force", "month", "stored", "located", "unlocated"]


class Store(abc.ABC):
    """What every store offers. Months are ``datetime.date`` (first of month); forces are slugs."""

    #: a printable location (a path or a URL without its password)
    location: str

    # ---- offences ------------------------------------------------------------------------------
    @abc.abstractmethod
    def offence_ids(self, force: str, month: dt.date) -> pd.Index:
        """The offence_ids stored for one force-month (empty when none)."""

    @abc.abstractmethod
    def commit_ingest(
        self,
        offences: gpd.GeoDataFrame,
        assignment: pd.DataFrame,
        record: dict,
        *,
        replace: set[tuple[str, dt.date]] = frozenset(),
    ) -> None:
        """Add new offences and their assignment rows, and record the ingest, in one atomic step.

        ``offences`` holds only rows not yet stored (the caller de-duplicates). Force-months in ``replace``
        are emptied first (``crimemap ingest --replace``). ``record`` is the ingest catalogue entry
        (files with sha256 and counts, time).
        """

    @abc.abstractmethod
    def read_offences(
        self,
        *,
        months: tuple[dt.date, dt.date] | None = None,
        forces: list[str] | None = None,
        columns: list[str] | None = None,
    ) -> gpd.GeoDataFrame | pd.DataFrame:
        """Stored offences, optionally filtered; a GeoDataFrame (EPSG:4326) when geometry is among the columns."""

    @abc.abstractmethod
    def coverage(self) -> pd.DataFrame:
        """One row per stored (force, month): ``force, month, stored, located, unlocated``."""

    @abc.abstractmethod
    def ingests(self) -> list[dict]:
        """The ingest catalogue, oldest first."""

    # ---- assignment ------------------------------------------------------------------------------
    @abc.abstractmethod
    def read_assignment(
        self,
        *,
        months: tuple[dt.date, dt.date] | None = None,
        forces: list[str] | None = None,
        levels: list[str] | None = None,
    ) -> pd.DataFrame:
        """Assignment rows: ``force, month, offence_id`` and the requested level columns."""

    # ---- layers ---------------------------------------------------------------------------------
    @abc.abstractmethod
    def save_layer(self, level: str, polygons: gpd.GeoDataFrame, meta: dict, assignment: pd.DataFrame) -> None:
        """Store a boundary layer and replace the whole assignment table, in one atomic step."""

    @abc.abstractmethod
    def read_layer(self, level: str) -> gpd.GeoDataFrame | None:
        """The polygons of a loaded layer (``code, name, geometry``), or None when it is not loaded."""

    @abc.abstractmethod
    def layers(self) -> dict[str, dict]:
        """Metadata of every loaded layer, by level."""

    # ---- named tables ---------------------------------------------------------------------------
    @abc.abstractmethod
    def write_table(self, name: str, frame: pd.DataFrame, meta: dict | None = None) -> None:
        """Store (replace) a named plain table atomically."""

    @abc.abstractmethod
    def read_table(self, name: str) -> pd.DataFrame | None:
        """A named table, or None."""

    @abc.abstractmethod
    def table_meta(self, name: str) -> dict | None:
        """The metadata of a named table, or None."""

    # ---- bookkeeping ----------------------------------------------------------------------------
    @property
    @abc.abstractmethod
    def generation(self) -> int:
        """A number that changes at every successful write: part of every cache key."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


def default_store_location() -> str:
    """``CRIMEMAP_STORE``, else the user data dir (``platformdirs``)."""
    env = os.environ.get("CRIMEMAP_STORE")
    if env:
        return env
    import platformdirs

    return str(Path(platformdirs.user_data_dir("crimemap")) / "store")


def open_store(location: str | os.PathLike | None = None) -> Store:
    """Open the store at ``location``: a ``postgresql://`` URL or a directory (created when missing)."""
    loc = str(location) if location is not None else default_store_location()
    if loc.startswith(("postgresql://", "postgres://")):
        from data.postgis import PostGISStore

        return PostGISStore(loc)
    if "://" in loc:
        raise InputError(
            f"store {loc[:60]!r} is neither a directory nor a postgresql:// URL", param="store"
        )
    from data.embedded import EmbeddedStore

    return EmbeddedStore(loc)
