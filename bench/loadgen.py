"""A small HTTP/1.1 load generator for bench/api.py: keep-alive connections on asyncio streams, each with one
request in flight at a time, spread over one or more processes so that the client does not take the CPU the
server needs.

It sends what a browser sends for a tile or a GeoJSON fetch (``Accept-Encoding: gzip, deflate, br``, optionally
a bearer token or an ``If-None-Match``) and reads every response in full (status line, headers, the whole
``Content-Length`` or chunked body) before timing it; it does not inflate gzip bodies (a browser does that after
the response has arrived, on its own CPU). ``check`` fetches each path once with httpx, which does inflate, to
make sure what is timed is a valid answer.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import time

import numpy as np

ACCEPT = "gzip, deflate, br"


def _request(host: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "User-Agent: crimemap-bench", "Accept: */*",
             f"Accept-Encoding: {ACCEPT}", *(f"{k}: {v}" for k, v in headers.items() if v)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, int, bool]:
    """Status, body bytes, and whether the server keeps the connection open."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, chunked, close = None, False, False
    for line in lines[1:]:
        k, _, v = line.partition(":")
        k = k.strip().lower()
        if k == "content-length":
            length = int(v)
        elif k == "transfer-encoding" and "chunked" in v.lower():
            chunked = True
        elif k == "connection" and v.strip().lower() == "close":
            close = True
    if chunked:
        n = 0
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size:
                n += len(await reader.readexactly(size))
            await reader.readexactly(2)
            if not size:
                return status, n, not close
    if length is not None:
        return status, len(await reader.readexactly(length)), not close
    if status in (204, 304) or 100 <= status < 200:
        return status, 0, not close
    return status, len(await reader.read()), False


async def _run(host: str, port: int, paths: list[str], clients: int, start: float, stop: float, once: bool,
               headers: dict[str, str], etags: dict[str, str] | None) -> dict:
    lat: list[float] = []
    statuses: dict[str, int] = {}
    size = 0
    reqs = {p: _request(f"{host}:{port}", p, {**headers, "If-None-Match": (etags or {}).get(p, "")})
            for p in set(paths)}

    async def worker(i: int) -> None:
        nonlocal size
        reader, writer = await asyncio.open_connection(host, port)
        await asyncio.sleep(max(0.0, start - time.monotonic()))
        k = i
        try:
            while time.monotonic() < stop and not (once and k >= len(paths)):
                path = paths[k % len(paths)]
                t = time.perf_counter()
                try:
                    writer.write(reqs[path])
                    status, n, keep = await _read_response(reader)
                    code = str(status)
                except (OSError, asyncio.IncompleteReadError, ValueError) as e:
                    code, n, keep = type(e).__name__, 0, False
                lat.append(time.perf_counter() - t)
                statuses[code] = statuses.get(code, 0) + 1
                size += n
                k += clients
                if not keep:
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
        finally:
            writer.close()

    await asyncio.gather(*(worker(i) for i in range(clients)))
    end = time.monotonic()
    return {"lat": lat, "statuses": statuses, "bytes": size, "end": end, "cpu": time.process_time()}


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
    per second, statuses, mean body bytes as sent (gzip where the server gzips) and the load generator's own
    CPU seconds."""
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
