"""Free loopback ports: picked once per service, then checked before each start."""

from __future__ import annotations

import socket

from stacktap.devcloud.services import HOST


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # NOTE: gunicorn binds with SO_REUSEADDR, so a port in TIME_WAIT after a restart is free for it.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError:
        sock.close()
        raise
    return sock


def pick_free_port(avoid: set[int] | frozenset[int] = frozenset()) -> int:
    """A port the kernel says is free now on 127.0.0.1 (not one in ``avoid``)."""
    while True:
        with _bind(0) as sock:
            port = int(sock.getsockname()[1])
        if port not in avoid:
            return port


def is_free(port: int) -> bool:
    """True when nothing listens on (or holds) 127.0.0.1:``port``."""
    try:
        _bind(port).close()
    except OSError:
        return False
    return True
