"""Live export: send spans to an OTLP/HTTP backend while the traced process runs.

Turned on by the environment (see ``endpoint.live_target_from_env``): the capture
bootstrap calls ``maybe_install_from_env()`` in every traced process and service whose
environment names ``STACKTAP_OTLP_ENDPOINT`` or ``STACKTAP_OTLP``; the paste filter calls
``install_from_options()`` with its ``otlp_*`` options. Either registers a sink with the
capture Recorder. The sink maps each finished (already redacted) batch of calls to spans
and queues them; a daemon thread posts them as OTLP/HTTP JSON.

Rules, because this runs inside services answering requests:
- never block and never raise in the caller: the queue is bounded, spans that do not fit
  are dropped and counted;
- a backend that is down costs one failed POST, then sends pause (1 s, doubling up to
  30 s) and the spans taken meanwhile are dropped and counted;
- posts go through ``http.client``, not ``requests``, so the exporter does not trace itself;
- ``stats()`` tells sent / dropped / failed; the drop count is printed once at exit.

NOTE: Python 3.8+, standard library only (the service venv may not have the SDK).
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
from collections import deque
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Deque, Dict, List, Mapping, Optional, Union
from urllib.parse import urlsplit

from stacktap.agent.endpoint import headers_from_env, live_target_from_env, parse_headers, traces_url

if TYPE_CHECKING:
    import http.client

    from stacktap.agent.spans import SpanRecord
    from stacktap.model import Call

# NOTE: http.client (with email and ssl), the span mapping and the JSON encoding are imported
# by the threads that use them, not here: this module is imported at the start-up of every
# process that exports live, and the bootstrap must stay cheap (tens of ms saved).

#: What the exporter posts (``otlp_json.CONTENT_TYPE``).
CONTENT_TYPE = "application/json"

#: ``1`` = also send the (redacted, capped) bodies as span events.
from stacktap.settings import OTLP_BODIES_OPT  # noqa: E402

MAX_QUEUE = 4096  # spans waiting to be sent; beyond this they are dropped
BATCH_SIZE = 256  # spans per POST
FLUSH_INTERVAL = 0.5  # seconds a partial batch waits for company
POST_TIMEOUT = 2.0  # seconds per POST, connect included
EXIT_FLUSH_TIMEOUT = 2.0  # seconds spent at exit sending what is left
BACKOFF_START = 1.0
BACKOFF_MAX = 30.0


class LiveExporter(object):
    """A bounded queue of spans and the daemon thread that posts them."""

    def __init__(
        self,
        url: str,
        headers: Optional[Mapping[str, str]] = None,
        bodies: bool = False,
        max_queue: int = MAX_QUEUE,
        batch_size: int = BATCH_SIZE,
        flush_interval: float = FLUSH_INTERVAL,
        timeout: float = POST_TIMEOUT,
    ) -> None:
        self.url = url
        parts = urlsplit(url)
        self._https = parts.scheme == "https"
        self._netloc = parts.netloc
        self._path = parts.path or "/"
        if parts.query:
            self._path += "?" + parts.query
        self._headers = {"Content-Type": CONTENT_TYPE}
        self._headers.update(headers or {})
        self.bodies = bodies
        self.max_queue = max_queue
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.timeout = timeout
        self.sent = 0
        self.dropped = 0
        self.failed = 0
        self._reset_process_state()

    # -- per-process state (a forked worker starts afresh) -------------------------------

    def _reset_process_state(self) -> None:
        self._pid = os.getpid()
        self._cond = threading.Condition()
        self._pending: Deque[SpanRecord] = deque()
        self._inflight = 0
        self._flushing = 0
        self._stopping = False
        self._thread: Optional[threading.Thread] = None
        self._conn: Optional[http.client.HTTPConnection] = None
        self._retry_at = 0.0
        self._backoff = BACKOFF_START
        if self._pid != getattr(self, "_counted_pid", self._pid):
            # NOTE: counters belong to the process that counted them; a fork child starts at 0.
            self.sent = self.dropped = self.failed = 0
        self._counted_pid = self._pid

    def _ensure_thread(self) -> None:
        if self._pid != os.getpid():
            self._reset_process_state()
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="stacktap-otlp-live", daemon=True)
            self._thread.start()

    # -- the producer side: never blocks on the network, never raises ---------------------

    def sink(self, calls: List[Call]) -> None:
        """Recorder sink: map a batch of finished calls to spans and queue them."""
        try:
            from stacktap.agent.spans import DEFAULT_BODY_CAP, spans_for_calls

            mine = [c for c in calls if not c.url.startswith(self.url)]
            self.submit(spans_for_calls(mine, bodies=self.bodies, body_cap=DEFAULT_BODY_CAP))
        except Exception:  # NOTE: a bug here must not break the traced program
            pass

    def submit(self, spans: List[SpanRecord]) -> None:
        """Queue spans; those that do not fit are dropped and counted."""
        if not spans:
            return
        self._ensure_thread()
        with self._cond:
            room = max(self.max_queue - len(self._pending), 0)
            self._pending.extend(spans[:room])
            self.dropped += max(len(spans) - room, 0)
            self._cond.notify_all()

    # -- the sender thread --------------------------------------------------------------

    def _take_batch(self) -> Optional[List[SpanRecord]]:
        with self._cond:
            while not self._pending and not self._stopping:
                self._cond.wait()
            if not self._pending:
                return None
            deadline = time.monotonic() + self.flush_interval
            while len(self._pending) < self.batch_size and not self._flushing and not self._stopping:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            count = min(self.batch_size, len(self._pending))
            batch = [self._pending.popleft() for _ in range(count)]
            self._inflight = count
            return batch

    def _run(self) -> None:
        while True:
            batch = self._take_batch()
            if batch is None:
                return
            try:
                self._deliver(batch)
            except Exception:
                self.dropped += len(batch)
            with self._cond:
                self._inflight = 0
                self._cond.notify_all()

    def _deliver(self, batch: List[SpanRecord]) -> None:
        if time.monotonic() < self._retry_at:
            self.dropped += len(batch)  # the backend failed lately: do not hammer it
            return
        from stacktap.agent import otlp_json

        if self._post(otlp_json.encode(batch)):
            self.sent += len(batch)
            self._backoff = BACKOFF_START
            return
        self.failed += 1
        self.dropped += len(batch)
        self._retry_at = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, BACKOFF_MAX)

    def _post(self, body: bytes) -> bool:
        """POST one request; True on a 2xx. Retries once on a fresh connection if a kept-alive
        one was closed under us."""
        import http.client

        for attempt in (0, 1):
            reused = self._conn is not None
            try:
                if self._conn is None:
                    cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
                    self._conn = cls(self._netloc, timeout=self.timeout)
                self._conn.request("POST", self._path, body=body, headers=self._headers)
                response = self._conn.getresponse()
                response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self._close_connection()
                return 200 <= response.status < 300
            except (OSError, http.client.HTTPException):
                self._close_connection()
                if not reused or attempt:
                    return False
        return False

    def _close_connection(self) -> None:
        if self._conn is not None:
            with suppress(Exception):
                self._conn.close()
            self._conn = None

    # -- control ------------------------------------------------------------------------

    def flush(self, timeout: float = EXIT_FLUSH_TIMEOUT) -> bool:
        """Send what is queued now; True if everything left the queue within ``timeout``."""
        if self._pid != os.getpid():
            return True
        deadline = time.monotonic() + timeout
        with self._cond:
            self._flushing += 1
            self._cond.notify_all()
            try:
                while self._pending or self._inflight:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or self._thread is None or not self._thread.is_alive():
                        return False
                    self._cond.wait(remaining)
                return True
            finally:
                self._flushing -= 1

    def close(self, timeout: float = EXIT_FLUSH_TIMEOUT) -> None:
        """Flush, then stop the thread; spans still queued are counted as dropped."""
        self.flush(timeout)
        with self._cond:
            self._stopping = True
            self.dropped += len(self._pending)
            self._pending.clear()
            self._cond.notify_all()
        if self._thread is not None and self._pid == os.getpid():
            self._thread.join(timeout)
        self._close_connection()

    def stats(self) -> Dict[str, int]:
        with self._cond:
            queued = len(self._pending) + self._inflight
        return {"sent": self.sent, "dropped": self.dropped, "failed": self.failed, "queued": queued}


# -- the process-wide exporter ---------------------------------------------------------------

_installed: Optional[LiveExporter] = None
_install_lock = threading.Lock()


def install(
    url: str, headers: Optional[Mapping[str, str]] = None, bodies: bool = False, recorder: Any = None
) -> LiveExporter:
    """Start live export to ``url`` (the full traces URL) for this process; idempotent.

    ``recorder`` defaults to the capture Recorder (``get_recorder()``); the exporter becomes
    one of its sinks. The drop count is printed once at exit.
    """
    global _installed
    with _install_lock:
        if _installed is not None:
            return _installed
        exporter = LiveExporter(url, headers, bodies=bodies)
        if recorder is None:
            from stacktap.agent.recorder import get_recorder

            recorder = get_recorder()
        recorder.add_sink(exporter.sink)
        _installed = exporter
        atexit.register(_at_exit, recorder)
        return exporter


def maybe_install_from_env(env: Optional[Mapping[str, str]] = None, recorder: Any = None) -> bool:
    """Install live export if the environment asks for it; True if it is on.

    Never raises: a bad endpoint is one ``stacktap:`` line on stderr and no export.
    """
    return install_from_options(env=env, recorder=recorder) is not None


def install_from_options(
    endpoint: Optional[str] = None,
    headers: Union[str, Mapping[str, str], None] = None,
    bodies: Optional[bool] = None,
    env: Optional[Mapping[str, str]] = None,
    recorder: Any = None,
) -> Optional[LiveExporter]:
    """Install live export from explicit options (the paste filter's) over the environment.

    ``endpoint`` (base or full traces URL) turns export on by itself; without it the
    environment decides (``endpoint.live_target_from_env``). ``headers`` (a dict, or the
    ``k=v,k2=v2`` text of a paste option) are added to those of ``OTEL_EXPORTER_OTLP_*``;
    ``bodies`` None means ``$STACKTAP_OTLP_BODIES``. Returns the process's exporter, or
    None when export is off. Never raises: a bad endpoint is one ``stacktap:`` line on stderr.
    """
    env = os.environ if env is None else env
    try:
        if endpoint:
            url = traces_url(endpoint)
        else:
            target = live_target_from_env(env)
            if target is None:
                return None
            url = str(target["url"])
        merged = headers_from_env(env)
        merged.update(parse_headers(headers) if isinstance(headers, str) else dict(headers or {}))
        if bodies is None:
            bodies = OTLP_BODIES_OPT.from_env(env)
        exporter = install(url, merged, bodies=bodies, recorder=recorder)
        if exporter.url != url:
            # NOTE: one exporter per process: the first configuration (usually the
            # environment, read by the bootstrap at start-up) wins.
            _warn("live OTLP export already goes to %s; not also to %s" % (exporter.url, url))
        return exporter
    except Exception as exc:
        _warn("live OTLP export disabled: %s" % exc)
        return None


def installed() -> Optional[LiveExporter]:
    """The process's live exporter, if installed."""
    return _installed


def stats() -> Dict[str, int]:
    """``{"sent", "dropped", "failed", "queued"}`` of this process's live export (zeros if off)."""
    if _installed is None:
        return {"sent": 0, "dropped": 0, "failed": 0, "queued": 0}
    return _installed.stats()


def _at_exit(recorder: Any) -> None:
    exporter = _installed
    if exporter is None or exporter._pid != os.getpid():
        return
    try:
        # NOTE: atexit runs handlers last-registered-first, so the recorder's own exit flush
        # comes after this one: record unfinished calls and flush it first, so its last
        # batch reaches our sink.
        finish_pending = getattr(recorder, "finish_pending", None)
        if finish_pending is not None:
            finish_pending()
        recorder.flush(EXIT_FLUSH_TIMEOUT)
    except Exception:
        pass
    exporter.close(EXIT_FLUSH_TIMEOUT)
    counts = exporter.stats()
    if counts["dropped"]:
        # NOTE: the pid tells the workers of one service apart in its shared log.
        _warn(
            "live OTLP export to %s dropped %d spans (%d sent, %d failed posts; pid %d)"
            % (exporter.url, counts["dropped"], counts["sent"], counts["failed"], os.getpid())
        )


def _warn(message: str) -> None:
    try:
        sys.stderr.write("stacktap: %s\n" % message)
        sys.stderr.flush()
    except Exception:
        pass
