"""Send a recorded run to an OpenTelemetry backend over OTLP/HTTP (protobuf).

Goes through the OpenTelemetry SDK's ``OTLPSpanExporter`` (the ``otlp`` extra), fed with
``ReadableSpan`` objects built from the store: trace ids, span ids, parents and timestamps
are the recorded ones, so the backend shows the same tree ``stacktap show`` does.

The SDK is imported only when a trace is sent: the rest of stacktap works without it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from stacktap import __version__
from stacktap.agent.endpoint import traces_url
from stacktap.agent.spans import (
    DEFAULT_BODY_CAP,
    KIND_CLIENT,
    KIND_SERVER,
    SpanRecord,
    group_by_resource,
    spans_for_calls,
)
from stacktap.errors import StacktapError
from stacktap.store import Trace

#: Spans per export request.
BATCH_SIZE = 512
DEFAULT_TIMEOUT = 10.0

_EXPORTER_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.http",
    "opentelemetry.exporter.otlp.common",
    "opentelemetry.exporter.http.transport",
)


class OTLPExportError(StacktapError, OSError):
    """Spans could not be sent (no SDK, bad endpoint, backend down or refusing): one line,
    which names the URL when there is one."""


def send_trace(
    trace: Trace,
    endpoint: str,
    headers: Mapping[str, str] | None = None,
    *,
    bodies: bool = False,
    body_cap: int = DEFAULT_BODY_CAP,
    timeout: float = DEFAULT_TIMEOUT,
) -> int:
    """Send every call of ``trace`` (with its layers) as spans; return the number of spans sent.

    ``endpoint`` is a base URL (``http://localhost:4318``, ``/v1/traces`` is appended) or the
    full traces URL. With ``bodies``, the stored (already redacted) bodies become span
    events, each capped at ``body_cap`` characters. Raises OTLPExportError.
    """
    try:
        url = traces_url(endpoint)
    except ValueError as exc:
        raise OTLPExportError(str(exc)) from None
    records = spans_for_calls(trace.all_records, bodies=bodies, body_cap=body_cap)
    if not records:
        return 0
    sdk = _load_sdk()
    readable = to_readable_spans(records, sdk)
    exporter = sdk["OTLPSpanExporter"](endpoint=url, headers=dict(headers or {}), timeout=timeout)
    try:
        with _capture_exporter_logs() as logged:
            for i in range(0, len(readable), BATCH_SIZE):
                result = exporter.export(readable[i : i + BATCH_SIZE])
                if result != sdk["SpanExportResult"].SUCCESS:
                    raise OTLPExportError(failure_reason(logged, url, timeout))
    finally:
        exporter.shutdown()
    return len(readable)


def _load_sdk() -> dict[str, Any]:
    """The SDK classes, imported late; a one-line error when the ``otlp`` extra is missing."""
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import Event, ReadableSpan
        from opentelemetry.sdk.trace.export import SpanExportResult
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope
        from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags
    except ImportError as exc:
        raise OTLPExportError(
            f"OTLP export needs the OpenTelemetry SDK ({exc.name}): pip install 'stacktap[otlp]'"
        ) from None
    return {
        "OTLPSpanExporter": OTLPSpanExporter,
        "Resource": Resource,
        "Event": Event,
        "ReadableSpan": ReadableSpan,
        "SpanExportResult": SpanExportResult,
        "InstrumentationScope": InstrumentationScope,
        "SpanContext": SpanContext,
        "SpanKind": SpanKind,
        "Status": Status,
        "StatusCode": StatusCode,
        "TraceFlags": TraceFlags,
    }


def to_readable_spans(records: Sequence[SpanRecord], sdk: dict[str, Any] | None = None) -> list[Any]:
    """SDK ``ReadableSpan`` objects carrying the recorded ids, parents, times and attributes."""
    sdk = sdk or _load_sdk()
    kinds = {
        KIND_CLIENT: sdk["SpanKind"].CLIENT,
        KIND_SERVER: sdk["SpanKind"].SERVER,
    }
    scope = sdk["InstrumentationScope"]("stacktap", __version__)
    sampled = sdk["TraceFlags"](sdk["TraceFlags"].SAMPLED)
    out: list[Any] = []
    for resource_attrs, group in group_by_resource(records):
        # NOTE: Resource(...) rather than Resource.create(...): the latter would mix in this
        # machine's OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES and mislabel recorded processes.
        resource = sdk["Resource"](dict(resource_attrs))
        for rec in group:
            context = sdk["SpanContext"](
                trace_id=int(rec.trace_id, 16),
                span_id=int(rec.span_id, 16),
                is_remote=False,
                trace_flags=sampled,
            )
            parent = None
            if rec.parent_span_id:
                parent = sdk["SpanContext"](
                    trace_id=int(rec.trace_id, 16),
                    span_id=int(rec.parent_span_id, 16),
                    is_remote=True,
                    trace_flags=sampled,
                )
            status = (
                sdk["Status"](sdk["StatusCode"].ERROR, rec.status_message)
                if rec.error
                else sdk["Status"](sdk["StatusCode"].UNSET)
            )
            out.append(
                sdk["ReadableSpan"](
                    name=rec.name,
                    context=context,
                    parent=parent,
                    resource=resource,
                    attributes=dict(rec.attributes),
                    events=[sdk["Event"](e.name, dict(e.attributes), e.time_ns) for e in rec.events],
                    kind=kinds.get(rec.kind, sdk["SpanKind"].INTERNAL),
                    status=status,
                    start_time=rec.start_ns,
                    end_time=rec.end_ns,
                    instrumentation_scope=scope,
                )
            )
    return out


_ERRNO = re.compile(r"\[Errno -?\d+\][^'\")\]]*")


def failure_reason(records: Sequence[logging.LogRecord], url: str, timeout: float) -> str:
    """One line saying why the exporter gave up, from the records it logged.

    NOTE: the SDK reports failure as a bare FAILURE; the cause is only in its log records:
    ``Failed to export %s batch code: %s, reason: %s`` (an answer, or an error that is not
    worth retrying) and ``Transient error %s encountered...`` (connection errors, retried).
    """
    for record in records:
        args = record.args if isinstance(record.args, tuple) else ()
        if "batch code:" in str(record.msg) and len(args) == 3:
            status, reason = args[1], args[2]
            if status:
                return f"the receiver at {url} answered {status} ({reason})"
            return f"cannot reach {url}: {_short_error(reason)}"
    for record in records:
        args = record.args if isinstance(record.args, tuple) else ()
        if str(record.msg).startswith("Transient error") and args:
            return f"cannot reach {url}: {_short_error(args[0])}"
    return f"no answer from {url} within {timeout:g}s: is an OTLP/HTTP receiver listening there?"


def _short_error(error: object) -> str:
    """``[Errno 111] Connection refused`` out of urllib3's nested exception text."""
    text = str(error)
    found = _ERRNO.search(text)
    return found.group(0).strip() if found else text.splitlines()[0][:200]


class _Collect(logging.Handler):
    def __init__(self, sink: list[logging.LogRecord]) -> None:
        super().__init__(logging.WARNING)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(record)


@contextmanager
def _capture_exporter_logs() -> Iterator[list[logging.LogRecord]]:
    """Collect the exporter's warnings instead of letting them spill onto stderr.

    NOTE: the SDK logs each failed attempt (with tracebacks); the CLI wants one line, made
    from these records by ``failure_reason``.
    """
    messages: list[logging.LogRecord] = []
    handler = _Collect(messages)
    saved = []
    for name in _EXPORTER_LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.propagate))
        logger.addHandler(handler)
        logger.propagate = False
    try:
        yield messages
    finally:
        for logger, propagate in saved:
            logger.removeHandler(handler)
            logger.propagate = propagate
