"""``stacktap run``'s collector: takes the client calls of every traced process of the run.

The traced processes hand their raw exchanges over a Unix socket (``stacktap.agent.relay``,
``stacktap.agent.wire``); the collector, in ``stacktap run``'s own process, gives each
connection a ``Recorder`` of its own (that process's identity, catalog and peers) whose
writer thread redacts, enriches and stores them, exactly as the traced process would have.
The program's threads are left with the cheap part (plain values, one ``sendall`` per
batch) and the heavy part runs on another core.

Stopping (``close()``, after the command exited): the collector says bye to every process
still connected (a daemon that outlived the command), reads what they had sent until they
answer bye or a few seconds pass, then stores everything it read. A process told bye stores
its later calls itself.

NOTE: standard library only (like the rest of ``stacktap.agent``), POSIX only (Unix socket).
Start-up: this module is imported by ``stacktap run`` before the command starts, so it
imports little; the reader threads load the wire format, the recorder and the enrichment
while the command starts.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from typing import TYPE_CHECKING, Any, BinaryIO, Dict, List, Optional

if TYPE_CHECKING:
    from stacktap.agent.recorder import Recorder

#: Seconds ``close()`` waits for processes still connected to answer its bye.
BYE_TIMEOUT = 3.0
#: Records read from one process before waiting for them to be stored. NOTE: the bound on
#: the collector's memory; a process sending faster than its calls can be stored then
#: waits in ``sendall`` (its socket buffer full) instead.
READ_AHEAD = 500
#: Seconds ``close()`` lets each process's recorder store what it still holds.
STORE_TIMEOUT = 60.0
#: Milliseconds a write waits for a store locked by another process before its batch goes
#: to a spill file. NOTE: shorter than the store's 10 s: ``stacktap run`` exits only once
#: everything is stored or spilled, and a spill is written back by the run's end or the
#: next open; a lock held that long otherwise delays the exit by as much.
STORE_BUSY_TIMEOUT_MS = 2000


class Collector(object):
    """Listens on a socket in a private directory; ``env_value`` is what children get."""

    def __init__(self, db: str) -> None:
        self.db = db
        self._dir = _private_dir()
        self.address = os.path.join(self._dir, "collector.sock")
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._server.bind(self.address)
            self._server.listen(64)
        except OSError:
            self._server.close()
            self._remove_dir()
            raise
        self._closing = False
        self._connections: List[_Connection] = []
        self._accepter = threading.Thread(target=self._accept_loop, name="stacktap-collector", daemon=True)
        self._accepter.start()

    def __enter__(self) -> Collector:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def _accept_loop(self) -> None:
        while not self._closing:
            try:
                conn, _ = self._server.accept()
            except OSError:
                break
            self._serve(conn)  # NOTE: even close()'s wake-up call: it only ends at once

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(None)
        connection = _Connection(self.db, conn)
        self._connections.append(connection)
        connection.start()

    def close(self, bye_timeout: float = BYE_TIMEOUT) -> None:
        """Stop listening, take what the processes still connected sent, store it all."""
        self._closing = True
        # NOTE: a call of our own wakes the accepting thread at once (closing a socket does
        # not interrupt an accept() blocked in another thread).
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as wake:
            wake.settimeout(1.0)
            wake.connect(self.address)
        self._accepter.join(1.0)
        # NOTE: connections still in the backlog (a process that connected just now) are
        # served like the others: each may hold a batch already sent.
        self._server.setblocking(False)
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                break
            self._serve(conn)
        self._server.close()
        connections = list(self._connections)
        for connection in connections:
            connection.say_bye()
        deadline = time.monotonic() + bye_timeout
        for connection in connections:
            connection.join(max(0.0, deadline - time.monotonic()))
        for connection in connections:
            connection.stop()
        self._remove_dir()

    def store_faults(self) -> Dict[str, Any]:
        """What the store did not take of the calls collected (``Recorder.stats`` summed):
        after ``close()``; ``reason`` None when it took them all."""
        total: Dict[str, Any] = {"reason": None, "waiting": 0, "where": None, "lost": 0}
        for connection in self._connections:
            stats = connection.store_faults()
            if stats is None or stats["reason"] is None:
                continue
            total["reason"] = total["reason"] or stats["reason"]
            total["where"] = total["where"] or stats["where"]
            total["waiting"] += stats["waiting"]
            total["lost"] += stats["lost"]
        return total

    def _remove_dir(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self.address)
        with contextlib.suppress(OSError):
            os.rmdir(self._dir)


def _private_dir() -> str:
    """A new directory only this user can enter (``tempfile.mkdtemp``'s rules, without
    importing ``tempfile``: ~3 ms of start-up)."""
    base = os.environ.get("TMPDIR") or "/tmp"
    for _ in range(100):
        path = os.path.join(base, "stacktap-%d-%s" % (os.getpid(), os.urandom(6).hex()))
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue
        return path
    raise FileExistsError("no free directory name in %s" % base)


class _Connection(object):
    """One traced process: a reader thread and the recorder that stores its calls."""

    def __init__(self, db: str, sock: socket.socket) -> None:
        self._db = db
        self._sock = sock
        self._recorder: Optional[Recorder] = None
        self._unsettled = 0
        self._thread = threading.Thread(target=self._read_loop, name="stacktap-collector-conn", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def say_bye(self) -> None:
        from stacktap.agent.wire import BYE_BYTES

        with contextlib.suppress(OSError):
            self._sock.sendall(BYE_BYTES)

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def stop(self) -> None:
        """End the reading (a process that never answered bye) and store what was read."""
        if self._thread.is_alive():
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
            self._thread.join(1.0)
        with contextlib.suppress(OSError):
            self._sock.close()
        if self._recorder is not None:
            self._recorder.close(STORE_TIMEOUT)

    def store_faults(self) -> Optional[Dict[str, Any]]:
        return None if self._recorder is None else self._recorder.stats

    def _read_loop(self) -> None:
        from stacktap.agent import wire
        from stacktap.agent.faults import warn_once

        try:
            with self._sock.makefile("rb") as stream:
                while True:
                    message = _read_message(stream)
                    if message is None or message[0] == wire.BYE:
                        return
                    self._handle(message)
        except (OSError, ValueError, EOFError, TypeError) as exc:
            warn_once("lost the records of a traced process: %s: %s" % (type(exc).__name__, exc))

    def _handle(self, message: tuple) -> None:
        from stacktap.agent import wire

        kind = message[0]
        if kind == wire.EXCHANGE:
            if self._recorder is None:
                raise ValueError("records before hello")
            self._recorder.submit_exchange(wire.ReceivedExchange(message[1]))
            self._unsettled += 1
            if self._unsettled >= READ_AHEAD:
                self._recorder.flush(STORE_TIMEOUT)
                self._unsettled = 0
        elif kind == wire.HELLO:
            _, version, pid, argv, run_id, service, body_cap = message
            if version != wire.PROTOCOL:
                raise ValueError("protocol %r, expected %r" % (version, wire.PROTOCOL))
            if self._recorder is None:
                from stacktap.agent.enrich import ProcessIdentity
                from stacktap.agent.recorder import Recorder

                self._recorder = Recorder(
                    environ={},
                    process=ProcessIdentity(pid, list(argv)),
                    report=False,
                    busy_timeout_ms=STORE_BUSY_TIMEOUT_MS,
                )
            else:
                self._recorder.flush()  # NOTE: new settings apply to the calls after them
            self._recorder.configure(
                db=self._db, run_id=run_id, service=service, body_cap=body_cap, enabled=True
            )


def _read_message(stream: BinaryIO) -> Optional[tuple]:
    """The next message; None at the end of the stream (a frame cut short is dropped)."""
    from stacktap.agent import wire

    prefix = stream.read(wire.LENGTH_SIZE)
    if len(prefix) < wire.LENGTH_SIZE:
        return None
    length = wire.frame_length(prefix)
    data = stream.read(length)
    if len(data) < length:
        return None
    return wire.unframe(data)
