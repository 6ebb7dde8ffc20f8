"""Benchmark: the web service on a live server on loopback — 50 concurrent clients for a bounded time on
/areas/ward and on a West Mercia tile set at zooms 8–14 (h3 and ward layers), printing p50, p99 and requests/s;
then the HTML size of each page. Goals (issue 7): tile p99 < 50 ms, /areas/ward p50 < 30 ms, pages ≤ 300 KB.

Run: python bench/api.py [--store DIR] [--seconds 15] [--clients 50] [--workers 2] [--load-procs 1]
Without --store, a store is built in a temporary folder from every ../shared/data West Mercia street file, the 2019
wards and the approximate parishes. ``crimemap serve --workers N`` runs in a subprocess on a free 127.0.0.1 port.

The load generator is in this file: keep-alive HTTP/1.1 connections on asyncio streams, each with one request in
flight at a time, in one or more processes of their own (``--load-procs``). It sends what a browser sends for a
tile or a GeoJSON fetch (``Accept-Encoding: gzip, deflate, br``, a bearer token for the analyst runs) and reads
every response in full (headers and the whole body) before timing it; it does not inflate gzip bodies (a browser
does that after the response has arrived, on its own CPU) — ``check`` fetches through httpx, which does, to make
sure what is timed is a valid answer. A run with If-None-Match (revalidation) is reported apart from the headline.
Each run also prints the server's CPU per request (from /proc, over the server's process tree), the load
generator's CPU and the share of answers served from the server's response cache. Client and server share the
machine's CPUs (and, on a shared machine, with other work: the load average is printed), so the latencies are
an upper bound.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import math
import multiprocessing as mp
import os
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


def start_server(store: str, tokens: Path, port: int, workers: int) -> subprocess.Popen:
    """``crimemap serve --workers N`` on 127.0.0.1:``port`` (this tree's code), once /health answers."""
    import httpx

    cmd = [sys.executable, "-c", "from api.cli import main; main()", "serve", "--store", store, "--tokens",
           str(tokens), "--port", str(port)] + (["--workers", str(workers)] if workers != 1 else [])
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


ACCEPT = "gzip, deflate, br"


def _request(host: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "User-Agent: crimemap-bench", "Accept: */*",
             f"Accept-Encoding: {ACCEPT}", *(f"{k}: {v}" for k, v in headers.items() if v)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, int, bool, bool]:
    """Status, body bytes, whether the server keeps the connection open, and whether the answer came from the
    server's response cache (``X-Crimemap-Cache: hit``)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, chunked, close, hit = None, False, False, False
    for line in lines[1:]:
        k, _, v = line.partition(":")
        k = k.strip().lower()
        if k == "content-length":
            length = int(v)
        elif k == "transfer-encoding" and "chunked" in v.lower():
            chunked = True
        elif k == "connection" and v.strip().lower() == "close":
            close = True
        elif k == "x-crimemap-cache":
            hit = v.strip() == "hit"
    if chunked:
        n = 0
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size:
                n += len(await reader.readexactly(size))
            await reader.readexactly(2)
            if not size:
                return status, n, not close, hit
    if length is not None:
        return status, len(await reader.readexactly(length)), not close, hit
    if status in (204, 304) or 100 <= status < 200:
        return status, 0, not close, hit
    return status, len(await reader.read()), False, hit


async def _run(host: str, port: int, paths: list[str], clients: int, start: float, stop: float, once: bool,
               headers: dict[str, str], etags: dict[str, str] | None) -> dict:
    lat: list[float] = []
    statuses: dict[str, int] = {}
    size = hits = 0
    reqs = {p: _request(f"{host}:{port}", p, {**headers, "If-None-Match": (etags or {}).get(p, "")})
            for p in set(paths)}

    async def worker(i: int) -> None:
        nonlocal size, hits
        reader, writer = await asyncio.open_connection(host, port)
        await asyncio.sleep(max(0.0, start - time.monotonic()))
        k = i
        try:
            while time.monotonic() < stop and not (once and k >= len(paths)):
                path = paths[k % len(paths)]
                t = time.perf_counter()
                try:
                    writer.write(reqs[path])
                    status, n, keep, hit = await _read_response(reader)
                    code = str(status)
                except (OSError, asyncio.IncompleteReadError, ValueError) as e:
                    code, n, keep, hit = type(e).__name__, 0, False, False
                lat.append(time.perf_counter() - t)
                statuses[code] = statuses.get(code, 0) + 1
                size += n
                hits += hit
                k += clients
                if not keep:
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
        finally:
            writer.close()

    await asyncio.gather(*(worker(i) for i in range(clients)))
    end = time.monotonic()
    return {"lat": lat, "statuses": statuses, "bytes": size, "hits": hits, "end": end, "cpu": time.process_time()}


def _process(args) -> dict:
    host, port, paths, clients, start, stop, once, headers, etags = args
    t0 = time.process_time()
    r = asyncio.run(_run(host, port, paths, clients, start, stop, once, headers, etags))
    r["cpu"] -= t0
    return r


def load(host: str, port: int, paths: list[str], seconds: float, clients: int, *, procs: int = 1,
         headers: dict[str, str] | None = None, once: bool = False, etags: dict[str, str] | None = None) -> dict:
    """``clients`` connections (split over ``procs`` processes) cycling through ``paths`` for ``seconds`` (or
    through each path once when ``once``, still bounded by ``seconds``); latency percentiles in ms, requests
    per second, statuses, mean body bytes as sent (gzip where the server gzips), the share of answers sent from
    the server's response cache and the load generator's own CPU seconds."""
    procs = max(1, min(procs, clients))
    share = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
    start = time.monotonic() + 0.5 + 0.1 * procs  # every connection opened before the clock starts
    stop = start + seconds
    jobs, first = [], 0
    for n in share:
        # with ``once``, process j takes the paths of its own clients (client i takes i, i + clients, …)
        mine = [paths[k] for k in range(len(paths)) if first <= k % clients < first + n] if once else paths
        jobs.append((host, port, mine, n, start, stop, once, headers or {}, etags))
        first += n
    if procs == 1:
        parts = [_process(jobs[0])]
    else:
        with mp.get_context("fork").Pool(procs) as pool:
            parts = pool.map(_process, jobs)
    lat = np.concatenate([np.asarray(p["lat"], dtype=float) for p in parts]) * 1000
    statuses: dict[str, int] = {}
    for p in parts:
        for k, v in p["statuses"].items():
            statuses[k] = statuses.get(k, 0) + v
    wall = max(p["end"] for p in parts) - start
    return {"n": len(lat), "p50": float(np.percentile(lat, 50)) if len(lat) else float("nan"),
            "p99": float(np.percentile(lat, 99)) if len(lat) else float("nan"),
            "max": float(lat.max()) if len(lat) else float("nan"), "rps": len(lat) / wall, "wall": wall,
            "statuses": statuses, "mean_bytes": sum(p["bytes"] for p in parts) / max(len(lat), 1),
            "hit_share": sum(p["hits"] for p in parts) / max(len(lat), 1),
            "client_cpu": sum(p["cpu"] for p in parts), "procs": procs}


def check(base: str, paths: list[str], headers: dict[str, str] | None = None) -> dict[str, str]:
    """Each path once with httpx (gzip inflated, as a browser does): 200 and a non-empty body, or SystemExit.
    Returns the ETags (for a revalidation run)."""
    import httpx

    tags = {}
    with httpx.Client(base_url=base, timeout=120, headers={**(headers or {}), "Accept-Encoding": ACCEPT}) as c:
        for p in paths:
            r = c.get(p)
            if r.status_code != 200:
                raise SystemExit(f"{p} -> {r.status_code}: {r.text[:200]}")
            tags[p] = r.headers.get("etag", "")
    return tags


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and every process under it (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    cpu: dict[int, float] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(d))
        cpu[int(d)] = (int(fields[11]) + int(fields[12])) / tick
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += cpu.get(p, 0.0)
        todo += children.get(p, [])
    return total


def report(name: str, r: dict, goal: str = "") -> None:
    per = r["server_cpu"] / max(r["n"], 1) * 1e6
    print(f"{name:<36} n={r['n']:6d}  p50={r['p50']:7.1f} ms  p99={r['p99']:7.1f} ms  max={r['max']:7.1f} ms  "
          f"{r['rps']:7.1f} req/s  mean {r['mean_bytes'] / 1024:6.1f} KB  status {r['statuses']}  "
          f"cache hits {100 * r['hit_share']:.1f} %  "
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
    ap.add_argument("--workers", type=int, default=2, help="server processes (crimemap serve --workers)")
    ap.add_argument("--load-procs", type=int, default=1, help="processes the load generator spreads clients over")
    ap.add_argument("--tiles-per-zoom", type=int, default=200, help="tiles sampled per zoom (8–14)")
    ap.add_argument("--parish", default="E04000947", help="parish code for the page sizes (Wellington)")
    ap.add_argument("--ward", default="E05009967", help="ward code for the page sizes (Telford)")
    a = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    import httpx
    import uvicorn

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
              f"process(es) (this script's load generator), Accept-Encoding gzip, full bodies read; same machine",
              flush=True)
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

            def warm(name, paths, headers) -> None:
                """Passes over ``paths`` on fresh connections (which uvicorn's workers take as they come), rotated
                so each path reaches other workers, until two passes in a row are answered wholly from the response
                cache (each worker keeps its own) or 20 passes were made."""
                clean = 0
                for i in range(20):
                    k = (i * 7919) % len(paths)
                    once = len(paths) > 1
                    r = load("127.0.0.1", port, paths[k:] + paths[:k], 4 * a.seconds if once else 2, a.clients,
                             procs=a.load_procs, headers=headers, once=once)
                    clean = clean + 1 if r["hit_share"] == 1.0 else 0
                    if clean == 2:
                        break
                print(f"warm-up of every worker, {name}: {i + 1} pass(es), last {100 * r['hit_share']:.2f} % hits",
                      flush=True)

            if a.workers > 1:
                warm("/areas/ward (public)", ["/areas/ward"], {})
                warm("/areas/ward (analyst)", ["/areas/ward"], analyst)
            run("/areas/ward (public)", ["/areas/ward"], a.seconds, a.clients, {}, "p50 < 30 ms")
            run("/areas/ward (analyst)", ["/areas/ward"], a.seconds, a.clients, analyst, "p50 < 30 ms")
            for who, h in (("public", {}), ("analyst", analyst)):
                # first pass over the tile set: every tile rendered once (cold cache), at the same concurrency
                run(f"tiles, first pass ({who}, cold)", tiles, 4 * a.seconds, a.clients, h, "p99 < 50 ms", once=True)
                if a.workers > 1:  # a tile one worker rendered is cold in the others
                    warm(f"tiles ({who})", tiles, h)
                run(f"tiles, warm ({who})", tiles, a.seconds, a.clients, h, "p99 < 50 ms")
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
            ("tiles p99, warm (analyst)", results["tiles, warm (analyst)"]["p99"], 50),
            ("tiles p99, first pass (public, cold)", results["tiles, first pass (public, cold)"]["p99"], 50),
            ("tiles p99, first pass (analyst, cold)", results["tiles, first pass (analyst, cold)"]["p99"], 50)]
    print(f"\nagainst the goals ({a.clients} clients, {a.workers} worker(s), full gzip responses):")
    for name, v, limit in rows:
        print(f"  {name:<38} {v:8.1f} ms   goal < {limit} ms   {verdict(v, limit)}")
    print(f"  {'largest page':<38} {max(sizes):8.1f} KB   goal ≤ 300 KB   {'met' if max(sizes) <= 300 else 'NOT met'}")
    print("baseline, same server and run (1 client → 50 clients):")
    for what, one, many in (("/areas/ward", "/areas/ward (public, 1 client)", "/areas/ward (public)"),
                            ("tiles, warm", "tiles, warm (public, 1 client)", "tiles, warm (public)")):
        r1, rn = results[one], results[many]
        print(f"  {what:<12} p50 {r1['p50']:6.2f} → {rn['p50']:6.1f} ms (×{rn['p50'] / r1['p50']:.1f}), "
              f"p99 {r1['p99']:6.2f} → {rn['p99']:6.1f} ms, {r1['rps']:7.0f} → {rn['rps']:7.0f} req/s "
              f"(×{rn['rps'] / r1['rps']:.1f})")


if __name__ == "__main__":
    main()
