"""Web-service fixtures: one store built per session from the real files in ../shared/data (two West Mercia
months, 2019 wards, approximate parishes, the synthetic demo county lines and one cached Gi* result), tokens for
each role, and TestClients."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # `tests.conftest` under --import-mode=importlib

from tests.conftest import STREET  # noqa: E402

TOKENS = {"analyst-token": ("analyst", None), "telford-token": ("neighbourhood", ["E06000020"]),
          "parish-token": ("parish", None)}
ROLE_TOKEN = {role: tok for tok, (role, _) in TOKENS.items()}
TELFORD = (52.6766, -2.4497)
WELLINGTON_PARISH = "E04000947"
TELFORD_WARD = "E05009967"


def auth(role: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {ROLE_TOKEN[role]}"} if role else {}


@pytest.fixture(scope="session")
def web_store(shared_data, tmp_path_factory):
    """A real store: 2018-12 and 2019-01 West Mercia, wards 2019, approximate parishes, demo county lines."""
    from api.routes_hotspots import DEFAULTS
    from boundaries.layers import read_boundary_file
    from data import hotspot_cache
    from data.demo_lines import load_demo_lines
    from data.ingest import ingest, reassign_all
    from data.store import open_store
    from geo.record import ALL_CRIME_TYPES

    st = open_store(tmp_path_factory.mktemp("web") / "store")
    ingest(st, [str(STREET / "west-mercia" / f"{m}-west-mercia-street.csv.gz") for m in ("2018-12", "2019-01")])
    for level, rel in (("ward", "boundaries/wards/wards_dec2019_west_mercia.geojson"),
                       ("parish", "boundaries/parish/par_oa_dissolved_west_mercia.geojson")):
        layer, meta = read_boundary_file(shared_data / rel, level)
        st.save_layer(level, layer, meta, reassign_all(st, (level, layer, meta)))
    load_demo_lines(st)
    # a cached Gi* result as `crimemap hotspots run` writes it (the web layer only reads the cache)
    from data import aggregate as agg

    c = agg.aggregate(st, "h3:8", geometry=False)
    c = c[~c["code"].isin(["outside", "unlocated"])]
    z = (c["count"] - c["count"].mean()) / c["count"].std()
    frame = pd.DataFrame({"code": c["code"].to_numpy(), "month": "2018-12..2019-01",
                          "count": c["count"].to_numpy(), "z": z.to_numpy(), "p": np.full(len(c), 0.5),
                          "p_sim": np.full(len(c), 0.5),
                          "class": np.where(z > 2.58, "hot_99", "not_significant")})
    params = {"method": "gistar", "level": "h3:8", "months": ["2018-12", "2019-01"], "types": list(ALL_CRIME_TYPES),
              **DEFAULTS}
    hotspot_cache.put(st, params, frame, {})
    return st


@pytest.fixture(scope="session")
def tokens_file(tmp_path_factory) -> Path:
    from api.auth import write_tokens

    return write_tokens(tmp_path_factory.mktemp("tokens") / "tokens.toml", TOKENS)


@pytest.fixture(scope="session")
def settings(web_store, tokens_file):
    from api.settings import Settings

    return Settings(store=web_store.location, tokens_file=tokens_file)


@pytest.fixture(scope="session")
def web_app(settings):
    from api.app import create_app

    return create_app(settings)


@pytest.fixture(scope="session")
def client(web_app):
    from fastapi.testclient import TestClient

    with TestClient(web_app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def emerging_cached(web_store, monkeypatch):
    """A cached emerging result for the store's months, as ``crimemap hotspots run --method emerging`` writes it.

    The shared data hold at most 4 months per force, fewer than an emerging run needs, so the cached frame is
    made here (real h3:8 cells and counts, categories assigned in turn) and the 6-month rule is lowered for the
    page: this checks the plumbing from cache to map, not the statistics (tests/geo cover those).
    """
    import pandas as pd

    from api.routes_hotspots import DEFAULTS
    from data import aggregate as agg
    from data import hotspot_cache
    from geo import emerging

    c = agg.aggregate(web_store, "h3:8", crime_types=("Burglary",), geometry=False)
    c = c[~c["code"].isin(["outside", "unlocated"])].sort_values("count", ascending=False).reset_index(drop=True)
    cats = [emerging.CATEGORIES[i % len(emerging.CATEGORIES)] for i in range(len(c))]
    frame = pd.DataFrame({"code": c["code"], "month": "2018-12..2019-01", "count": c["count"], "z": 0.0, "p": 0.5,
                          "p_sim": np.nan, "class": "not_significant", "category": cats, "trend_z": 1.5,
                          "trend_p": 0.13, "months_hot": 1, "months_cold": 0})
    params = {"method": "emerging", "level": "h3:8", "months": ["2018-12", "2019-01"],
              "types": ["Burglary"], **DEFAULTS}  # a type of its own: other tests see no emerging run
    hotspot_cache.put(web_store, params, frame, {})
    monkeypatch.setattr(emerging, "MIN_MONTHS", 2)
    return frame
