"""National-scale benchmark: a year of offences for England and Wales through the embedded, Dask and PostGIS paths.

The year (about 6.5 million rows, ``--rows`` to run smaller) is resampled from the real street files in
../shared/data: every row is a real offence record (its coordinates, LSOA, crime type and outcome) given a new
month of 2019 and a new id, so the spatial pattern is real. It is assigned to the national December 2019 wards.

Paths, each in its own process so its peak memory (max RSS, plus the Dask workers') is its own:

embedded  per month: the month's Arrow batch assigned (data.assignment.assign_batch) + ``commit_ingest`` into a
          GeoParquet store, as data.ingest does after reading; then ward counts
dask      ward counts of the whole embedded store with dask-geopandas (``data.scale``: read_parquet, one
          partition per force-month file; assignment by map_partitions; a dask groupby) on a local
          ``distributed`` cluster, also over the first 3 and 6 months, to show the worker peak memory staying
          flat as months are added; then the year's assignment written as Parquet on the same path
postgis   per month: assign + ``commit_ingest`` (COPY) into a throwaway PostGIS cluster; ward counts in SQL

The embedded child also times, in the same process, the per-row assignment this code had before the distinct-point
rewrite (``baseline_assign_offences`` below, kept verbatim in spirit: one STRtree probe and one Python ``is_empty`` per
row, lookups turned into dicts on every call) against today's on the same subset (``--baseline-rows``, default
200,000) and checks both give the same table.

Usage: python bench/scale.py [--rows 6500000] [--paths embedded,dask,postgis] [--work DIR] [--workers 2]
Prints one line per path: rows, wall seconds, CPU seconds of the main process, peak memory.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("CRIMEMAP_SHARED_DATA", ROOT.parent / "shared" / "data"))
YEAR_ROWS = 6_500_000


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def national_wards():
    import geopandas as gpd

    raw = gzip.decompress((SHARED / "boundaries/wards/wards_dec2019_uk_bgc_simplified.geojson.gz").read_bytes())
    w = gpd.read_file(io.BytesIO(raw))
    return w.rename(columns={"WD19CD": "code", "WD19NM": "name"})[["code", "name", "geometry"]].to_crs(4326)


def layers():
    return {"ward": (national_wards(), {"vintage": 2019, "source": "wards_dec2019_uk_bgc_simplified"})}


def build_year(rows: int, out: Path, seed: int = 2019) -> list[Path]:
    """Twelve month files (GeoParquet, canonical record) resampled from every real street file."""
    import geopandas as gpd
    import numpy as np
    import pandas as pd

    from data.readers import read_crime_file

    stamp = out / f"year-{rows}.done"
    files = [out / f"2019-{m:02d}.parquet" for m in range(1, 13)]
    if stamp.exists():
        return files
    out.mkdir(parents=True, exist_ok=True)
    pool = pd.concat([read_crime_file(p.name, p.read_bytes()).offences
                      for p in sorted((SHARED / "crime/street").glob("*/*.csv.gz"))], ignore_index=True)
    pool = pool.drop(columns=["source_line"])
    rng = np.random.default_rng(seed)
    per_month = rows // 12
    for i, path in enumerate(files):
        pick = rng.integers(0, len(pool), per_month)
        month = pool.iloc[pick].reset_index(drop=True)
        month["month"] = pd.Timestamp(2019, i + 1, 1)
        month["offence_id"] = [f"bench-{i + 1:02d}-{k:08d}" for k in range(per_month)]
        gpd.GeoDataFrame(month, geometry="geometry", crs=4326).to_parquet(path, index=False)
    stamp.write_text(str(rows))
    return files


# ---- the named baseline: the per-row assignment before the distinct-point rewrite ------------------------------

def _baseline_points_to_areas(points, polygons, codes):
    import numpy as np
    import pandas as pd
    import shapely

    geoms = np.asarray(points.values, dtype=object)
    missing = pd.isna(geoms) | np.array([g is None or g.is_empty for g in geoms], dtype=bool)
    out = np.full(len(geoms), "outside", dtype=object)
    out[missing] = "unlocated"
    if len(polygons) and (~missing).any():
        tree = shapely.STRtree(np.asarray(polygons.values))
        idx = np.flatnonzero(~missing)
        src, tgt = tree.query(geoms[idx], predicate="within")
        order = np.lexsort((tgt, src))
        src, tgt = src[order], tgt[order]
        first = np.r_[True, src[1:] != src[:-1]] if len(src) else np.array([], dtype=bool)
        out[idx[src[first]]] = np.asarray(codes, dtype=object)[tgt[first]]
    return out


def _baseline_map_codes(codes, mapping, keep=("outside", "unlocated"), missing="outside"):
    import numpy as np
    import pandas as pd

    s = pd.Series(np.asarray(codes, dtype=object))
    mapped = s.map(mapping)
    mapped = mapped.where(~s.isin(keep), s)
    return mapped.where(mapped.notna(), missing).to_numpy(dtype=object)


def baseline_assign_offences(offences, layers):
    """data.assignment.assign_offences as it was (ward and parish layers; LSOA from the file)."""
    import numpy as np
    import pandas as pd

    from boundaries import lookups

    out = pd.DataFrame({"force": offences["force"].to_numpy(dtype=object),
                        "month": pd.to_datetime(offences["month"]).to_numpy(),
                        "offence_id": offences["offence_id"].to_numpy(dtype=object)})
    pts = offences.geometry
    located = pts.notna().to_numpy() & ~pts.is_empty.fillna(True).to_numpy()
    vintage = 2019
    lsoa = offences["lsoa11"].to_numpy(dtype=object).copy()
    lsoa = np.where(pd.isna(lsoa), np.where(located, "outside", "unlocated"), lsoa)
    out["lsoa"] = lsoa
    chain = lookups.lad_to_csp_pfa(vintage)
    lad_from_lsoa = _baseline_map_codes(lsoa, lookups.lsoa11_to_ward(vintage).set_index("lsoa11")["lad"].to_dict())
    poly, _ = layers["ward"]
    ward = _baseline_points_to_areas(pts, poly.geometry, poly["code"].to_numpy())
    lad = _baseline_map_codes(ward, lookups.ward_to_lad(vintage).set_index("ward")["lad"].to_dict())
    lad = np.where(np.isin(lad, ["outside"]), lad_from_lsoa, lad)
    out["ward"] = ward
    lad = np.where(located, lad, "unlocated")
    out["lad"] = lad
    out["csp"] = _baseline_map_codes(lad, chain.set_index("lad")["csp"].to_dict())
    out["pfa"] = _baseline_map_codes(lad, chain.set_index("lad")["pfa"].to_dict())
    out["parish"] = None
    return out


def baseline_points_to_h3(lon, lat, resolution):
    """geo.hexgrid.points_to_h3 as it was: one h3 call per row."""
    import h3
    import numpy as np

    ok = np.isfinite(lon) & np.isfinite(lat)
    out = np.full(lon.shape, None, dtype=object)
    out[ok] = [h3.latlng_to_cell(y, x, resolution) for x, y in zip(lon[ok].tolist(), lat[ok].tolist(), strict=True)]
    return out


def compare_baseline(files: list[Path], lay: dict, rows: int) -> dict:
    """Old per-row code vs today's on the same ``rows`` offences, in this process; both must agree."""
    import geopandas as gpd
    import numpy as np
    import pandas as pd
    import shapely

    from data.assignment import assign_offences
    from geo.hexgrid import points_to_h3

    off = gpd.read_parquet(files[0]).iloc[:rows].reset_index(drop=True)
    times = {}
    for name, fn in (("baseline", baseline_assign_offences), ("now", assign_offences)):
        t = time.process_time()
        got = fn(off, lay)
        times[name] = time.process_time() - t
        times[name + "_table"] = got
    want = times.pop("baseline_table")[["force", "month", "offence_id", "lsoa", "ward", "lad", "csp", "pfa"]]
    now = times.pop("now_table")[want.columns]
    pd.testing.assert_frame_equal(want.reset_index(drop=True), now.reset_index(drop=True))
    g = np.asarray(off.geometry.values, dtype=object)
    ok = ~(shapely.is_missing(g) | shapely.is_empty(g))
    xy = np.full((len(off), 2), np.nan)
    xy[ok] = shapely.get_coordinates(g[ok])
    t = time.process_time()
    h_old = baseline_points_to_h3(xy[:, 0], xy[:, 1], 10)
    times["h3_baseline"] = time.process_time() - t
    t = time.process_time()
    h_new = points_to_h3(xy[:, 0], xy[:, 1], 10)
    times["h3_now"] = time.process_time() - t
    assert h_old.tolist() == h_new.tolist()
    return {"rows": len(off), **{k: round(v, 3) for k, v in times.items()}}


