"""A throwaway PostgreSQL/PostGIS cluster for tests and benchmarks.

``throwaway_cluster()`` runs ``initdb`` in a temporary directory (as the ``postgres`` user when running as
root, because initdb refuses root), starts it on a free port with its unix socket inside that directory,
yields a ``postgresql://`` URL and stops and removes it afterwards. ``CRIMEMAP_TEST_PG_URL`` skips all that
and uses the given server instead.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

ENV_URL = "CRIMEMAP_TEST_PG_URL"


class ClusterUnavailable(RuntimeError):
    """PostgreSQL/PostGIS binaries are missing or the cluster did not start."""


def find_bindir() -> Path:
    """The newest ``/usr/lib/postgresql/N/bin`` whose server has the PostGIS extension installed."""
    candidates = []
    for bindir in Path("/usr/lib/postgresql").glob("*/bin"):
        version = bindir.parent.name
        has_postgis = any(Path(f"/usr/share/postgresql/{version}/extension").glob("postgis.control"))
        if (bindir / "initdb").exists() and has_postgis and version.isdigit():
            candidates.append((int(version), bindir))
    if os.environ.get("PG_BINDIR"):
        return Path(os.environ["PG_BINDIR"])
    if not candidates:
        raise ClusterUnavailable(
            "no PostgreSQL server with PostGIS under /usr/lib/postgresql (apt-get install postgresql-15-postgis-3)"
        )
    return max(candidates)[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[str]:
    """Yield the URL of a running PostgreSQL/PostGIS cluster that is removed afterwards."""
    if os.environ.get(ENV_URL):
        yield os.environ[ENV_URL]
        return
    bindir = find_bindir()
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    root = Path(tempfile.mkdtemp(prefix="crimemap-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    started = False
    try:
        r = subprocess.run([*as_postgres, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                            "-E", "UTF8", "--no-sync"], capture_output=True, text=True)
        if r.returncode != 0:
            raise ClusterUnavailable(f"initdb failed: {(r.stderr.strip().splitlines() or ['?'])[-1]}")
        port = _free_port()
        options = (f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
                   "-c full_page_writes=off -c max_wal_size=2GB")
        r = subprocess.run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-o", options,
                            "-l", str(root / "log"), "-w", "-t", "60", "start"], capture_output=True, text=True)
        if r.returncode != 0:
            log = (root / "log").read_text(errors="replace") if (root / "log").exists() else ""
            raise ClusterUnavailable(f"pg_ctl start failed: {(log.strip().splitlines() or [r.stderr.strip()])[-1]}")
        started = True
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        if started:
            subprocess.run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                           capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def database_url(url: str, name: str) -> str:
    """The same server, another database.

    Examples
    --------
    >>> database_url("postgresql://postgres@127.0.0.1:5432/postgres", "t1")
    'postgresql://postgres@127.0.0.1:5432/t1'
    """
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


def create_database(url: str, name: str, template: str | None = None) -> str:
    """Create (or re-create) database ``name`` on the server of ``url``; return its URL."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return database_url(url, name)
