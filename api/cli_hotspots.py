"""``crimemap hotspots run|evaluate`` (issue 5): Gi*, KDE, emerging hot spots and their predictive evaluation.

Counts come from ``data.aggregate`` (the one source for every output); geometry and statistics from ``geo``.
Results are cached in the store by their inputs (``data.hotspot_cache``).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import typer
from rich.table import Table

from api.cli import StoreOption, app
from api.console import err, out, progress
from geo.errors import InputError
from geo.record import (
    ALL_CRIME_TYPES,
    CRIME_TYPES,
    crime_types_label,
    h3_resolution,
    month_label,
    parse_crime_types,
    parse_level,
    parse_months,
)

hotspots = typer.Typer(
    help="Hot spots: Gi*, KDE, emerging hot spots and their predictive evaluation.", no_args_is_help=True
)
app.add_typer(hotspots, name="hotspots")

METHODS = ("gistar", "kde", "emerging")
FORMATS = (".csv", ".geojson", ".gpkg", ".parquet")
ATTRIBUTION = "Contains public sector information licensed under the Open Government Licence v3.0."


# ---- inputs -----------------------------------------------------------------------------------------------------
def _as_date(values) -> pd.Series:
    return pd.to_datetime(pd.Series(values)).dt.date


def _loaded_months(store, months: tuple[dt.date, dt.date] | None) -> list[dt.date]:
    cov = store.coverage()
    have = sorted(set(_as_date(cov["month"]))) if len(cov) else []
    if months is not None:
        have = [m for m in have if months[0] <= m <= months[1]]
    if not have:
        shown = f"{month_label(months[0])}..{month_label(months[1])}" if months else "any month"
        raise InputError(
            f"the store at {store.location} holds no offences for {shown}; ingest police.uk files first", param="months"
        )
    return have


def _counts(store, level: str, months: list[dt.date], types) -> pd.DataFrame:
    """``code, month, count`` per cell and month for the crime types (located cells only)."""
    rng = (months[0], months[-1])
    try:
        from data.aggregate import area_counts
    except ImportError:  # until data/aggregate.py lands: H3 from the stored res-10 cell
        area_counts = None
    if area_counts is not None:
        c = area_counts(store, level, months=rng, crime_types=list(types), by_month=True)
        c = c[~c["code"].astype(str).isin(["outside", "unlocated"])].copy()
    else:
        res = h3_resolution(level)
        if res is None:
            raise InputError(
                f"level {level!r} needs the aggregate tables (data.aggregate), not available here", param="level"
            )
        import h3

        # with geometry: the embedded store's plain-column path cannot merge its partitions yet
        o = store.read_offences(months=rng, columns=["month", "crime_type", "h3_10", "geometry"])
        o = o[o["crime_type"].astype(str).isin(types) & o["h3_10"].notna()]
        codes = pd.Series(o["h3_10"].astype(str).unique())
        parent = dict(zip(codes, [h3.cell_to_parent(c, res) for c in codes], strict=True))
        c = pd.DataFrame({"code": o["h3_10"].astype(str).map(parent), "month": o["month"]})
        c = c.groupby(["code", "month"]).size().rename("count").reset_index()
    c["code"] = c["code"].astype(str)
    c["month"] = _as_date(c["month"]).to_numpy()
    c = c[c["month"].isin(months)]
    return c.groupby(["code", "month"], as_index=False)["count"].sum()


def _study_area(store, level: str, months: list[dt.date]) -> list[str]:
    try:
        from data.aggregate import study_area
    except ImportError:
        study_area = None
    if study_area is not None:
        return sorted(
            str(c) for c in study_area(store, level, (months[0], months[-1])) if c not in ("outside", "unlocated")
        )
    c = _counts(store, level, months, CRIME_TYPES)
    return sorted(c.loc[c["count"] > 0, "code"].unique())


def _weights(store, level: str, codes, k: int):
    from geo.weights import h3_kring_weights, queen_weights

    if h3_resolution(level) is not None:
        return h3_kring_weights(codes, k)
    return queen_weights(_polygons(store, level, codes).geometry)


def _polygons(store, level: str, codes):
    import geopandas as gpd

    if h3_resolution(level) is not None:
        import h3
        from shapely.geometry import Polygon

        geoms = [Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)]) for c in codes]
        return gpd.GeoDataFrame({"code": list(codes), "name": ""}, geometry=geoms, crs="EPSG:4326")
    layer = store.read_layer(level)
    if layer is None:
        raise InputError(
            f"level {level!r} has no boundary layer loaded; run `crimemap boundaries load` first", param="level"
        )
    layer = layer.assign(code=layer["code"].astype(str)).set_index("code")
    missing = [c for c in codes if c not in layer.index]
    if missing:
        raise InputError(f"{len(missing)} {level} codes (e.g. {missing[0]}) are not in the loaded layer", param="level")
    return gpd.GeoDataFrame(layer.loc[list(codes)].reset_index(), geometry="geometry", crs=layer.crs)


def _centroids_bng(store, level: str, codes) -> np.ndarray:
    from geo.kde import lonlat_to_bng

    if h3_resolution(level) is not None:
        import h3

        ll = np.array([h3.cell_to_latlng(c) for c in codes]).reshape(-1, 2)
        return lonlat_to_bng(ll[:, 1], ll[:, 0])
    poly = _polygons(store, level, codes).to_crs("EPSG:27700")
    c = poly.geometry.representative_point()
    return np.column_stack([c.x, c.y])


def _spacing(store, level: str, codes) -> float:
    res = h3_resolution(level)
    if res is not None:
        import h3

        return float(np.sqrt(3) * h3.average_hexagon_edge_length(res, unit="m"))
    return float(np.sqrt(_polygons(store, level, codes).to_crs("EPSG:27700").area.mean()))


def _cell_area(store, level: str, codes) -> pd.Series:
    if h3_resolution(level) is not None:
        import h3

        return pd.Series([h3.cell_area(c, unit="km^2") for c in codes], index=list(codes))
    return pd.Series(_polygons(store, level, codes).to_crs("EPSG:27700").area.to_numpy() / 1e6, index=list(codes))


def _events(store, level: str, months: list[dt.date], types) -> pd.DataFrame:
    """Located offences of every type in ``months``: ``code, month, x, y`` (EPSG:27700) and ``selected`` (one of
    ``types``), with ``code`` the cell at ``level`` as ``data.aggregate`` assigns it (H3 parent of the stored
    res-10 cell, or the stored polygon assignment)."""
    from geo.hexgrid import cells_to_parent
    from geo.kde import lonlat_to_bng

    o = store.read_offences(
        months=(months[0], months[-1]), columns=["offence_id", "force", "month", "crime_type", "h3_10", "geometry"]
    )
    o = o[o.geometry.notna() & ~o.geometry.is_empty]
    res = h3_resolution(level)
    if res is not None:
        cells = o["h3_10"].astype(object).to_numpy()
        code = cells if res == 10 else cells_to_parent(cells, res)
    else:
        a = store.read_assignment(months=(months[0], months[-1]), levels=[level])
        keys = ["force", "month", "offence_id"]
        code = o[keys].merge(a[[*keys, level]], on=keys, how="left")[level].to_numpy()
    xy = lonlat_to_bng(o.geometry.x.to_numpy(), o.geometry.y.to_numpy())
    e = pd.DataFrame(
        {
            "code": code,
            "month": _as_date(o["month"]).to_numpy(),
            "x": xy[:, 0],
            "y": xy[:, 1],
            "selected": o["crime_type"].astype(str).isin(list(types)).to_numpy(),
        }
    )
    e = e[e["code"].notna() & e["month"].isin(months)]
    e["code"] = e["code"].astype(str)
    return e[~e["code"].isin(["outside", "unlocated"])].reset_index(drop=True)


def _samples_for(store, level: str, spacing: float):
    """``codes -> (sample_xy, cell_index)`` integration points for the prospective KDE."""
    from geo.prospective import h3_samples, polygon_samples

    if h3_resolution(level) is not None:
        return h3_samples

    def polys(codes):
        g = _polygons(store, level, codes).to_crs("EPSG:27700").geometry
        return polygon_samples(g, float(np.clip(spacing / 10, 50.0, 250.0)))

    return polys


def _months_text(months: list[dt.date]) -> str:
    return month_label(months[0]) if len(months) == 1 else f"{month_label(months[0])}..{month_label(months[-1])}"


# ---- outputs ---------------------------------------------------------------------------------------------------
def _check_out(path: Path) -> str:
    ext = path.suffix.lower()
    if ext not in FORMATS:
        raise InputError(
            f"output {path.name!r} has extension {ext or '(none)'!r}; expected one of {', '.join(FORMATS)}", param="out"
        )
    return ext


def _write(frame: pd.DataFrame, path: Path, geometry=None, meta: dict | None = None, extra_layers=None) -> None:
    import geopandas as gpd

    ext = _check_out(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if ext == ".csv":
        frame.to_csv(path, index=False)
    elif ext == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        if geometry is None:
            raise InputError(
                f"output {path.name!r} needs geometry; this result has none, use .csv or .parquet", param="out"
            )
        g = gpd.GeoDataFrame(frame.reset_index(drop=True), geometry=list(geometry.geometry), crs=geometry.crs)
        g = g.to_crs("EPSG:4326")
        if ext == ".geojson":
            g.to_file(path, driver="GeoJSON")
        else:
            g.to_file(path, driver="GPKG", layer="hotspots")
            for name, layer in (extra_layers or {}).items():
                layer.to_crs("EPSG:4326").to_file(path, driver="GPKG", layer=name)
    if meta is not None:
        side = path.with_name(path.name + ".meta.json")
        side.write_text(json.dumps(meta, indent=2, default=str))


def _meta(store, method: str, level: str, months, types, params: dict) -> dict:
    from data.hotspot_cache import data_vintage

    layers = store.layers()
    return {
        "method": method,
        "level": level,
        "months": [month_label(m) for m in months],
        "crime_types": list(types),
        "crime_type_label": crime_types_label(tuple(types)),
        "parameters": params,
        "store": str(store.location),
        "data_vintage": {
            "ingest_digest": data_vintage(store),
            "ingests": len(store.ingests()),
            "boundary_vintage": (layers.get(level) or {}).get("vintage"),
        },
        "study_area": "cells with at least one offence of any type (ASB included) in the months used",
        "attribution": ATTRIBUTION,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


# ---- commands --------------------------------------------------------------------------------------------------
@hotspots.command("run")
def run_cmd(
    method: str = typer.Option(..., "--method", help="gistar | kde | emerging"),
    level: str = typer.Option(..., "--level", help="parish, ward, lsoa, lad, csp, pfa or h3:7 … h3:10"),
    months: str | None = typer.Option(None, "--months", help="YYYY-MM or YYYY-MM..YYYY-MM (default: all loaded)."),
    crime_type: list[str] | None = typer.Option(
        None, "--crime-type", help="police.uk type (repeatable; default all crime excl. ASB)."
    ),
    out_path: Path = typer.Option(..., "--out", help="Output file: .csv, .geojson, .gpkg or .parquet."),
    k: int = typer.Option(1, "--k", help="H3 k-ring size for Gi* neighbours."),
    permutations: int = typer.Option(999, "--permutations", help="Gi* permutations for p_sim (0 to skip)."),
    seed: int = typer.Option(0, "--seed", help="Seed for the permutations."),
    bandwidth: float | None = typer.Option(
        None, "--bandwidth", help="KDE bandwidth in metres (default: 5 x cell size)."
    ),
    cell_size: float | None = typer.Option(None, "--cell-size", help="KDE cell size in metres (default: automatic)."),
    kernel: str = typer.Option("quartic", "--kernel", help="KDE kernel: quartic | gaussian."),
    store: str | None = StoreOption,
) -> None:
    """Find hot spots and write every study-area cell (significant or not) with its parameters in FILE.meta.json."""
    from data import hotspot_cache
    from data.store import open_store

    m = str(method).strip().lower()
    if m not in METHODS:
        raise InputError(f"method {method[:30]!r} is not one of {', '.join(METHODS)}", param="method")
    level = parse_level(level)
    rng = parse_months(months)
    types = parse_crime_types(crime_type)
    _check_out(out_path)
    if permutations < 0:
        raise InputError(f"permutations {permutations} is negative; expected 0 or more", param="permutations")
    st = open_store(store)
    ms = _loaded_months(st, rng)
    label = crime_types_label(types)
    if m == "kde":
        _run_kde(st, level, ms, types, out_path, bandwidth, cell_size, kernel)
        return
    params = {
        "method": m,
        "level": level,
        "months": [month_label(x) for x in ms],
        "types": list(types),
        "k": k,
        "permutations": permutations,
        "seed": seed,
    }

    def compute():
        study = _study_area(st, level, ms)
        if not study:
            raise InputError(f"no study-area cells at {level} for {_months_text(ms)}", param="level")
        c = _counts(st, level, ms, types)
        w = _weights(st, level, study, k)
        if m == "gistar":
            from geo.gistar import counts_on_study_area, gistar, gistar_frame

            y = counts_on_study_area(c.groupby("code")["count"].sum(), study)
            with progress("Gi*", total=1) as advance:
                res = gistar(y.to_numpy(), w, permutations=permutations, seed=seed)
                advance()
            f = gistar_frame(res, study)
            f.insert(1, "month", _months_text(ms))
        else:
            from geo.emerging import MIN_MONTHS, emerging_hotspots

            if len(ms) < MIN_MONTHS:
                raise InputError(
                    f"emerging hot spots need at least {MIN_MONTHS} months (a Mann-Kendall trend cannot reach 95 % "
                    f"with fewer); received {len(ms)} ({_months_text(ms)})",
                    param="months",
                )
            pivot = c.pivot_table(index="code", columns="month", values="count", aggfunc="sum", fill_value=0)
            pivot = pivot.reindex(index=study, columns=ms, fill_value=0)
            e = emerging_hotspots(pivot.to_numpy(float), w, permutations=0, seed=seed)
            f = pd.concat(
                [
                    pd.DataFrame(
                        {
                            "code": study,
                            "month": _months_text(ms),
                            "count": pivot.sum(axis=1).to_numpy().astype(np.int64),
                        }
                    ),
                    e,
                ],
                axis=1,
            )
            f["p_sim"] = np.nan
        return f, {}

    f, _ = hotspot_cache.get_or_compute(st, params, compute)
    f = f.copy()
    f.insert(1, "name", "")
    f.insert(2, "level", level)
    f.insert(4, "crime_type", label)
    cols = ["code", "name", "level", "month", "crime_type", "count", "z", "p", "p_sim", "class"]
    if m == "emerging":
        cols += ["category", "trend_z", "trend_p", "months_hot", "months_cold"]
    f = f[cols]
    geometry = _polygons(st, level, f["code"]) if out_path.suffix.lower() in (".geojson", ".gpkg") else None
    if geometry is not None and h3_resolution(level) is None:
        f["name"] = geometry["name"].to_numpy()
    meta = _meta(
        st,
        m,
        level,
        ms,
        types,
        {
            "k": k,
            "permutations": permutations,
            "seed": seed,
            "weights": "H3 k-ring" if h3_resolution(level) else "queen contiguity",
            "classes": "BH FDR on two-sided analytical p at 0.01/0.05/0.10",
        },
    )
    _write(f, out_path, geometry, meta)
    n_sig = int((f["class"] != "not_significant").sum())
    err.print(
        f"{m}: {len(f)} study-area cells at {level}, {int(f['count'].sum())} offences ({label}), "
        f"{n_sig} significant; wrote {out_path}",
        markup=False,
    )


def _run_kde(st, level, ms, types, out_path: Path, bandwidth, cell_size, kernel) -> None:
    import geopandas as gpd
    import shapely

    from geo.kde import ROUNDOFF, kde_contours, kde_grid

    o = st.read_offences(months=(ms[0], ms[-1]), columns=["crime_type", "geometry"])
    o = o[o["crime_type"].astype(str).isin(types) & o.geometry.notna() & ~o.geometry.is_empty]
    if len(o) == 0:
        raise InputError(f"no located offences of {crime_types_label(types)} in {_months_text(ms)}", param="months")
    pts = o.to_crs("EPSG:27700").geometry
    grid = kde_grid(np.column_stack([pts.x, pts.y]), cell_size=cell_size, bandwidth=bandwidth, kernel=kernel)
    f = grid.to_frame(min_density=ROUNDOFF * grid.density.max())
    f.insert(1, "name", "")
    f.insert(2, "level", f"grid:{grid.cell_size:g}m")
    f.insert(3, "month", _months_text(ms))
    f.insert(4, "crime_type", crime_types_label(types))
    geometry = None
    if out_path.suffix.lower() in (".geojson", ".gpkg"):
        half = grid.cell_size / 2
        geometry = gpd.GeoDataFrame(
            geometry=shapely.box(f.x - half, f.y - half, f.x + half, f.y + half), crs="EPSG:27700"
        )
    contours = kde_contours(grid)
    meta = _meta(
        st,
        "kde",
        level,
        ms,
        types,
        {
            "kernel": grid.kernel,
            "bandwidth_m": grid.bandwidth,
            "cell_size_m": grid.cell_size,
            "crs": "EPSG:27700",
            "bandwidth_rule": "given" if bandwidth else "5 x cell size",
            "density_unit": "offences per km2",
            "events": grid.n_events,
        },
    )
    _write(f, out_path, geometry, meta, extra_layers={"contours": contours})
    if out_path.suffix.lower() != ".gpkg":
        contours.to_crs("EPSG:4326").to_file(out_path.with_name(out_path.name + ".contours.geojson"), driver="GeoJSON")
    err.print(
        f"kde: {len(f)} grid cells at {grid.cell_size:g} m, bandwidth {grid.bandwidth:g} m, "
        f"{grid.n_events:g} offences; wrote {out_path}",
        markup=False,
    )


@hotspots.command("evaluate")
def evaluate_cmd(
    level: str = typer.Option(..., "--level", help="parish, ward, lsoa, lad, csp, pfa or h3:7 … h3:10"),
    months: str | None = typer.Option(
        None, "--months", help="Months to use (default: all loaded); targets are all but the first."
    ),
    crime_type: list[str] | None = typer.Option(
        None, "--crime-type", help="police.uk type (repeatable; default all crime excl. ASB)."
    ),
    out_path: Path | None = typer.Option(None, "--out", help="CSV file for the table."),
    k: int = typer.Option(1, "--k", help="H3 k-ring size for Gi*."),
    bandwidth: float | None = typer.Option(
        None, "--bandwidth", help="KDE bandwidth in metres (default: chosen by rolling origin on the training months)."
    ),
    half_life: float | None = typer.Option(
        None, "--half-life", help="KDE half-life in months with --bandwidth (default: no decay)."
    ),
    aux_weight: float = typer.Option(
        0.0, "--aux-weight", help="KDE weight of the other offence types with --bandwidth (default 0)."
    ),
    store: str | None = StoreOption,
) -> None:
    """Rolling backtest: PAI, hit rate, RRI and PEI* at 1/5/10 % of the study area for each method."""
    from data.store import open_store
    from geo.evaluation import backtest, make_scorers

    level = parse_level(level)
    rng = parse_months(months)
    types = parse_crime_types(crime_type)
    if out_path is not None and out_path.suffix.lower() != ".csv":
        raise InputError(f"evaluation output {out_path.name!r} is not .csv; expected FILE.csv", param="out")
    st = open_store(store)
    ms = _loaded_months(st, rng)
    if len(ms) < 2:
        raise InputError(f"evaluation needs at least 2 loaded months; received {_months_text(ms)}", param="months")
    c = _counts(st, level, ms, types)
    any_c = _counts(st, level, ms, CRIME_TYPES)
    every = sorted(set(any_c["code"]))
    area = _cell_area(st, level, every)
    spacing = _spacing(st, level, every)
    kde_params = None
    if bandwidth is not None:
        from geo.prospective import Params

        if not bandwidth >= 0:
            raise InputError(f"bandwidth {bandwidth!r} m is not usable; expected 0 or more metres", param="bandwidth")
        kde_params = Params(float(bandwidth), float(half_life or np.inf), float(aux_weight), 0.0, 2 * spacing)
    scorers = make_scorers(
        lambda codes: _weights(st, level, list(codes), k),
        _samples_for(st, level, spacing),
        spacing,
        _events(st, level, ms, types),
        k=k,
        kde_params=kde_params,
        area=area,
    )
    with progress("evaluating", total=1) as advance:
        r = backtest(c, any_c, scorers, area=area)
        advance()
    r.insert(0, "crime_type", crime_types_label(types))
    r.insert(0, "level", level)
    r["target_month"] = [month_label(m) for m in r["target_month"]]
    r = r[
        ["method", "target_month", "area_share", "area_covered", "pai", "hit_rate", "rri", "pei", "level", "crime_type"]
    ]
    if out_path is not None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        r.to_csv(out_path, index=False)
        meta = _meta(
            st,
            "evaluate",
            level,
            ms,
            types,
            {
                "k": k,
                "kde": kde_params.as_dict() if kde_params else "auto: rolling origin on the training months",
                "kde_score": "own count + (kernel score - own count) / effective training months",
                "kde_chosen": {
                    month_label(m): {**p.as_dict(), "validation_pai_5": v}
                    for m, (p, v) in getattr(scorers["kde"], "chosen", {}).items()
                },
                "tie_break": "score descending, then code ascending",
            },
        )
        out_path.with_name(out_path.name + ".meta.json").write_text(json.dumps(meta, indent=2, default=str))
    t = Table(title=f"Hot-spot backtest at {level}: {crime_types_label(types)}")
    for col in ("method", "target_month", "area_share", "area_covered", "pai", "hit_rate", "rri", "pei"):
        t.add_column(col, justify="left" if col in ("method", "target_month") else "right")
    for row in r.itertuples(index=False):

        def fmt(v, d=3):
            return "–" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.{d}f}"

        t.add_row(
            row.method,
            row.target_month,
            f"{row.area_share:.2f}",
            fmt(row.area_covered),
            fmt(row.pai, 2),
            fmt(row.hit_rate),
            fmt(row.rri, 2),
            fmt(row.pei),
        )
    out.print(t)


_ = ALL_CRIME_TYPES  # the default selection (parse_crime_types(None))
