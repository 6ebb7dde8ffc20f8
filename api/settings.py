"""Settings of the web service, from the environment (``CRIMEMAP_`` prefix) or from ``crimemap serve`` options."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """What ``create_app`` needs; every field can be set as ``CRIMEMAP_<NAME>`` (e.g. ``CRIMEMAP_STORE``).

    Examples
    --------
    >>> Settings(store="/tmp/s", threshold=10).threshold
    10
    """

    model_config = SettingsConfigDict(env_prefix="CRIMEMAP_", extra="ignore")

    store: str | None = Field(None, description="Embedded store directory or postgresql:// URL (default: user dir).")
    host: str = Field("127.0.0.1", description="Address to listen on.")
    port: int = Field(8000, ge=1, le=65535, description="Port to listen on.")
    tokens_file: Path | None = Field(None, description="TOML or JSON file of hashed bearer tokens (role, scope).")
    threshold: int = Field(5, ge=1, le=100, description="Counts below this are suppressed for the public.")
    max_features: int = Field(20_000, ge=1, description="Most features one GeoJSON response may hold.")
    max_bbox_km2: float = Field(60_000.0, gt=0, description="Largest bbox a request may give (km²).")
    max_query_length: int = Field(2_000, ge=100, description="Longest query string accepted (characters).")
    tile_cache_size: int = Field(4_096, ge=0, description="Vector tiles kept in memory (per role and filters).")
    response_cache_mb: float = Field(256.0, ge=0, description="Memory for finished /areas and /tiles answers "
                                     "(per role, scope and request), served again without recomputing.")
    generation_ttl: float = Field(1.0, ge=0, description="Seconds a store without a catalogue file (PostGIS) is "
                                  "trusted not to have changed between two checks of its generation.")
    build_threads: int = Field(0, ge=0, le=64, description="Threads that may build uncached answers at once "
                               "(0: one per CPU).")
    cache_seconds: int = Field(300, ge=0, description="max-age of public responses.")
    warm: list[str] = Field(default_factory=list, description="Paths the app requests of itself in the "
                            "background when it starts (each worker), to fill its caches before visitors come.")
    demo: bool = Field(False, description="Serving the demo store (pages say the county lines are synthetic).")