def run_embedded(work: Path, files: list[Path], baseline_rows: int = 200_000) -> dict:
    import shutil

    import pandas as pd
    import pyarrow.parquet as pq

    from data import batch
    from data.assignment import assign_batch
    from data.embedded import EmbeddedStore

    root = work / "embedded-store"
    shutil.rmtree(root, ignore_errors=True)
    lay = layers()
    store = EmbeddedStore(str(root))
    polys, meta = lay["ward"]
    store.save_layer("ward", polys, meta, pd.DataFrame(columns=["force", "month", "offence_id", "ward"]))
    t, cpu = time.perf_counter(), time.process_time()
    rows = 0
    assign_cpu = 0.0
    for f in files:  # the Arrow path of data.ingest: batch in, assignment on distinct points, Arrow written
        off = batch.from_storage(pq.read_table(f))
        c = time.process_time()
        assignment = assign_batch(off, lay)
        assign_cpu += time.process_time() - c
        store.commit_ingest(off, assignment, {"files": [f.name], "rows": len(off)})
        rows += len(off)
    counts = store.read_assignment(levels=["ward"]).groupby(["ward", "month"]).size()
    seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
    base = compare_baseline(files, lay, baseline_rows) if baseline_rows else None
    return {"rows": rows, "seconds": seconds, "cpu": cpu, "assign_cpu": assign_cpu, "baseline": base,
            "areas": int(counts.index.get_level_values(0).nunique()), "total": int(counts.sum())}


