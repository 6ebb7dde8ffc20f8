"""Benchmark: the web service on a live server on loopback — 50 concurrent clients for a bounded time on
/areas/ward and on a West Mercia tile set at zooms 8–14 (h3 and ward layers), printing p50, p99 and requests/s;
then the HTML size of each page. Goals (issue 7): tile p99 < 50 ms, /areas/ward p50 < 30 ms, pages ≤ 300 KB.

Run: python bench/api.py [--store DIR] [--seconds 15] [--clients 50]
Without --store, a store is built in a temporary folder from every ../shared/data West Mercia street file, the 2019
wards and the approximate parishes. uvicorn (one worker) runs ``create_app`` in a subprocess on a free 127.0.0.1
port; the load comes from one asyncio process (httpx.AsyncClient, 50 connections), so on a small machine client
and server share the CPUs and the figures are an upper bound on latency.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
STREET = SHARED / "crime" / "street" / "west-mercia"
WARDS = SHARED / "boundaries" / "wards" / "wards_dec2019_west_mercia.geojson"
PARISHES = SHARED / "boundaries" / "parish" / "par_oa_dissolved_west_mercia.geojson"
#: West Mercia (Shropshire, Telford, Herefordshire, Worcestershire): lon/lat box
WEST_MERCIA = (-3.24, 51.83, -1.75, 53.00)
ANALYST_TOKEN = "bench-analyst-token"


def build_store(where: Path) -> str:
    """A store of every shared West Mercia month, wards 2019 and approximate parishes."""
    from boundaries.layers import read_boundary_file
    from data.ingest import ingest, reassign_all
    from data.store import open_store

    st = open_store(where / "store")
    files = sorted(str(p) for p in STREET.glob("*.csv.gz"))
    ingest(st, files)
    for level, path in (("ward", WARDS), ("parish", PARISHES)):
        layer, meta = read_boundary_file(path, level)
        st.save_layer(level, layer, meta, reassign_all(st, (level, layer, meta)))
    print(f"store: {len(files)} months, wards, parishes -> {st.location}", flush=True)
    return st.location


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(store: str, tokens: Path, port: int, workers: int) -> subprocess.Popen:
    """``crimemap serve --workers N`` on 127.0.0.1:``port`` (this tree's code), once /health answers."""
    import httpx

    cmd = [sys.executable, "-c", "from api.cli import main; main()", "serve", "--store", store, "--tokens",
           str(tokens), "--port", str(port), "--workers", str(workers)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                time.sleep(1.0 if workers > 1 else 0)  # the other workers finish starting
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise SystemExit("server did not answer /health within 120 s")


def tile_xy(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def tile_set(per_zoom: int, seed: int = 0) -> list[str]:
    """Tiles covering West Mercia at zooms 8–14 (all of them, or ``per_zoom`` sampled), for the h3 and ward layers."""
    rng = random.Random(seed)
    minlon, minlat, maxlon, maxlat = WEST_MERCIA
    out = []
    for z in range(8, 15):
        x0, y0 = tile_xy(minlon, maxlat, z)
        x1, y1 = tile_xy(maxlon, minlat, z)
        tiles = [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
        if len(tiles) > per_zoom:
            tiles = rng.sample(tiles, per_zoom)
        for layer in ("h3", "ward"):
            out += [f"/tiles/{layer}/{z}/{x}/{y}.mvt" for x, y in tiles]
    rng.shuffle(out)
    return out


def report(name: str, r: dict, goal: str = "") -> None:
    per = r["server_cpu"] / max(r["n"], 1) * 1e6
    print(f"{name:<36} n={r['n']:6d}  p50={r['p50']:7.1f} ms  p99={r['p99']:7.1f} ms  max={r['max']:7.1f} ms  "
          f"{r['rps']:7.1f} req/s  mean {r['mean_bytes'] / 1024:6.1f} KB  status {r['statuses']}  "
          f"server CPU {r['server_cpu'] / r['wall']:.2f} cores ({per:,.0f} µs/req), load generator "
          f"{r['client_cpu'] / r['wall']:.2f} cores" + (f"   goal: {goal}" if goal else ""), flush=True)


def pages(base: str, headers: dict, parish: str, ward: str) -> list[float]:
    """Each page's HTML size in KB (analyst, and public where the page is public); prints them."""
    import httpx

    sizes = []
    urls = [f"/maps/parish/{parish}", f"/maps/area/ward/{ward}", f"/briefings/ward/{ward}", "/maps/hotspots",
            f"/reports/parish/{parish}", "/"]
    print("\npage HTML sizes (analyst; goal ≤ 300 KB):")
    with httpx.Client(base_url=base, timeout=120, headers=headers) as c:
        for u in urls:
            t = time.perf_counter()
            r = c.get(u)
            ms = (time.perf_counter() - t) * 1000
            kb = len(r.content) / 1024
            sizes.append(kb)
            ok = "ok" if r.status_code == 200 and kb <= 300 else "OVER" if kb > 300 else "FAIL"
            print(f"  {u:<36} {r.status_code}  {kb:8.1f} KB  first load {ms:7.0f} ms  {ok}", flush=True)
            pub = c.get(u, headers={"Authorization": ""}) if u != "/maps/hotspots" else None
            if pub is not None:
                print(f"  {u + ' (public)':<36} {pub.status_code}  {len(pub.content) / 1024:8.1f} KB", flush=True)
                sizes.append(len(pub.content) / 1024)
    return sizes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", help="an existing store directory (default: build one from ../shared/data)")
    ap.add_argument("--seconds", type=float, default=15.0, help="length of each timed run")
    ap.add_argument("--clients", type=int, default=50, help="connections, each with one request in flight")
    ap.add_argument("--workers", type=int, default=1, help="server processes (crimemap serve --workers)")
    ap.add_argument("--load-procs", type=int, default=1, help="processes the load generator spreads clients over")
    ap.add_argument("--tiles-per-zoom", type=int, default=200, help="tiles sampled per zoom (8–14)")
    ap.add_argument("--parish", default="E04000947", help="parish code for the page sizes (Wellington)")
    ap.add_argument("--ward", default="E05009967", help="ward code for the page sizes (Telford)")
    a = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    import httpx
    import uvicorn
    from loadgen import check, load, process_tree_cpu  # beside this script

    from api.auth import write_tokens

    with tempfile.TemporaryDirectory(prefix="crimemap-bench-") as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        store = a.store or build_store(tmp)
        if not a.store:
            print(f"built in {time.perf_counter() - t:.0f} s", flush=True)
        tokens = write_tokens(tmp / "tokens.toml", {ANALYST_TOKEN: ("analyst", None)})
        port = free_port()
        impl = {m: importlib.util.find_spec(m) is not None for m in ("uvloop", "httptools")}
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} before the run "
              "(shared with other work)", flush=True)
        loop, parser = "uvloop" if impl["uvloop"] else "asyncio", "httptools" if impl["httptools"] else "h11"
        print(f"server: crimemap serve --workers {a.workers} (uvicorn {uvicorn.__version__}, event loop {loop}, "
              f"HTTP parser {parser})", flush=True)
        print(f"load: {a.clients} keep-alive connections with one request in flight each, over {a.load_procs} "
              f"process(es) (bench/loadgen.py), Accept-Encoding gzip, full bodies read; same machine", flush=True)
        proc = start_server(store, tokens, port, a.workers)
        base = f"http://127.0.0.1:{port}"
        analyst = {"Authorization": f"Bearer {ANALYST_TOKEN}"}
        results: dict[str, dict] = {}

        def run(name, paths, seconds, clients, headers=None, goal="", **kw) -> dict:
            cpu = process_tree_cpu(proc.pid)
            r = load("127.0.0.1", port, paths, seconds, clients, procs=a.load_procs, headers=headers, **kw)
            r["server_cpu"] = process_tree_cpu(proc.pid) - cpu
            report(name, r, goal)
            results[name] = r
            return r

        try:
            tiles = tile_set(a.tiles_per_zoom)
            for who, h in (("public", {}), ("analyst", analyst)):  # first request (builds what the app caches)
                t = time.perf_counter()
                r = httpx.get(f"{base}/areas/ward", headers=h, timeout=300)
                print(f"first /areas/ward ({who}): {r.status_code} {len(r.content) / 1024:.0f} KB in "
                      f"{(time.perf_counter() - t) * 1000:.0f} ms", flush=True)
            tags = check(base, ["/areas/ward"])
            print(f"{a.clients} clients, {a.seconds:.0f} s per run; {len(tiles)} tiles (h3 + ward, z8–14)\n",
                  flush=True)
            if a.workers > 1:  # every worker builds its own caches: warm them all before timing warm requests
                for h in ({}, analyst):
                    load("127.0.0.1", port, ["/areas/ward"], 3, a.clients, procs=a.load_procs, headers=h)
            run("/areas/ward (public)", ["/areas/ward"], a.seconds, a.clients, {}, "p50 < 30 ms")
            run("/areas/ward (analyst)", ["/areas/ward"], a.seconds, a.clients, analyst, "p50 < 30 ms")
            # first pass over the tile set: every tile rendered once (cold cache), at the same concurrency
            run("tiles, first pass (public, cold)", tiles, 4 * a.seconds, a.clients, {}, "p99 < 50 ms", once=True)
            if a.workers > 1:  # a tile one worker rendered is cold in the others
                run("tiles, warm-up of every worker", tiles, 2 * a.seconds, a.clients, {})
            run("tiles, warm (public)", tiles, a.seconds, a.clients, {}, "p99 < 50 ms")
            run("tiles (analyst, first pass then warm)", tiles, a.seconds, a.clients, analyst, "p99 < 50 ms")
            run("tiles (analyst, warm)", tiles, a.seconds, a.clients, analyst, "p99 < 50 ms")
            # the same with one client: service time without queueing (what 50 clients divide among themselves)
            run("/areas/ward (public, 1 client)", ["/areas/ward"], 5, 1, {})
            run("tiles, warm (public, 1 client)", tiles, 5, 1, {})
            # revalidation (a browser that holds the answer): not the headline figure
            run("/areas/ward (public, If-None-Match)", ["/areas/ward"], 5, a.clients, {}, etags=tags)
            sizes = pages(base, analyst, a.parish, a.ward)
            summary(results, sizes, a)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def summary(results: dict, sizes: list[float], a) -> None:
    """Figures against the goals of issue 7, and the 1-client baseline of the same run."""
    def verdict(value, limit):
        return "met" if value < limit else "NOT met"

    rows = [("/areas/ward p50 (public)", results["/areas/ward (public)"]["p50"], 30),
            ("/areas/ward p50 (analyst)", results["/areas/ward (analyst)"]["p50"], 30),
            ("tiles p99, warm (public)", results["tiles, warm (public)"]["p99"], 50),
            ("tiles p99, warm (analyst)", results["tiles (analyst, warm)"]["p99"], 50),
            ("tiles p99, first pass (cold)", results["tiles, first pass (public, cold)"]["p99"], 50)]
    print(f"\nagainst the goals ({a.clients} clients, {a.workers} worker(s), full gzip responses):")
    for name, v, limit in rows:
        print(f"  {name:<32} {v:8.1f} ms   goal < {limit} ms   {verdict(v, limit)}")
    print(f"  {'largest page':<32} {max(sizes):8.1f} KB   goal ≤ 300 KB   {'met' if max(sizes) <= 300 else 'NOT met'}")
    print("baseline, same server and run (1 client → 50 clients):")
    for what, one, many in (("/areas/ward", "/areas/ward (public, 1 client)", "/areas/ward (public)"),
                            ("tiles, warm", "tiles, warm (public, 1 client)", "tiles, warm (public)")):
        r1, rn = results[one], results[many]
        print(f"  {what:<12} p50 {r1['p50']:6.2f} → {rn['p50']:6.1f} ms (×{rn['p50'] / r1['p50']:.1f}), "
              f"p99 {r1['p99']:6.2f} → {rn['p99']:6.1f} ms, {r1['rps']:7.0f} → {rn['rps']:7.0f} req/s "
              f"(×{rn['rps'] / r1['rps']:.1f})")


if __name__ == "__main__":
    main()
