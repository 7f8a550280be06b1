"""Free loopback ports: a picked port is bindable; a listening one is not free."""

from __future__ import annotations

import socket

from stacktap.devcloud.ports import is_free, pick_free_port


def test_picked_port_is_free_and_avoids_the_given_ones() -> None:
    first = pick_free_port()
    assert is_free(first)
    assert pick_free_port(avoid={first}) != first


def test_a_listening_port_is_not_free() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert not is_free(port)
    assert is_free(port)
