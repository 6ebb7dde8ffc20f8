"""Ingest benchmark: about a million real street rows read, validated, assigned and stored, against a naive baseline.

The input is every shared street file (../shared/data/crime/street/*/*.csv.gz, about 228,000 rows) repeated until
``--rows`` rows are written, as plain CSV files in a temporary folder. Each copy moves every distinct point of the
original a little (up to ``JITTER_DEG`` in longitude and latitude, the same offset for every offence at that point, so
the police.uk snap-point structure survives) and gives every offence with a Crime ID a new one, so no copy is a
duplicate of another. Offences with no Crime ID (anti-social behaviour) keep none: the reader hashes their content,
which the jitter makes distinct; those with no coordinates either get a made-up id, else every copy would
repeat them.

product   ``data.ingest.ingest(open_store(dir), paths)`` into a fresh embedded store that already holds the ward
          (December 2019) and parish (OA-built) layers, each loaded as ``crimemap boundaries load`` does
          (``store.save_layer(level, layer, meta, reassign_all(store, (level, layer, meta)))``); this reads,
          validates, de-duplicates, assigns (lsoa, ward, parish, lad, csp, pfa, h3) and commits the store.
baseline  pandas.read_csv of every file → GeoDataFrame → ``geopandas.sjoin`` once per level (ward, parish and the
          national LSOA 2011 polygons) → ``h3.latlng_to_cell`` per row (resolution 10). Nothing is written.

Both run in the same process on the same files; boundary files are read before either clock starts.
Goal (issue 3): product at least 3x the baseline and at least 250,000 rows/s on 2 cores.

Usage: python bench/ingest.py [--rows 1000000] [--quick] [--work DIR] [--keep] [--skip-baseline]
``--quick`` is ``--rows 100000``. ``--work DIR`` keeps the generated CSV files and the store under DIR (reused by
bench/aggregate.py ``--store DIR/store``).
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("CRIMEMAP_SHARED_DATA", ROOT.parent / "shared" / "data"))
STREET = SHARED / "crime" / "street"
WARDS = SHARED / "boundaries" / "wards" / "wards_dec2019_uk_bgc_simplified.geojson.gz"
PARISHES = SHARED / "boundaries" / "parish" / "par_oa_dissolved_ew.geojson.gz"
LSOAS = SHARED / "boundaries" / "lsoa" / "lsoa11_dec2011_ew_bsc.geojson.gz"
JITTER_DEG = 0.0005
DEFAULT_ROWS = 1_000_000
QUICK_ROWS = 100_000


def street_files() -> list[Path]:
    files = sorted(STREET.glob("*/*.csv.gz"))
    if not files:
        raise SystemExit(f"no street files under {STREET}; expected */*.csv.gz (set CRIMEMAP_SHARED_DATA)")
    return files


def write_rows(rows: int, out: Path, seed: int = 2019) -> list[Path]:
    """Plain CSV copies of the shared street files, jittered and re-identified per copy, ``rows`` rows in all."""
    import numpy as np
    import pandas as pd

    out.mkdir(parents=True, exist_ok=True)
    originals = [(p, pd.read_csv(p, dtype=str, keep_default_na=False)) for p in street_files()]
    rng = np.random.default_rng(seed)
    total = sum(len(f) for _, f in originals)
    written, left, copy = [], rows, 0
    while left > 0:
        part = min(left, total)  # the last copy takes the same share of every file, so every force is in it
        takes = [len(f) * part // total for _, f in originals]
        takes[-1] += part - sum(takes)
        left -= part
        for (p, frame), take in zip(originals, takes, strict=True):
            d = frame.iloc[:take].copy()
            lon, lat = d["Longitude"], d["Latitude"]
            has = ((lon != "") & (lat != "")).to_numpy()
            point, _ = pd.factorize(lon + "," + lat)
            n = int(point.max()) + 1 if len(point) else 0
            dx, dy = rng.uniform(-JITTER_DEG, JITTER_DEG, (2, n))
            x = pd.to_numeric(lon.where(has, None), errors="coerce").to_numpy() + dx[point]
            y = pd.to_numeric(lat.where(has, None), errors="coerce").to_numpy() + dy[point]
            d["Longitude"] = np.where(has, np.char.mod("%.6f", np.nan_to_num(x)), "")
            d["Latitude"] = np.where(has, np.char.mod("%.6f", np.nan_to_num(y)), "")
            cid = d["Crime ID"]
            d["Crime ID"] = cid.where(cid == "", cid.str.slice(0, -6) + f"c{copy:05x}")
            # id-less offences with no coordinates are identical in every copy: give them an id of their own
            bare = (cid == "").to_numpy() & ~has
            d.loc[bare, "Crime ID"] = [f"{copy:08x}{i:056x}" for i in np.flatnonzero(bare)]
            dest = out / f"copy{copy:03d}" / p.name.removesuffix(".gz")
            dest.parent.mkdir(exist_ok=True)
            d.to_csv(dest, index=False)
            written.append(dest)
        copy += 1
    return written


def load_layers(store) -> None:
    """Ward and parish layers, loaded the way ``crimemap boundaries load`` loads them."""
    from boundaries.layers import read_boundary_file
    from data.ingest import reassign_all

    for level, path in (("ward", WARDS), ("parish", PARISHES)):
        layer, meta = read_boundary_file(path, level)
        store.save_layer(level, layer, meta, reassign_all(store, (level, layer, meta)))


def build_store(files: list[Path], location: Path):
    """A fresh embedded store with ward and parish layers, then ``files`` ingested; returns (store, report, seconds)."""
    from data.ingest import ingest
    from data.store import open_store

    store = open_store(location)
    load_layers(store)
    t = time.perf_counter()
    report = ingest(store, [str(f) for f in files])
    return store, report, time.perf_counter() - t


def baseline_polygons() -> dict:
    import geopandas as gpd

    out = {}
    for level, path, code in (("ward", WARDS, "WD19CD"), ("parish", PARISHES, None), ("lsoa", LSOAS, "lsoa11_code")):
        g = gpd.read_file(gzip.decompress(path.read_bytes())).to_crs(4326)
        code = code or ("id" if "id" in g.columns else g.columns[0])
        out[level] = g[[code, "geometry"]].rename(columns={code: level})
    return out


def baseline(files: list[Path], polygons: dict) -> tuple[int, dict]:
    """The naive path: read_csv → GeoDataFrame → one sjoin per level → h3 per row. Returns (rows, level counts)."""
    import geopandas as gpd
    import h3
    import pandas as pd

    df = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    df = df[df["Longitude"].notna() & df["Latitude"].notna()].reset_index(drop=True)
    pts = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["Longitude"], df["Latitude"]), crs="EPSG:4326")
    found = {}
    for level, poly in polygons.items():
        j = gpd.sjoin(pts[["geometry"]], poly, how="left", predicate="within")
        j = j[~j.index.duplicated(keep="first")]
        pts[level] = j[level]
        found[level] = int(pts[level].notna().sum())
    pts["h3_10"] = [h3.latlng_to_cell(y, x, 10) for x, y in zip(df["Longitude"], df["Latitude"], strict=True)]
    return len(df), found


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    ap.add_argument("--quick", action="store_true", help=f"--rows {QUICK_ROWS}")
    ap.add_argument("--work", type=Path, help="keep the CSV files and the store here (default: a temporary folder)")
    ap.add_argument("--skip-baseline", action="store_true")
    a = ap.parse_args(argv)
    rows = QUICK_ROWS if a.quick else a.rows
    work = a.work or Path(tempfile.mkdtemp(prefix="crimemap-bench-ingest-"))
    try:
        t = time.perf_counter()
        files = write_rows(rows, work / "csv")
        print(f"input    {rows:,} rows in {len(files)} CSV files ({time.perf_counter() - t:.1f} s to write, untimed)")
        store_dir = work / "store"
        if store_dir.exists():
            shutil.rmtree(store_dir)
        _, report, secs = build_store(files, store_dir)
        n = report.total("rows")
        print(f"product  {n:,} rows in {secs:.2f} s = {n / secs:,.0f} rows/s "
              f"(stored {report.total('stored'):,}, duplicates {report.total('duplicates'):,}, "
              f"rejected {report.total('rejected'):,})")
        if a.skip_baseline:
            return
        polygons = baseline_polygons()
        t = time.perf_counter()
        located, found = baseline(files, polygons)
        bsecs = time.perf_counter() - t
        print(f"baseline {rows:,} rows ({located:,} located) in {bsecs:.2f} s = {rows / bsecs:,.0f} rows/s "
              f"(found: {', '.join(f'{k} {v:,}' for k, v in found.items())})")
        ratio = (n / secs) / (rows / bsecs)
        print(f"ratio    product / baseline = {ratio:.2f}x  (goal >= 3x; product goal >= 250,000 rows/s on 2 cores, "
              f"this machine has {os.cpu_count()} CPUs)")
    finally:
        if a.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
