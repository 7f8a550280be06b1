"""OTLP/JSON encoding: what arrives parses into the official protobuf messages."""

from __future__ import annotations

import base64
import json

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from stacktap.agent.otlp_json import encode
from stacktap.agent.spans import spans_for_calls
from stacktap.store import Trace


def parse_otlp_json(body: bytes) -> ExportTraceServiceRequest:
    """Parse OTLP/JSON with the official messages.

    NOTE: OTLP/JSON writes ids as hex where the generic protobuf JSON mapping wants base64:
    convert them first, as the OTLP spec tells receivers to.
    """
    document = json.loads(body)

    def b64(hex_id: str) -> str:
        return base64.b64encode(bytes.fromhex(hex_id)).decode()

    for resource_spans in document.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if span.get(key):
                        span[key] = b64(span[key])
    return json_format.ParseDict(document, ExportTraceServiceRequest())


def test_json_round_trips_through_the_official_messages(synthetic_trace: Trace) -> None:
    records = spans_for_calls(synthetic_trace.calls, bodies=True)
    request = parse_otlp_json(encode(records))

    spans = [s for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]
    assert len(spans) == len(records) == 8
    services = sorted(
        kv.value.string_value
        for rs in request.resource_spans
        for kv in rs.resource.attributes
        if kv.key == "service.name"
    )
    assert services == ["glance-api", "openstack"]
    by_id = {s.span_id.hex(): s for s in spans}
    for record in records:
        span = by_id[record.span_id]
        assert span.trace_id.hex() == record.trace_id
        assert span.parent_span_id.hex() == (record.parent_span_id or "")
        assert (span.start_time_unix_nano, span.end_time_unix_nano) == (record.start_ns, record.end_ns)
        assert span.name == record.name
    token, _, served, *_ = synthetic_trace.calls
    assert by_id[served.span_id].kind == Span.SPAN_KIND_SERVER
    assert by_id[token.span_id].kind == Span.SPAN_KIND_CLIENT
    attrs = {kv.key: kv.value for kv in by_id[token.span_id].attributes}
    assert attrs["http.response.status_code"].int_value == 201
    assert attrs["url.full"].string_value.endswith("/v3/auth/tokens")
    assert [e.name for e in by_id[token.span_id].events] == ["http.request.body", "http.response.body"]
    refused = synthetic_trace.calls[-1]
    assert by_id[refused.span_id].status.code == Status.STATUS_CODE_ERROR
