"""The traced process's line to ``stacktap run``'s collector: a Unix socket, used by the writer.

``Relay.send()`` is called by the recorder's writer thread with a batch of exchanges; it
answers False when the collector cannot take them (never reached, gone, or saying bye), and
from then on always False: the recorder then stores the batch, and all later ones, in this
process, as it does without a collector. Nothing is lost either way.

NOTE: standard library only, Python 3.8+ (runs inside traced programs).
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from typing import TYPE_CHECKING, List, Optional, Sequence, Tuple

from stacktap.agent import wire

if TYPE_CHECKING:
    from stacktap.agent.exchange import Exchange

#: ``(run_id, service, body_cap)``: what the collector needs to know to enrich the records.
Settings = Tuple[str, Optional[str], int]

#: Seconds to connect (a local socket either answers at once or not at all).
CONNECT_TIMEOUT = 2.0


class Relay(object):
    """One connection per process (made on the first batch; a forked child makes its own)."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._sock: Optional[socket.socket] = None
        self._settings: Optional[Settings] = None
        #: Set once the collector can no longer take records.
        self.closed = False

    def send(self, settings: Settings, exchanges: Sequence[Exchange]) -> bool:
        """Send a batch; False when the caller must store it itself."""
        if self.closed:
            return False
        try:
            sock = self._sock or self._connect()
            if self._collector_said_bye(sock):
                self._say_bye(sock)
                return False
            frames: List[bytes] = []
            if settings != self._settings:
                run_id, service, body_cap = settings
                argv = list(getattr(sys, "argv", None) or [])
                frames.append(wire.hello(os.getpid(), argv, run_id, service, body_cap))
            frames.extend(wire.exchange_frames(exchanges))
            # NOTE: sendall releases the GIL while it waits: the program runs meanwhile.
            sock.sendall(b"".join(frames))
            self._settings = settings
            return True
        except (OSError, ValueError):
            # NOTE: a frame cut short by a failed sendall is dropped by the collector, so a
            # batch is stored either there or here (a record both sent whole and stored
            # here again has the same span id: the store keeps one).
            self._close()
            return False

    def poll(self) -> None:
        """Answer a collector that said bye (called by an idle writer, cheap)."""
        sock = self._sock
        if sock is None or self.closed:
            return
        try:
            if self._collector_said_bye(sock):
                self._say_bye(sock)
        except OSError:
            self._close()

    def _connect(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(CONNECT_TIMEOUT)
            sock.connect(self.address)
            sock.settimeout(None)
        except OSError:
            sock.close()
            raise
        self._sock = sock
        return sock

    @staticmethod
    def _collector_said_bye(sock: socket.socket) -> bool:
        try:
            sock.recv(len(wire.BYE_BYTES), socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False  # NOTE: nothing to read: the collector is listening
        return True  # NOTE: its bye, or the end of the stream: it is gone either way

    def _say_bye(self, sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.sendall(wire.frame((wire.BYE,)))
        self._close()

    def _close(self) -> None:
        self.closed = True
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()
