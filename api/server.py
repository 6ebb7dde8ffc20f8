"""Running the app under uvicorn: one process, or several workers sharing one listening socket."""

from __future__ import annotations

import json
import os
import socket

import uvicorn
from uvicorn.supervisors import Multiprocess

from api.settings import Settings


class NoDelayConfig(uvicorn.Config):
    """uvicorn's config with TCP_NODELAY on the listening socket.

    With workers, uvicorn binds the socket itself as ``socket(AF_INET)``: its protocol number is 0, so asyncio
    does not take the accepted connections for TCP and leaves Nagle's algorithm on. Every answer is two writes
    (headers, then body) and the body waits for the client's delayed ACK: 40 ms per request on Linux, for a tile
    served in 0.2 ms. Accepted sockets inherit the option from the listening one on Linux.
    """

    def bind_socket(self) -> socket.socket:
        sock = super().bind_socket()
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock


def serve(settings: Settings, workers: int = 1) -> None:
    """Serve ``settings`` with uvicorn: the app object itself, or ``workers`` processes each building its own.

    Several workers use several cores (each keeps its own caches, so each pays its own first requests); uvicorn
    starts them from ``api.app:create_app``, with the settings passed in the environment (``CRIMEMAP_*``), which
    is where ``Settings`` reads them. This is ``uvicorn.run`` for both cases, with ``NoDelayConfig``.
    """
    if workers <= 1:
        from api.app import create_app

        uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning")
        return
    os.environ.update(settings_env(settings))
    config = NoDelayConfig("api.app:create_app", factory=True, workers=workers, host=settings.host,
                           port=settings.port, log_level="warning")
    Multiprocess(config, sockets=[config.bind_socket()]).run()


def settings_env(settings: Settings) -> dict[str, str]:
    """``CRIMEMAP_<FIELD>`` variables that make ``Settings()`` equal to ``settings`` (for worker processes).

    Examples
    --------
    >>> env = settings_env(Settings(store="/tmp/s", warm=["/areas/ward"], demo=True))
    >>> env["CRIMEMAP_STORE"], env["CRIMEMAP_WARM"], env["CRIMEMAP_DEMO"]
    ('/tmp/s', '["/areas/ward"]', 'true')
    """
    env = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, list | dict | tuple):
            text = json.dumps(value)
        else:
            text = str(value)
        env[f"CRIMEMAP_{name.upper()}"] = text
    return env