def run_dask(work: Path, files: list[Path], workers: int) -> dict:
    """Ward counts of the embedded store on dask-geopandas (data.scale), over 3, 6 and 12 months, then the year's
    assignment written as Parquet; each on a fresh LocalCluster, so each worker peak is that run's own."""
    import datetime as dt
    import shutil

    from distributed import Client, LocalCluster

    from data.scale import aggregate_store, assign_store

    root = work / "embedded-store"
    if not (root / "catalogue.json").exists():
        raise SystemExit("the dask path reads the embedded store: run the embedded path first")
    lay = layers()

    def worker_peaks(client) -> list[float]:
        return list(client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024).values())

    flat = {}
    for months in (3, 6, 12, "assign"):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, memory_limit="3GB", dashboard_address=None)
        client = Client(cluster)
        try:
            t = time.perf_counter()
            if months == "assign":
                out_dir = work / "dask-assignment"
                shutil.rmtree(out_dir, ignore_errors=True)
                total = assign_store(root, out_dir, lay, client=client)
                areas = None
            else:
                out = aggregate_store(root, "ward", lay, months=(dt.date(2019, 1, 1), dt.date(2019, months, 1)),
                                      client=client)
                total, areas = int(out["count"].sum()), int(out["code"].nunique())
            seconds = time.perf_counter() - t
            peaks = worker_peaks(client)
            flat[months] = {"seconds": seconds, "worker_peak_mb": max(peaks), "workers_total_mb": sum(peaks),
                            "total": total, "areas": areas}
        finally:
            client.close()
            cluster.close()
    year = flat[12]
    return {"rows": year["total"], "seconds": year["seconds"], "extra_mb": year["workers_total_mb"],
            "flat": {k: round(v["worker_peak_mb"]) for k, v in flat.items() if k != "assign"},
            "seconds_by_months": {k: round(v["seconds"], 1) for k, v in flat.items() if k != "assign"},
            "assign": {"rows": flat["assign"]["total"], "seconds": round(flat["assign"]["seconds"], 1),
                       "worker_peak_mb": round(flat["assign"]["worker_peak_mb"])},
            "areas": year["areas"], "total": year["total"]}


