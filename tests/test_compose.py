"""docker-compose.yml: PostGIS and the app, health checks, a named volume, settings from the environment.

`docker compose config` validates it where docker runs; elsewhere the structure is checked here.
"""

from __future__ import annotations

import pytest

from tests.conftest import ROOT, need

COMPOSE = ROOT / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict:
    try:
        import yaml
    except ImportError:
        need(False, "PyYAML to read docker-compose.yml")
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_runs_postgis_and_the_app_with_health_checks(compose):
    services = compose["services"]
    db, app = services["postgis"], services["app"]
    assert db["image"].startswith("postgis/postgis:")
    for svc in (db, app):
        hc = svc["healthcheck"]
        assert hc["test"][0] in ("CMD", "CMD-SHELL") and hc["interval"] and hc["retries"] >= 3
    assert app["depends_on"]["postgis"]["condition"] == "service_healthy"
    assert (ROOT / app["build"]["context"] / app["build"]["dockerfile"]).exists()


def test_compose_keeps_data_in_a_named_volume_and_settings_in_the_environment(compose):
    assert "pgdata" in compose["volumes"]
    assert "pgdata:/var/lib/postgresql/data" in compose["services"]["postgis"]["volumes"]
    env = compose["services"]["app"]["environment"]
    assert env["CRIMEMAP_STORE"].startswith("${CRIMEMAP_STORE:-postgresql://")
    assert "${POSTGRES_PASSWORD" in compose["services"]["postgis"]["environment"]["POSTGRES_PASSWORD"]
