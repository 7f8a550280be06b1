"""Encode span records as an OTLP/HTTP JSON ``ExportTraceServiceRequest``.

The official OTLP JSON mapping: lowerCamelCase field names, trace and span ids as hex
strings (not base64), 64-bit integers as decimal strings, enums as integers.

NOTE: used by live export inside services (Python 3.8+, standard library only).
"""

from __future__ import annotations

import json
from typing import Any, Dict, Iterable, List

from stacktap import __version__
from stacktap.agent.spans import (
    KIND_CLIENT,
    KIND_INTERNAL,
    KIND_SERVER,
    AttrValue,
    EventRecord,
    SpanRecord,
    group_by_resource,
)

#: ``opentelemetry.proto.trace.v1.Span.SpanKind``
SPAN_KIND = {KIND_INTERNAL: 1, KIND_SERVER: 2, KIND_CLIENT: 3}
#: ``opentelemetry.proto.trace.v1.Status.StatusCode``
STATUS_UNSET = 0
STATUS_ERROR = 2

SCOPE_NAME = "stacktap"
CONTENT_TYPE = "application/json"


def any_value(value: AttrValue) -> Dict[str, Any]:
    """An ``AnyValue`` in the JSON mapping."""
    # NOTE: bool before int: True is an int in Python.
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    return {"stringValue": str(value)}


def key_values(items: Iterable[Any]) -> List[Dict[str, Any]]:
    """``KeyValue`` list from (key, value) pairs."""
    return [{"key": key, "value": any_value(value)} for key, value in items]


def _event(event: EventRecord) -> Dict[str, Any]:
    return {
        "timeUnixNano": str(event.time_ns),
        "name": event.name,
        "attributes": key_values(event.attributes.items()),
    }


def span_json(span: SpanRecord) -> Dict[str, Any]:
    """One ``Span`` in the JSON mapping."""
    out: Dict[str, Any] = {
        "traceId": span.trace_id,
        "spanId": span.span_id,
        "name": span.name,
        "kind": SPAN_KIND[span.kind],
        "startTimeUnixNano": str(span.start_ns),
        "endTimeUnixNano": str(span.end_ns),
        "attributes": key_values(span.attributes.items()),
    }
    if span.parent_span_id:
        out["parentSpanId"] = span.parent_span_id
    if span.events:
        out["events"] = [_event(e) for e in span.events]
    if span.error:
        status: Dict[str, Any] = {"code": STATUS_ERROR}
        if span.status_message:
            status["message"] = span.status_message
        out["status"] = status
    return out


def export_request(spans: Iterable[SpanRecord]) -> Dict[str, Any]:
    """An ``ExportTraceServiceRequest``: one ``ResourceSpans`` per recording process."""
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": key_values(resource)},
                "scopeSpans": [
                    {
                        "scope": {"name": SCOPE_NAME, "version": __version__},
                        "spans": [span_json(s) for s in group],
                    }
                ],
            }
            for resource, group in group_by_resource(spans)
        ]
    }


def encode(spans: Iterable[SpanRecord]) -> bytes:
    """The request body to POST to ``/v1/traces`` with ``Content-Type: application/json``."""
    return json.dumps(export_request(spans), separators=(",", ":")).encode("utf-8")
