"""The process-wide recorder: the hot path hands records over, a writer thread stores them.

``submit()``/``submit_exchange()`` never block and never raise: they put the record on a
``queue.SimpleQueue``. A daemon writer thread (started lazily, restarted after ``fork``)
drains the queue in batches: it redacts, builds bodies, extracts request ids and
catalogs, names peers, drops calls matching ``$STACKTAP_IGNORE`` (``stacktap.agent.enrich``)
and stores each batch in one short transaction. Live exporters see every batch through
``add_sink()``, stored or not.

Under ``stacktap run`` (``$STACKTAP_COLLECTOR`` set) the writer hands the client exchanges
of the run to the collector instead (``stacktap.agent.relay``): the redaction, encoding
and storing then happen in ``stacktap run``'s process, not on the program's GIL. Whatever
the collector cannot take is stored here, as without it.

A store that cannot be opened or written costs one warning on stderr; the program goes on
and its calls are not dropped: a failed batch (already redacted) is held in memory until
the next try, then spilled to a file next to the store or in the user cache dir
(``stacktap.store.spill``), which the next store open writes back. Only what neither the
store nor a spill file takes (bounded memory, ``HOLD_LIMIT_BYTES``) is lost, and counted
(``stats``). While the store fails, it is tried again every ``RETRY_INTERVAL`` seconds only.

NOTE: standard library only, Python 3.8+ (runs inside traced programs).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import queue
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Tuple

from stacktap import settings
from stacktap.agent.faults import warn_once

if TYPE_CHECKING:
    from stacktap.agent.enrich import Enricher, ProcessIdentity
    from stacktap.agent.exchange import Exchange
    from stacktap.agent.relay import Relay
    from stacktap.agent.wire import ReceivedExchange
    from stacktap.model import Call, Run
    from stacktap.store import Store

#: Records stored per transaction at most.
BATCH_SIZE = 500
#: Seconds the writer sleeps between batches. NOTE: it is not woken per record: waking a
#: thread for every call costs the program a GIL hand-off each time (hundreds of us).
WRITE_INTERVAL = 0.2
#: Seconds the exit flush waits for the writer (a busy store retries for 10 s).
EXIT_FLUSH_TIMEOUT = 15.0
#: Seconds a fork waits for the writer to finish the batch it is storing.
FORK_WAIT = 15.0
#: Seconds between two tries of a store that failed (batches meanwhile go to spill files).
RETRY_INTERVAL = 2.0
#: Bytes of rows (about) held in memory at most when even spill files cannot be written;
#: the oldest batches beyond it are lost (and counted).
HOLD_LIMIT_BYTES = 64 * 1024 * 1024

_EXCHANGE = 0
_CALL = 1
_FLUSH = 2

# NOTE: store connections opened before a fork are never closed in the child (closing
# SQLite connections inherited across fork is unsafe): they are parked here instead.
_orphans: List[Any] = []


class Recorder(object):
    """Collects this process's calls and writes them to the store in the background."""

    _queue: queue.SimpleQueue
    _thread: Optional[threading.Thread]
    _store: Optional[Store]
    _enricher: Optional[Enricher]
    _unstored_run: Optional[Run]

    def __init__(
        self,
        environ: Optional[Mapping[str, str]] = None,
        process: Optional[ProcessIdentity] = None,
        report: bool = True,
        busy_timeout_ms: Optional[int] = None,
    ) -> None:
        """Settings from ``environ`` (default ``os.environ``); ``process`` names the process
        whose calls these are when it is not this one (the collector's recorders), which
        with ``report=False`` leave the warning to their owner (``stats``), and may wait
        less than the store's default for a lock (``busy_timeout_ms``)."""
        self._report = report
        self._busy_timeout_ms = busy_timeout_ms
        #: Store faults so far: ``reason`` (the first), ``waiting`` (calls in spill files),
        #: ``where`` (their directory), ``lost`` (calls neither store nor spill took).
        self.stats: Dict[str, Any] = {"reason": None, "waiting": 0, "where": None, "lost": 0}
        if environ is None:
            environ = os.environ
        self._identity = process
        self.db: Optional[str] = environ.get(settings.DB) or None
        self.run_id: Optional[str] = environ.get(settings.RUN_ID) or None
        self.trace_id: Optional[str] = environ.get(settings.TRACE_ID) or None
        self.service: Optional[str] = environ.get(settings.SERVICE) or None
        self.propagate: bool = environ.get(settings.PROPAGATE, "1") != "0"
        self.body_cap: int = settings.body_cap_from_env(environ)
        #: The hooks record only while enabled (``stacktap.trace()`` turns it on and off).
        self.enabled: bool = bool(self.db)
        self._lazy_run = self.run_id is None
        #: The collector's socket, for the calls of the run it collects (db and run as started).
        self._collector = environ.get(settings.COLLECTOR) or None
        self._collector_run = (self.db, self.run_id)
        self._sinks: List[Callable[[List[Call]], None]] = []
        self._stopping = False
        self._pending: Dict[int, Any] = {}
        self._reset_process_state()
        atexit.register(self._at_exit)

    # -- configuration -------------------------------------------------------------------

    def configure(
        self,
        db: Optional[str] = None,
        run_id: Optional[str] = None,
        trace_id: Optional[str] = None,
        service: Optional[str] = None,
        propagate: Optional[bool] = None,
        body_cap: Optional[int] = None,
        enabled: Optional[bool] = None,
    ) -> None:
        """Change where and how calls are recorded (flush first to keep runs apart)."""
        if db is not None and db != self.db:
            self.db = db
            self._drop_store()
        if run_id is not None:
            self.run_id = run_id
            self._lazy_run = False
            self._unstored_run = None
            self._enricher = None  # NOTE: a new run stores the catalogs it sees again
        if trace_id is not None:
            self.trace_id = trace_id
        if service is not None:
            self.service = service
        if propagate is not None:
            self.propagate = propagate
        if body_cap is not None:
            self.body_cap = body_cap
        if enabled is not None:
            self.enabled = enabled

    def add_sink(self, sink: Callable[[List[Call]], None]) -> None:
        """Call ``sink(calls)`` with every batch, once stored or once the store failed
        (calls already redacted)."""
        self._sinks.append(sink)

    # -- the hot path ----------------------------------------------------------------------

    def submit(
        self, call: Call, request_bytes: Optional[bytes] = None, response_bytes: Optional[bytes] = None
    ) -> None:
        """Record a finished call; ``call.run_id`` may be "" (this process's run). Never raises."""
        try:
            self._put((_CALL, call, request_bytes, response_bytes))
        except Exception as exc:
            warn_once("cannot record a call: %s: %s" % (type(exc).__name__, exc))

    def submit_exchange(self, exchange: Exchange | ReceivedExchange) -> None:
        """Record a client exchange from the hooks. Never raises."""
        try:
            self._pending.pop(id(exchange), None)
            self._put((_EXCHANGE, exchange))
        except Exception as exc:
            warn_once("cannot record a call: %s: %s" % (type(exc).__name__, exc))

    def track(self, exchange: Exchange, on_exit: Callable[[], None]) -> None:
        """Remember an exchange whose body is still being read: ``on_exit`` records it at exit."""
        self._pending[id(exchange)] = on_exit

    def _put(self, item: tuple) -> None:
        # NOTE: with fork hooks (POSIX) a forked child is reset by _after_fork_in_child; the
        # pid check (a system call per record) is only the fallback without them.
        if not _FORK_HOOKS and self._pid != os.getpid():
            self._reset_process_state()
        self._queue.put(item)
        if self._thread is None:
            self._start_writer()

    # -- the writer ------------------------------------------------------------------------

    def _reset_process_state(self) -> None:
        self._pid = os.getpid()
        self._queue = queue.SimpleQueue()
        self._thread = None
        self._thread_lock = threading.Lock()
        self._wake = threading.Event()
        self._store = None
        self._retry_at = 0.0
        #: Batches the store did not take yet: (entries, calls, bytes about).
        self._held: List[Tuple[List[Dict[str, Any]], int, int]] = []
        self._enricher = None
        self._pending = {}
        self._unstored_run = None
        self._relay: Optional[Relay] = None

    def _after_fork_in_child(self) -> None:
        if self._store is not None:
            _orphans.append(self._store)
        if self._lazy_run:
            self.run_id = None  # NOTE: each server process (gunicorn worker) is its own run
        self._reset_process_state()

    def _start_writer(self) -> None:
        with self._thread_lock:
            if self._thread is not None:
                return
            thread = threading.Thread(target=self._writer_loop, name="stacktap-writer", daemon=True)
            try:
                thread.start()
            except RuntimeError:
                # NOTE: no new threads at interpreter shutdown: write in the caller instead.
                self._drain_now()
                return
            self._thread = thread

    def _writer_loop(self) -> None:
        while not self._stopping:
            self._wake.wait(WRITE_INTERVAL)
            self._wake.clear()
            if self._relay is not None:
                self._relay.poll()
            while True:
                items: List[tuple] = []
                while len(items) < BATCH_SIZE:
                    try:
                        items.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                if not items:
                    break
                self._process(items)

    def _drain_now(self) -> None:
        items = []
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        if items:
            self._process(items)

    def _process(self, items: List[tuple]) -> None:
        events = [item[1] for item in items if item[0] == _FLUSH]
        records = [item for item in items if item[0] != _FLUSH]
        try:
            if records:
                # NOTE: a fork waits for this (see _before_fork): a child must never inherit
                # a half-done import or a SQLite connection in the middle of a transaction.
                with _writing:
                    self._write(records)
        except Exception as exc:  # NOTE: the writer never dies
            warn_once("recording failed: %s: %s" % (type(exc).__name__, exc))
        if events and self._held:
            self._spill_held()  # NOTE: a flush (the exit's too) leaves nothing in memory
        for event in events:
            event.set()

    def _write(self, records: List[tuple]) -> None:
        sinks = list(self._sinks)
        relay = self._get_relay() if not sinks else None
        if relay is not None:
            exchanges = [record[1] for record in records if record[0] == _EXCHANGE]
            if exchanges and relay.send((self.run_id or "", self.service, self.body_cap), exchanges):
                records = [record for record in records if record[0] != _EXCHANGE]
                if not records:
                    return
        store = self._open_store()
        enricher = self._get_enricher()
        run_id = self._ensure_run(enricher)
        calls: List[Call] = []
        for record in records:
            try:
                if record[0] == _EXCHANGE:
                    call = enricher.from_exchange(record[1], run_id)
                else:
                    call = enricher.from_call(record[1], record[2], record[3], run_id)
            except Exception as exc:
                warn_once("cannot record a call: %s: %s" % (type(exc).__name__, exc))
                continue
            if call is not None:  # NOTE: None: dropped by an ignore rule
                calls.append(call)
        new_entries = enricher.take_new_catalog_entries()
        from stacktap.store.sqlite import calls_entries, catalog_entry, run_entry

        entries: List[Dict[str, Any]] = []
        if self._unstored_run is not None:
            # NOTE: kept, and inserted (or ignored) with every batch: a store deleted or
            # replaced meanwhile (``Store`` opens the path again) gets the run row too.
            entries.append(run_entry(self._unstored_run))
        if new_entries:
            entries.append(catalog_entry(run_id, new_entries))
        if calls:
            entries.extend(calls_entries(calls))
        if entries:
            self._store_entries(store, entries, len(calls))
        # NOTE: sinks (live export) get the calls whether or not the store took them: they
        # are enriched and redacted already, and an unwritable store must not stop export.
        if not calls:
            return
        for sink in sinks:
            try:
                sink(calls)
            except Exception as exc:
                warn_once("a live exporter failed: %s: %s" % (type(exc).__name__, exc))

    def _get_relay(self) -> Optional[Relay]:
        """The line to the collector, for the run it collects; None: store here.

        NOTE: not with live export (sinks want the enriched calls here), nor once
        ``stacktap.trace()`` switched this process to another run or store.
        """
        if self._collector is None or (self.db, self.run_id) != self._collector_run:
            return None
        relay = self._relay
        if relay is None:
            from stacktap.agent.relay import Relay

            relay = self._relay = Relay(self._collector)
        return None if relay.closed else relay

    def _get_enricher(self) -> Enricher:
        if self._enricher is None:
            from stacktap.agent.enrich import Enricher

            self._enricher = Enricher(self, self._identity)
        return self._enricher

    def _open_store(self) -> Optional[Store]:
        """The store, opened on first use; None while it fails (tried again after
        ``RETRY_INTERVAL``)."""
        if self._store is not None:
            return self._store
        if time.monotonic() < self._retry_at:
            return None
        from stacktap.store import Store, StoreError, default_db_path

        try:
            self._store = Store(self.db or default_db_path(), busy_timeout_ms=self._busy_timeout_ms)
        except (StoreError, Exception) as exc:
            self._store_failed("cannot record calls: %s" % _one_line(exc, StoreError))
            return None
        return self._store

    def _store_entries(self, store: Optional[Store], entries: List[Dict[str, Any]], n_calls: int) -> None:
        """Store one batch, with the ones held since the last failure; hold it when the
        store fails, and spill what is held once the store failed again."""
        held = self._held
        self._held = []
        held.append((entries, n_calls, _size_of(entries)))
        if store is not None and time.monotonic() >= self._retry_at:
            from stacktap.store import StoreError

            try:
                store.write_entries([e for batch, _, _ in held for e in batch])
            except Exception as exc:
                self._store_failed("cannot write to the store %s: %s" % (self.db, _one_line(exc, StoreError)))
                self._held = held
                if len(held) > 1:
                    self._spill_held()
                return
            self._retry_at = 0.0
            if self.stats["waiting"]:
                # NOTE: the store works again: write back what this process spilled.
                with contextlib.suppress(Exception):
                    written = store.replay_spills()
                    self.stats["waiting"] = max(0, self.stats["waiting"] - written)
            return
        self._held = held
        self._spill_held()

    def _store_failed(self, message: str) -> None:
        self._retry_at = time.monotonic() + RETRY_INTERVAL
        if self.stats["reason"] is None:
            self.stats["reason"] = message
            # NOTE: a service may never exit cleanly (SIGTERM): it says so at once. A
            # program says it once, at exit, with how many calls wait and where.
            if self._report and self._lazy_run:
                warn_once(message + "; its calls are kept in spill files and written when it works again")

    def _spill_held(self) -> None:
        """Move the held batches to a spill file; when that fails too, keep them (bounded)."""
        held, self._held = self._held, []
        if not held:
            return
        from stacktap.store import default_db_path
        from stacktap.store.spill import write_spill

        calls = sum(n for _, n, _ in held)
        try:
            self.stats["where"] = write_spill(self.db or default_db_path(), [batch for batch, _, _ in held])
        except Exception:
            while held and sum(size for _, _, size in held) > HOLD_LIMIT_BYTES:
                self.stats["lost"] += held.pop(0)[1]
            self._held = held
            return
        self.stats["waiting"] += calls

    def _drop_store(self) -> None:
        # NOTE: only called between runs (configure); the writer re-opens lazily.
        store, self._store = self._store, None
        self._retry_at = 0.0
        if store is not None:
            _orphans.append(store)

    def _ensure_run(self, enricher: Enricher) -> str:
        """This process's run id; a server process makes its run on its first batch.

        NOTE: the new run is stored with that batch (``_unstored_run``), and again with every
        later one (ignored once stored): sinks need its id even when no store takes it, and
        a store replaced meanwhile gets it too.
        """
        if self.run_id:
            return self.run_id
        run = enricher.server_run()
        self._unstored_run = run
        self.run_id = run.id
        return run.id

    # -- flushing ------------------------------------------------------------------------

    def flush(self, timeout: Optional[float] = 10.0) -> bool:
        """Wait until everything submitted so far is stored; False on timeout."""
        if self._pid != os.getpid():
            self._reset_process_state()
        if self._thread is None:
            self._drain_now()
            if self._held:
                self._spill_held()
            return True
        event = threading.Event()
        self._queue.put((_FLUSH, event))
        self._wake.set()
        return event.wait(timeout)

    def finish_pending(self) -> None:
        """Record the exchanges whose body was never read to the end (as "unread")."""
        for on_exit in list(self._pending.values()):
            with contextlib.suppress(Exception):
                on_exit()
        self._pending.clear()

    def close(self, timeout: Optional[float] = EXIT_FLUSH_TIMEOUT) -> None:
        """Store what is queued, stop the writer, close the store: for recorders that come
        and go (the collector's, one per traced process), not for this process's own."""
        self.flush(timeout)
        self._stopping = True
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        atexit.unregister(self._at_exit)
        self._count_held_as_lost()
        store, self._store = self._store, None
        if store is not None:
            with contextlib.suppress(Exception):
                store.close()

    def _at_exit(self) -> None:
        if self._pid != os.getpid():
            return
        try:
            self.finish_pending()
            if self._thread is not None or not self._queue.empty():
                self.flush(EXIT_FLUSH_TIMEOUT)
            self._count_held_as_lost()
            stats = self.stats
            if self._report and (stats["waiting"] or stats["lost"]):
                warn_once(describe_faults(stats))
        except Exception:
            pass

    def _count_held_as_lost(self) -> None:
        held, self._held = self._held, []
        self.stats["lost"] += sum(n for _, n, _ in held)


