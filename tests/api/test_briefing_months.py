"""`crimemap briefing --months` limits the briefing's figures to those months."""

import datetime as dt

from data.aggregate import aggregate


def test_briefing_months_change_the_figures(wm_store, tmp_path):
    from api.auth import Principal, TokenBook
    from api.deps import Services
    from api.routes_pages import briefing_html
    from api.settings import Settings

    sv = Services(settings=Settings(store=str(wm_store.location)), store=wm_store, tokens=TokenBook())
    who = Principal(role="analyst", name="test", anonymous=False)
    code = "E05009849"
    jan = (dt.date(2019, 1, 1), dt.date(2019, 1, 1))
    one = briefing_html(sv, who, "ward", code, standalone=True, months=jan)
    full = briefing_html(sv, who, "ward", code, standalone=True)
    n_jan = int(aggregate(wm_store, "ward", months=jan, codes=[code], geometry=False)["count"].iloc[0])
    n_all = int(aggregate(wm_store, "ward", codes=[code], geometry=False)["count"].iloc[0])
    assert n_jan < n_all
    assert f"{n_jan:,}" in one and f"{n_all:,}" in full and one != full
