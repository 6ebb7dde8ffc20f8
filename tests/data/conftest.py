"""Store fixtures: a throwaway PostgreSQL/PostGIS cluster (session-wide) and a fresh database per test.

With ``CRIMEMAP_TEST_PG_URL`` set, that server is used instead of starting one (the user needs CREATEDB).
Under CI (``CI=true``) a cluster that cannot start fails the PostGIS tests instead of skipping them.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # `tests.pg` under --import-mode=importlib

from tests.conftest import need  # noqa: E402
from tests.pg import ClusterUnavailable, create_database, throwaway_cluster  # noqa: E402

TEMPLATE = "crimemap_template"
_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_server():
    """URL of a running PostgreSQL/PostGIS server with a template database holding the crimemap schema."""
    try:
        cluster = throwaway_cluster()
        url = cluster.__enter__()
    except ClusterUnavailable as e:
        need(False, f"a PostgreSQL/PostGIS cluster for the PostGIS tests ({e})")
    try:
        from data.postgis import PostGISStore

        template_url = create_database(url, TEMPLATE)
        PostGISStore(template_url).close()  # extension + schema once; every test database copies it
        yield url
    finally:
        cluster.__exit__(None, None, None)


@pytest.fixture
def pg_url(pg_server) -> str:
    """A fresh, empty crimemap database (cloned from the template) for one test."""
    return create_database(pg_server, f"crimemap_test_{next(_counter)}", template=TEMPLATE)