def _size_of(entries: List[Dict[str, Any]]) -> int:
    """About how many bytes the rows of these entries hold (their strings)."""
    return sum(
        len(value)
        for entry in entries
        for row in entry.get("rows") or ()
        for value in row
        if isinstance(value, str)
    )


def describe_faults(stats: Mapping[str, Any]) -> str:
    """What became of the calls a store could not take (one line, without a prefix)."""
    parts = [str(stats["reason"])]
    if stats.get("waiting"):
        parts.append(
            "%d call%s wait in %s (the next stacktap command that opens the store writes them)"
            % (stats["waiting"], "" if stats["waiting"] == 1 else "s", stats["where"])
        )
    elif stats.get("where"):
        parts.append("kept in %s (the next stacktap command that opens the store writes it)" % stats["where"])
    if stats.get("lost"):
        parts.append("%d call%s lost" % (stats["lost"], "" if stats["lost"] == 1 else "s"))
    return "; ".join(parts)


def _one_line(exc: BaseException, store_error: type) -> str:
    if isinstance(exc, store_error):
        return str(exc)
    return "%s: %s" % (type(exc).__name__, exc)


_recorder: Optional[Recorder] = None
_recorder_lock = threading.Lock()


def get_recorder() -> Recorder:
    """The recorder of this process (configured from ``STACKTAP_*`` on first use)."""
    global _recorder
    if _recorder is None:
        with _recorder_lock:
            if _recorder is None:
                _recorder = Recorder()
    return _recorder


_writing = threading.Lock()
_fork_holds_lock = False


def _before_fork() -> None:
    global _fork_holds_lock
    # NOTE: bounded: a store stuck on its busy timeout must not hang the program's fork.
    _fork_holds_lock = _writing.acquire(timeout=FORK_WAIT)


def _after_fork_in_parent() -> None:
    global _fork_holds_lock
    if _fork_holds_lock:
        _fork_holds_lock = False
        _writing.release()


def _after_fork_in_child() -> None:
    global _writing, _fork_holds_lock
    _writing = threading.Lock()
    _fork_holds_lock = False
    if _recorder is not None:
        _recorder._after_fork_in_child()


_FORK_HOOKS = hasattr(os, "register_at_fork")
if _FORK_HOOKS:
    os.register_at_fork(
        before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child
    )
