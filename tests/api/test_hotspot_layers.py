"""/hotspots/kde (KDE contours) and the emerging hot-spot layer: roles, bad input, caching, what the analyst map
says when the store holds too few months for emerging hot spots."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely.geometry import shape

from tests.api.conftest import auth


@pytest.fixture(scope="module")
def contours(client):
    r = client.get("/hotspots/kde", headers=auth("analyst"))
    assert r.status_code == 200, r.text
    return r


def test_kde_contours_are_nested_polygons_in_lonlat(contours):
    assert contours.headers["content-type"].startswith("application/geo+json")
    fc = contours.json()
    props = [f["properties"] for f in fc["features"]]
    assert [p["area_share"] for p in props] == [0.01, 0.05, 0.10]
    thresholds = [p["density_threshold"] for p in props]
    assert thresholds == sorted(thresholds, reverse=True) and thresholds[-1] > 0
    geoms = [shape(f["geometry"]) for f in fc["features"]]
    assert all(g.geom_type in ("Polygon", "MultiPolygon") and g.is_valid for g in geoms)
    west_mercia = shapely.box(-3.5, 51.8, -1.5, 53.1)  # lon/lat order; a few mis-located offences lie elsewhere
    assert all(g.intersection(west_mercia).area > 0.9 * g.area for g in geoms)
    areas = [g.area for g in geoms]
    assert areas[0] < areas[1] < areas[2]
    # the densest contour lies (up to the half-cell simplification) inside the wider ones
    assert geoms[0].difference(geoms[2]).area < 0.05 * areas[0]
    for g in geoms:  # RFC 7946: exterior rings counter-clockwise
        for poly in getattr(g, "geoms", [g]):
            assert poly.exterior.is_ccw
    assert fc["metadata"]["offences"] > 1000 and fc["metadata"]["cell_size_m"] > 0


def test_kde_densest_contour_holds_the_busiest_location(client, contours, web_store):
    """The snapped police.uk point with the most offences must lie in the densest 10 % of the surface."""
    o = web_store.read_offences(columns=["crime_type", "geometry"])
    o = o[(o["crime_type"] != "Anti-social behaviour").to_numpy() & o.geometry.notna().to_numpy()]
    xy = np.round(np.column_stack([o.geometry.x, o.geometry.y]), 6)
    uniq, n = np.unique(xy, axis=0, return_counts=True)
    busiest = shapely.Point(uniq[np.argmax(n)])
    widest = shape(contours.json()["features"][2]["geometry"])
    assert widest.buffer(0.002).contains(busiest)


def test_kde_filters_change_the_surface_and_it_is_cached(client, web_app, contours):
    one = client.get("/hotspots/kde", params={"months": "2019-01", "crime_type": "Drugs"}, headers=auth("analyst"))
    assert one.status_code == 200
    meta = one.json()["metadata"]
    assert meta["months"] == ["2019-01"] and 0 < meta["offences"] < contours.json()["metadata"]["offences"]
    again = client.get("/hotspots/kde", params={"months": "2019-01", "crime_type": "Drugs"}, headers=auth("analyst"))
    assert again.headers["etag"] == one.headers["etag"]
    keys = [k for k in web_app.state.services.frames._d if k[0] == "kde-contours"]
    assert len(keys) >= 2 and all(isinstance(k[1], int) for k in keys)  # keyed by the store generation
    nothing = client.get("/hotspots/kde", params={"months": "2001-01"}, headers=auth("analyst"))
    assert nothing.status_code == 200 and nothing.json()["features"] == []
    box = client.get("/hotspots/kde", params={"bbox": "-2.6,52.6,-2.3,52.8"}, headers=auth("analyst")).json()
    for f in box["features"]:
        x0, y0, x1, y1 = shape(f["geometry"]).bounds
        assert x0 >= -2.6 - 1e-9 and x1 <= -2.3 + 1e-9 and y0 >= 52.6 - 1e-9 and y1 <= 52.8 + 1e-9


@pytest.mark.parametrize(("role", "status"), [(None, 401), ("parish", 403), ("neighbourhood", 200)])
def test_kde_roles(client, role, status):
    r = client.get("/hotspots/kde", headers=auth(role))
    assert r.status_code == status
    if status != 200:
        assert "role" in r.json()["error"] and "analyst" in r.json()["error"]


@pytest.mark.parametrize(("params", "named"), [
    ({"months": "2019-13"}, "2019-13"),
    ({"months": "2019-02..2018-01"}, "2019-02..2018-01"),
    ({"crime_type": "Knife crime"}, "Knife crime"),
    ({"bbox": "-10,40,10,60"}, "-10,40,10,60"),
    ({"bbox": "a,b,c,d"}, "a,b,c,d"),
])
def test_kde_bad_input_is_one_line_4xx(client, params, named):
    r = client.get("/hotspots/kde", params=params, headers=auth("analyst"))
    assert 400 <= r.status_code < 500
    err = r.json()["error"]
    assert named in err and "\n" not in err and "Traceback" not in err


def test_emerging_needs_six_months(client):
    r = client.get("/hotspots", params={"method": "emerging", "level": "h3:8"}, headers=auth("analyst"))
    assert r.status_code == 404 and "crimemap hotspots run --method emerging" in r.json()["error"]
    page = client.get("/maps/hotspots", headers=auth("analyst")).text
    assert "Emerging hot spots need at least 6 months of data" in page
    assert "KDE contours" in page


def test_emerging_layer_comes_from_the_cache(client, emerging_cached):
    burglary = {"crime_type": "Burglary"}
    fc = client.get("/hotspots", params={"method": "emerging", "level": "h3:8", **burglary},
                    headers=auth("analyst")).json()
    assert len(fc["features"]) == len(emerging_cached)
    assert {"category", "trend_z", "trend_p", "months_hot"} <= set(fc["features"][0]["properties"])
    page = client.get("/maps/hotspots", params=burglary, headers=auth("analyst")).text
    assert '"emerging_url": "/hotspots?method=emerging\\u0026level=h3:8\\u0026crime_type=Burglary"' in page
    assert "need at least" not in page and "persistent hot spot" in page  # the legend, not the note
    drugs = client.get("/maps/hotspots", params={"crime_type": "Drugs"}, headers=auth("analyst")).text
    assert '"emerging_url": null' in drugs  # no run cached for Drugs: the legend and the map say how to make one
    assert "No cached emerging hot-spot run for these filters" in drugs and "--crime-type &#34;Drugs&#34;" in drugs
