"""Shared test fixtures: the real data in ../shared/data, temporary stores.

Under CI (``CI=true``) a test that needs something missing fails instead of skipping.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CRIMEMAP_SHARED_DATA", ROOT.parent / "shared" / "data"))
STREET = SHARED / "crime" / "street"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(condition: bool, what: str) -> None:
    """Skip locally, fail under CI, when ``condition`` does not hold."""
    if not condition:
        if IN_CI:
            pytest.fail(f"missing under CI: {what}")
        pytest.skip(f"missing: {what}")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data folder (../shared/data)."""
    need((SHARED / "MANIFEST.md").exists(), f"real data folder {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def wm_month(shared_data) -> Path:
    """West Mercia 2019-01 street file (real)."""
    return STREET / "west-mercia" / "2019-01-west-mercia-street.csv.gz"


@pytest.fixture(scope="session")
def wm_months(shared_data) -> list[Path]:
    """All four West Mercia street files (real), oldest first."""
    return sorted((STREET / "west-mercia").glob("*.csv.gz"))


@pytest.fixture
def store_dir(tmp_path) -> Path:
    """An empty directory for an embedded store."""
    d = tmp_path / "store"
    return d


@pytest.fixture(scope="session")
def wm_store(tmp_path_factory, shared_data):
    """An embedded store with the four real West Mercia months, 2019 wards and the approximate parishes.

    Built once per session; tests must not write to it.
    """
    from boundaries.layers import read_boundary_file
    from data.ingest import ingest, reassign_all
    from data.store import open_store

    st = open_store(tmp_path_factory.mktemp("wm") / "store")
    for path, level in ((SHARED / "boundaries/wards/wards_dec2019_west_mercia.geojson", "ward"),
                        (SHARED / "boundaries/parish/par_oa_dissolved_west_mercia.geojson", "parish")):
        layer, meta = read_boundary_file(path, level)
        st.save_layer(level, layer, meta, reassign_all(st, (level, layer, meta)))
    ingest(st, sorted((STREET / "west-mercia").glob("*.csv.gz")))
    return st
