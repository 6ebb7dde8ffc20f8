"""Aggregate benchmark: a million stored offences counted at every level and H3 7–10, against a naive baseline.

product   ``data.aggregate.aggregate(store, level, geometry=False)`` for parish, ward, lsoa, lad, csp, pfa and
          h3:7 … h3:10, in one process with a cold cache (each call reads the store and builds its base table,
          names, population, areas and coverage: the whole analyst table).
baseline  the offences (``force, month, offence_id, crime_type, h3_10``) read from the same store and joined to the
          assignment table into one plain DataFrame, then one pandas groupby per level and per H3 resolution, with
          the H3 parents computed per row (``h3.cell_to_parent``). Counts only: no names, rates or coverage.

Both count all crime (every type but anti-social behaviour) over every loaded month; the run checks the two agree
area by area and prints the number of areas that differ (expected 0).

The store is the one bench/ingest.py builds (``--store DIR`` reuses it, e.g. ``bench/ingest.py --work W`` then
``--store W/store``); without ``--store`` it is built here from ``--rows`` street rows (not timed).

Usage: python bench/aggregate.py [--store DIR] [--rows 1000000] [--quick]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
POLYGON_LEVELS = ("parish", "ward", "lsoa", "lad", "csp", "pfa")
H3_RESOLUTIONS = (7, 8, 9, 10)
LEVELS = POLYGON_LEVELS + tuple(f"h3:{r}" for r in H3_RESOLUTIONS)


def product(store) -> tuple[dict, dict]:
    """Seconds and the count per code of every level through ``data.aggregate.aggregate``."""
    from data.aggregate import aggregate

    secs, counts = {}, {}
    for level in LEVELS:
        t = time.perf_counter()
        table = aggregate(store, level, geometry=False)
        secs[level] = time.perf_counter() - t
        counts[level] = table.set_index("code")["count"]
    return secs, counts


def baseline(store) -> tuple[dict, dict]:
    """Seconds and the count per code of every level by one groupby per level over a joined DataFrame."""
    import h3
    import pandas as pd

    from data.store import ASSIGNED_LEVELS
    from geo.record import ASB

    secs, counts = {}, {}
    t = time.perf_counter()
    off = store.read_offences(columns=["offence_id", "force", "month", "crime_type", "h3_10"])
    a = store.read_assignment(levels=list(ASSIGNED_LEVELS))
    frame = pd.DataFrame(off).merge(a, on=["force", "month", "offence_id"], how="left")
    frame = frame[frame["crime_type"] != ASB]
    secs["read + join"] = time.perf_counter() - t
    for level in POLYGON_LEVELS:
        t = time.perf_counter()
        counts[level] = frame.groupby(level).size()
        secs[level] = time.perf_counter() - t
    for res in H3_RESOLUTIONS:
        t = time.perf_counter()
        if res == 10:
            cells = frame["h3_10"]
        else:
            cells = pd.Series([h3.cell_to_parent(c, res) if isinstance(c, str) else None for c in frame["h3_10"]],
                              index=frame.index)
        counts[f"h3:{res}"] = cells.groupby(cells).size()
        secs[f"h3:{res}"] = time.perf_counter() - t
    return secs, counts


def differing(product_counts, baseline_counts) -> int:
    """Areas (outside the special rows) whose count differs between the two; areas with no offences count 0."""
    import pandas as pd

    p = product_counts.drop(["outside", "unlocated"], errors="ignore").fillna(0)
    b = baseline_counts.drop(["outside", "unlocated"], errors="ignore")
    both = pd.concat([p.rename("p"), b.rename("b")], axis=1).fillna(0)
    return int((both["p"] != both["b"]).sum())


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, help="an embedded store built by bench/ingest.py (--work W: W/store)")
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows to build a store from when --store is absent")
    ap.add_argument("--quick", action="store_true", help="--rows 100000")
    a = ap.parse_args(argv)
    from data.store import open_store

    work = None
    try:
        if a.store is not None:
            if not a.store.is_dir() or not any(a.store.iterdir()):
                raise SystemExit(f"{a.store}: empty; expected a store built by bench/ingest.py")
            store = open_store(a.store)
        else:
            import ingest as bench_ingest

            rows = 100_000 if a.quick else a.rows
            work = Path(tempfile.mkdtemp(prefix="crimemap-bench-aggregate-"))
            files = bench_ingest.write_rows(rows, work / "csv")
            store, _, _ = bench_ingest.build_store(files, work / "store")
        n = sum(store.coverage()["stored"])
        print(f"store    {store.location}: {n:,} offences, layers {', '.join(sorted(store.layers()))}")
        psecs, pcounts = product(store)
        ptotal = sum(psecs.values())
        print(f"product  {len(LEVELS)} levels in {ptotal:.2f} s = {n / ptotal:,.0f} offences/s over all levels")
        print("         " + ", ".join(f"{k} {v:.2f}" for k, v in psecs.items()))
        bsecs, bcounts = baseline(store)
        btotal = sum(bsecs.values())
        print(f"baseline {len(LEVELS)} levels in {btotal:.2f} s = {n / btotal:,.0f} offences/s over all levels")
        print("         " + ", ".join(f"{k} {v:.2f}" for k, v in bsecs.items()))
        print(f"ratio    baseline seconds / product seconds = {btotal / ptotal:.2f}x "
              f"(above 1: the product is faster; {os.cpu_count()} CPUs)")
        diffs = {lv: differing(pcounts[lv], bcounts[lv]) for lv in LEVELS}
        print("check    areas whose counts differ: " + ", ".join(f"{k} {v}" for k, v in diffs.items()))
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
