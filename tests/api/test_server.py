"""`crimemap serve --workers N`: the settings reach every worker through the environment, the listening socket
has TCP_NODELAY (without it every answer of a multi-worker server waits ~40 ms for a delayed ACK), and the
workers answer with the roles of the tokens file."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.api.conftest import auth  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def test_settings_survive_the_environment(monkeypatch, tmp_path):
    from api.server import settings_env
    from api.settings import Settings

    s = Settings(store=str(tmp_path), port=8123, tokens_file=tmp_path / "t.toml", threshold=7, demo=True,
                 warm=["/areas/ward", "/tiles/h3/8/125/84.mvt"], response_cache_mb=12.5)
    for k in list(os.environ):
        if k.startswith("CRIMEMAP_"):
            monkeypatch.delenv(k)
    for k, v in settings_env(s).items():
        monkeypatch.setenv(k, v)
    assert Settings().model_dump() == s.model_dump()


def test_listening_socket_has_no_delay():
    from api.server import NoDelayConfig

    sock = NoDelayConfig("api.app:create_app", factory=True, host="127.0.0.1", port=0, workers=2).bind_socket()
    try:
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        sock.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_workers_serve_the_store_with_its_tokens(web_store, tokens_file):
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", "from api.cli import main; main()", "serve", "--store",
                             web_store.location, "--tokens", str(tokens_file), "--port", str(port), "--workers", "2"],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(base + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read().decode()[-2000:]
            time.sleep(0.3)
        with httpx.Client(base_url=base, timeout=120) as c:  # one connection: one worker
            lad = c.get("/areas/lad", headers=auth("analyst"))
            assert lad.status_code == 200 and lad.json()["features"]
            assert c.get("/maps/hotspots").status_code == 401
            assert c.get("/areas/ward", headers={"Authorization": "Bearer wrong"}).status_code == 401
        # fresh connections land on either worker: every one knows the store and the tokens
        for _ in range(6):
            r = httpx.get(base + "/countylines/summary", headers=auth("analyst"), timeout=60)
            assert r.status_code == 200, r.text[:200]
            assert httpx.get(base + "/countylines/summary", timeout=60).status_code in (401, 403)
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
