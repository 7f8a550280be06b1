"""OTLP export end to end: ``openstack image list`` on the dev cloud, exported to a local receiver."""

from __future__ import annotations

import subprocess
import time
import uuid

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from tests.fixtures.otlp_receiver import Receiver

from stacktap.agent.spans import layer_span_id
from stacktap.export.otlp import send_trace
from stacktap.store import Store, Trace, load_trace

pytestmark = pytest.mark.e2e

def _traced_image_list(devcloud) -> Trace:  # type: ignore[no-untyped-def]
    label = "otlp-e2e-" + uuid.uuid4().hex[:8]
    done = subprocess.run(
        [*devcloud.stacktap, "run", "--db", str(devcloud.db), "--label", label, "--", str(devcloud.openstack),
         "image", "list"],
        env=devcloud.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    with Store(str(devcloud.db), create=False) as store:
        (run,) = [r for r in store.runs() if r.label == label]
        # NOTE: services write their side in the background: wait until glance's answer is in.
        deadline = time.monotonic() + 20
        while True:
            trace = load_trace(store, run.id)
            served = [c for c in trace.calls if c.side == "server" and c.peer.service_type != "identity"]
            if served or not devcloud.traced or time.monotonic() > deadline:
                return trace
            time.sleep(0.5)


def _decode(rx: Receiver) -> list[tuple[dict, Span]]:
    out = []
    for body in rx.bodies("application/x-protobuf"):
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for rs in request.resource_spans:
            resource = {kv.key: kv.value.string_value for kv in rs.resource.attributes}
            out.extend((resource, span) for ss in rs.scope_spans for span in ss.spans)
    return out


def test_image_list_exports_as_one_trace(devcloud) -> None:  # type: ignore[no-untyped-def]
    trace = _traced_image_list(devcloud)
    with Receiver() as rx:
        sent = send_trace(trace, rx.base_url, {}, bodies=True)
        spans = _decode(rx)
        payload = b"".join(rx.bodies())

    layers = [(call, layer) for call in trace.calls for layer in call.layers]
    assert sent == len(spans) == len(trace.all_records) + len(layers)
    by_id = {span.span_id.hex(): (resource, span) for resource, span in spans}
    assert len({span.trace_id.hex() for _, span in spans}) == 1  # one trace per command
    for call in trace.calls:
        resource, span = by_id[call.span_id]
        assert span.trace_id.hex() == call.trace_id
        assert span.parent_span_id.hex() == (call.parent_span_id or "")
        assert span.kind == (Span.SPAN_KIND_SERVER if call.side == "server" else Span.SPAN_KIND_CLIENT)
        if call.local_service:
            assert resource["service.name"] == call.local_service
    for call, layer in layers:
        _, span = by_id[layer_span_id(call.span_id, layer.order)]
        assert span.kind == Span.SPAN_KIND_INTERNAL and span.name == layer.name
    # glance's SQL under its server span, as OpenTelemetry database client spans
    assert trace.db_calls
    for statement in trace.db_calls:
        _, span = by_id[statement.span_id]
        attrs = {kv.key: kv.value for kv in span.attributes}
        assert span.kind == Span.SPAN_KIND_CLIENT and span.parent_span_id.hex() == statement.parent_span_id
        assert attrs["db.system.name"].string_value in {"sqlite", "mysql"}  # glance, keystone
        assert attrs["db.query.text"].string_value == statement.attributes["statement"]

    client = [s for _, s in spans if s.kind == Span.SPAN_KIND_CLIENT]
    server = [s for _, s in spans if s.kind == Span.SPAN_KIND_SERVER]
    assert client
    names = {
        kv.value.string_value for s in client for kv in s.attributes if kv.key == "openstack.service.type"
    }
    assert {"identity", "image"} <= names
    listing = [
        s for s in client
        if any(kv.key == "http.route" and kv.value.string_value.endswith("/v2/images") for kv in s.attributes)
    ]
    assert listing, "no client span for GET /v2/images"
    # Redaction holds all the way to the backend, bodies included.
    assert devcloud.password.encode() not in payload
    if not devcloud.traced:
        return  # NOTE: an untraced cloud (server pieces missing) has only the client side to show

    glance_served = [s for s in server if s.parent_span_id in {c.span_id for c in listing}]
    assert glance_served, "glance's server span is not a child of the client's GET /v2/images"
    assert any(kv.key == "openstack.request_id" for kv in glance_served[0].attributes)
    # glance's policy checks travel with its span: the rules as an attribute, one event each
    rules = [
        [v.string_value for v in kv.value.array_value.values]
        for kv in glance_served[0].attributes
        if kv.key == "openstack.policy.rules"
    ]
    assert rules and "get_images" in rules[0], rules
    checks = [e for e in glance_served[0].events if e.name == "openstack.policy.check"]
    assert any(
        kv.key == "openstack.policy.rule" and kv.value.string_value == "get_images"
        for e in checks
        for kv in e.attributes
    )
    resources = {resource["service.name"] for resource, span in spans if span.kind == Span.SPAN_KIND_SERVER}
    assert any("glance" in name for name in resources), resources
    assert any(s.kind == Span.SPAN_KIND_INTERNAL for _, s in spans), "server spans without layers"
