"""Benchmark: Gi* (999 permutations) on ~50,000 H3 cells, ours vs esda G_Local (cold and warm), and KDE on
1 million points at 100 m cells. Prints times and ratios; esda is the named baseline.

Run: python bench/hotspots.py [--cells 50000] [--points 1000000]
Counts are synthetic (negative binomial on a contiguous block of real res-9 cells around Worcester) so the size is
exact; the statistic is the same code path the CLI uses.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import warnings

import h3
import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cells", type=int, default=50_000)
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--permutations", type=int, default=999)
    a = ap.parse_args()
    warnings.filterwarnings("ignore")
    from geo.gistar import gistar
    from geo.kde import kde_grid
    from geo.weights import h3_kring_weights, to_libpysal

    centre = h3.latlng_to_cell(52.19, -2.22, 9)
    ring = 1
    while 3 * ring * (ring + 1) + 1 < a.cells:
        ring += 1
    cells = sorted(h3.grid_disk(centre, ring))[: a.cells]
    rng = np.random.default_rng(0)
    y = rng.negative_binomial(0.3, 0.2, size=len(cells)).astype(float)
    t = time.perf_counter()
    w = h3_kring_weights(cells, 1)
    t_w = time.perf_counter() - t
    print(f"cells {len(cells)}, events {int(y.sum())}, k-ring weights {t_w:.2f} s")

    t = time.perf_counter()
    ours = gistar(y, w, permutations=a.permutations, seed=0)
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    gistar(y, w, permutations=a.permutations, seed=1)
    t_ours2 = time.perf_counter() - t

    # esda cold = a fresh interpreter (numba compile + import), warm = second call in the same process
    code = (
        "import time,warnings,numpy as np;warnings.filterwarnings('ignore');t=time.perf_counter();"
        "from esda.getisord import G_Local;import sys;"
        "from libpysal.weights import WSP;import scipy.sparse as sp;"
        f"d=np.load('{'/tmp/bench_hot.npz'}');w=sp.csr_matrix((d['data'],d['indices'],d['indptr']),shape=tuple(d['shape']));"
        "W=WSP(w).to_W(silence_warnings=True);t0=time.perf_counter();"
        f"g=G_Local(d['y'],W,transform='B',star=True,permutations={a.permutations},seed=0);t1=time.perf_counter();"
        f"g=G_Local(d['y'],W,transform='B',star=True,permutations={a.permutations},seed=1);t2=time.perf_counter();"
        "np.save('/tmp/bench_hot_z.npy',g.Zs);print(t1-t0,t2-t1)"
    )
    np.savez("/tmp/bench_hot.npz", y=y, data=w.data, indices=w.indices, indptr=w.indptr, shape=np.array(w.shape))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    e_cold, e_warm = map(float, r.stdout.split())
    zdiff = np.abs(np.load("/tmp/bench_hot_z.npy") - ours.Zs).max()
    print(
        f"Gi* {a.permutations} perms  ours first {t_ours:.2f} s, again {t_ours2:.2f} s | "
        f"esda cold {e_cold:.2f} s, warm {e_warm:.2f} s | max |z diff| {zdiff:.1e}"
    )
    print(f"ratio esda/ours: cold {e_cold / t_ours:.2f}x, warm {e_warm / t_ours2:.2f}x")
    del to_libpysal

    xy = np.column_stack([rng.normal(385_000, 15_000, a.points), rng.normal(255_000, 15_000, a.points)])
    t = time.perf_counter()
    g = kde_grid(xy, cell_size=100, bandwidth=500)
    t_kde = time.perf_counter() - t
    print(
        f"KDE quartic {a.points} points, 100 m cells ({g.density.shape[1]}x{g.density.shape[0]}), h 500 m: "
        f"{t_kde:.2f} s; integral {g.cell_counts().sum():.1f}"
    )


if __name__ == "__main__":
    main()
