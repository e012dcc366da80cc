"""Serving an ASGI app with uvicorn on a socket bound beforehand. uvicorn binds its port only after the app's
startup, so a busy port failed late, after a worker had connected to the broker, with a traceback from its
shutdown; bound first, it fails before anything starts, and port 0 names the free port it got."""

import socket
from typing import Any

import uvicorn


def listening_socket(host: str, port: int) -> socket.socket:
    """Bound to `host`:`port` (0: a free port); an OSError when it cannot be (a port in use)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: past connections' TIME_WAIT
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def serve(app: Any, sock: socket.socket, log_level: str | None = None, http: type | str = "auto") -> None:
    """Serve until SIGTERM/SIGINT (uvicorn's handling: in-flight requests finish, then the signal is raised again);
    logging as the process configured it, uvicorn's loggers at `log_level` when given; `http`: uvicorn's HTTP
    protocol (a class of its own for the console)."""
    uvicorn.Server(uvicorn.Config(app, log_config=None, log_level=log_level, http=http)).run(sockets=[sock])