def run_postgis(work: Path, files: list[Path]) -> dict:
    import geopandas as gpd
    import pandas as pd

    from data.assignment import assign_offences
    from data.postgis import PostGISStore
    from tests.pg import throwaway_cluster

    lay = layers()
    with throwaway_cluster() as url:
        store = PostGISStore(url)
        polys, meta = lay["ward"]
        store.save_layer("ward", polys, meta, pd.DataFrame(columns=["force", "month", "offence_id", "ward"]))
        t, cpu = time.perf_counter(), time.process_time()
        rows = 0
        for f in files:
            off = gpd.read_parquet(f)
            store.commit_ingest(off, assign_offences(off, lay), {"files": [f.name], "rows": len(off)})
            rows += len(off)
        counts = store._query("SELECT ward, month, count(*) FROM crimemap.assignment GROUP BY ward, month")
        seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
        store.close()
    return {"rows": rows, "seconds": seconds, "cpu": cpu, "areas": len({r[0] for r in counts}),
            "total": sum(r[2] for r in counts)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=YEAR_ROWS)
    ap.add_argument("--paths", default="embedded,dask,postgis")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "crimemap-bench")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--baseline-rows", type=int, default=200_000, help="rows for the old-vs-new comparison (0: skip)")
    ap.add_argument("--run", help=argparse.SUPPRESS)
    a = ap.parse_args()
    work = a.work / str(a.rows)
    if a.run:  # child: one path, report JSON
        files = build_year(a.rows, work / "input")
        result = {"embedded": lambda: run_embedded(work, files, a.baseline_rows),
                  "dask": lambda: run_dask(work, files, a.workers),
                  "postgis": lambda: run_postgis(work, files)}[a.run]()
        result["peak_mb"] = _peak_mb() + result.pop("extra_mb", 0)
        print("RESULT " + json.dumps(result))
        return
    t = time.perf_counter()
    build_year(a.rows, work / "input")
    print(f"input: {a.rows:,} rows resampled from the real street files in {time.perf_counter() - t:.1f} s "
          f"({work / 'input'})", flush=True)
    for path in a.paths.split(","):
        r = subprocess.run([sys.executable, __file__, "--rows", str(a.rows), "--work", str(a.work),
                            "--workers", str(a.workers), "--baseline-rows", str(a.baseline_rows), "--run", path],
                           capture_output=True, text=True)
        line = [x for x in r.stdout.splitlines() if x.startswith("RESULT ")]
        if r.returncode != 0 or not line:
            print(f"{path:9s} failed: {(r.stderr.strip().splitlines() or ['?'])[-1]}", flush=True)
            continue
        res = json.loads(line[0][7:])
        extra = (f"; worker peak by months 3/6/12: {res['flat']} MB, seconds {res['seconds_by_months']}; "
                 f"assignment of {res['assign']['rows']:,} rows written in {res['assign']['seconds']} s, worker "
                 f"peak {res['assign']['worker_peak_mb']} MB") if "flat" in res else ""
        cpu = f" (cpu {res['cpu']:.1f} s)" if "cpu" in res else ""
        print(f"{path:9s} {res['rows']:>10,} rows  {res['seconds']:7.1f} s{cpu}  peak {res['peak_mb']:7.0f} MB  "
              f"(ward total {res['total']:,}){extra}", flush=True)
        if res.get("baseline"):
            b = res["baseline"]
            est = res["cpu"] + res["assign_cpu"] * (b["baseline"] / b["now"] - 1)
            print(f"          baseline (per-row code before the rewrite) on the same {b['rows']:,} rows, cpu s: "
                  f"assign {b['baseline']:.2f} -> {b['now']:.2f} (x{b['baseline'] / b['now']:.1f}), "
                  f"h3 {b['h3_baseline']:.2f} -> {b['h3_now']:.2f} (x{b['h3_baseline'] / max(b['h3_now'], 1e-9):.1f}); "
                  f"identical tables. Year assign cpu {res['assign_cpu']:.1f} s; the old assignment would make the "
                  f"embedded run ~{est:.0f} cpu s (x{est / res['cpu']:.1f})", flush=True)


if __name__ == "__main__":
    main()
