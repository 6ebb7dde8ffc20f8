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
import asyncio
import math
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

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


SERVER = """
import sys, uvicorn
sys.path.insert(0, {root!r})
from api.app import create_app
from api.settings import Settings
app = create_app(Settings(store={store!r}, tokens_file={tokens!r}))
uvicorn.run(app, host="127.0.0.1", port={port}, log_level="warning", access_log=False)
"""


def start_server(store: str, tokens: Path, port: int) -> subprocess.Popen:
    import httpx

    proc = subprocess.Popen([sys.executable, "-c", SERVER.format(root=str(ROOT), store=store, tokens=str(tokens),
                                                                port=port)])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
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


async def load(base: str, paths: list[str], seconds: float, clients: int, headers: dict, once: bool = False) -> dict:
    """``clients`` workers cycling through ``paths`` for ``seconds`` (or each path once, still bounded by
    ``seconds``); latencies of completed requests."""
    import httpx

    lat: list[float] = []
    statuses: dict[int | str, int] = {}
    size = 0
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60, headers=headers) as client:
        async def worker(i: int) -> None:
            nonlocal size
            k = i
            while time.perf_counter() < stop and not (once and k >= len(paths)):
                t = time.perf_counter()
                try:
                    r = await client.get(paths[k % len(paths)])
                    code, n = r.status_code, len(r.content)
                except httpx.HTTPError as e:  # a timeout counts, at its full wait, rather than ending the run
                    code, n = type(e).__name__, 0
                lat.append(time.perf_counter() - t)
                statuses[code] = statuses.get(code, 0) + 1
                size += n
                k += clients

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(clients)))
        wall = time.perf_counter() - t0
    a = np.array(lat) * 1000
    return {"n": len(a), "p50": float(np.percentile(a, 50)), "p99": float(np.percentile(a, 99)),
            "max": float(a.max()), "rps": len(a) / wall, "statuses": statuses, "mean_bytes": size / max(len(a), 1)}


def report(name: str, r: dict, goal: str) -> None:
    print(f"{name:<34} n={r['n']:6d}  p50={r['p50']:7.1f} ms  p99={r['p99']:7.1f} ms  max={r['max']:7.1f} ms  "
          f"{r['rps']:7.1f} req/s  mean {r['mean_bytes'] / 1024:.1f} KB  status {r['statuses']}   goal: {goal}",
          flush=True)


def pages(base: str, headers: dict, parish: str, ward: str) -> None:
    import httpx

    urls = [f"/maps/parish/{parish}", f"/maps/area/ward/{ward}", f"/briefings/ward/{ward}", "/maps/hotspots",
            f"/reports/parish/{parish}", "/"]
    print("\npage HTML sizes (analyst; goal ≤ 300 KB):")
    with httpx.Client(base_url=base, timeout=120, headers=headers) as c:
        for u in urls:
            t = time.perf_counter()
            r = c.get(u)
            ms = (time.perf_counter() - t) * 1000
            kb = len(r.content) / 1024
            ok = "ok" if r.status_code == 200 and kb <= 300 else "OVER" if kb > 300 else "FAIL"
            print(f"  {u:<36} {r.status_code}  {kb:8.1f} KB  first load {ms:7.0f} ms  {ok}", flush=True)
            pub = c.get(u, headers={"Authorization": ""}) if u != "/maps/hotspots" else None
            if pub is not None:
                print(f"  {u + ' (public)':<36} {pub.status_code}  {len(pub.content) / 1024:8.1f} KB", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", help="an existing store directory (default: build one from ../shared/data)")
    ap.add_argument("--seconds", type=float, default=15.0, help="length of each timed run")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--tiles-per-zoom", type=int, default=200, help="tiles sampled per zoom (8–14)")
    ap.add_argument("--parish", default="E04000947", help="parish code for the page sizes (Wellington)")
    ap.add_argument("--ward", default="E05009967", help="ward code for the page sizes (Telford)")
    a = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    import httpx

    from api.auth import write_tokens

    with tempfile.TemporaryDirectory(prefix="crimemap-bench-") as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        store = a.store or build_store(tmp)
        if not a.store:
            print(f"built in {time.perf_counter() - t:.0f} s", flush=True)
        tokens = write_tokens(tmp / "tokens.toml", {ANALYST_TOKEN: ("analyst", None)})
        port = free_port()
        proc = start_server(store, tokens, port)
        base = f"http://127.0.0.1:{port}"
        analyst = {"Authorization": f"Bearer {ANALYST_TOKEN}"}
        try:
            tiles = tile_set(a.tiles_per_zoom)
            for who, h in (("public", {}), ("analyst", analyst)):  # first request (builds what the app caches)
                t = time.perf_counter()
                r = httpx.get(f"{base}/areas/ward", headers=h, timeout=300)
                print(f"first /areas/ward ({who}): {r.status_code} {len(r.content) / 1024:.0f} KB in "
                      f"{(time.perf_counter() - t) * 1000:.0f} ms", flush=True)
            print(f"server {base}; {a.clients} clients, {a.seconds:.0f} s per run; {len(tiles)} tiles "
                  f"(h3 + ward, z8–14)\n", flush=True)
            report("/areas/ward (public)", asyncio.run(load(base, ["/areas/ward"], a.seconds, a.clients, {})),
                   "p50 < 30 ms")
            report("/areas/ward (analyst)", asyncio.run(load(base, ["/areas/ward"], a.seconds, a.clients, analyst)),
                   "p50 < 30 ms")
            # first pass over the tile set: every tile rendered once (cold cache), at the same concurrency
            cold = asyncio.run(load(base, tiles, 4 * a.seconds, a.clients, {}, once=True))
            report("tiles, first pass (public)", cold, "p99 < 50 ms")
            report("tiles, warm (public)", asyncio.run(load(base, tiles, a.seconds, a.clients, {})), "p99 < 50 ms")
            report("tiles (analyst)", asyncio.run(load(base, tiles, a.seconds, a.clients, analyst)), "p99 < 50 ms")
            # the same with one client: service time without queueing (what 50 clients divide among themselves)
            report("/areas/ward (public, 1 client)", asyncio.run(load(base, ["/areas/ward"], 5, 1, {})),
                   "p50 < 30 ms")
            report("tiles, warm (public, 1 client)", asyncio.run(load(base, tiles, 5, 1, {})), "p99 < 50 ms")
            pages(base, analyst, a.parish, a.ward)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
