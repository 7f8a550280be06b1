"""send_trace: a synthetic run goes to a local OTLP/HTTP receiver as protobuf spans."""

from __future__ import annotations

import sys

import pytest
from export_samples import GLANCE, SECRET, TOKEN_MARK
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status
from tests.fixtures.otlp_receiver import Receiver

from stacktap.agent.spans import layer_span_id
from stacktap.export.otlp import OTLPExportError, send_trace
from stacktap.store import Trace


def _received_spans(rx: Receiver) -> list[tuple[dict, Span]]:
    """(resource attributes, span) of everything the receiver got, decoded with opentelemetry-proto."""
    out = []
    bodies = rx.bodies("application/x-protobuf")
    assert bodies, "no protobuf export request arrived"
    for body in bodies:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource_spans in request.resource_spans:
            resource = {kv.key: _value(kv.value) for kv in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                assert scope_spans.scope.name == "stacktap"
                out.extend((resource, span) for span in scope_spans.spans)
    return out


def _value(any_value):
    return getattr(any_value, any_value.WhichOneof("value"))


def _attrs(span: Span) -> dict:
    return {kv.key: _value(kv.value) for kv in span.attributes}


def test_spans_match_the_store(synthetic_trace: Trace, receiver: Receiver) -> None:
    sent = send_trace(synthetic_trace, receiver.base_url, {"x-tenant": "demo"})

    spans = _received_spans(receiver)
    layers = [layer for call in synthetic_trace.calls for layer in call.layers]
    assert sent == len(spans) == len(synthetic_trace.calls) + len(layers) == 8
    assert receiver.requests()[0][2].get("x-tenant") == "demo"
    by_id = {span.span_id.hex(): (resource, span) for resource, span in spans}
    for call in synthetic_trace.calls:
        resource, span = by_id[call.span_id]
        assert span.trace_id.hex() == call.trace_id
        assert span.parent_span_id.hex() == (call.parent_span_id or "")
        assert span.kind == (Span.SPAN_KIND_SERVER if call.side == "server" else Span.SPAN_KIND_CLIENT)
        assert span.start_time_unix_nano == round(call.start * 1e9)
        assert span.end_time_unix_nano == round(call.end * 1e9)
        attrs = _attrs(span)
        assert attrs["http.request.method"] == call.method
        assert attrs["url.full"] == call.url
        assert attrs["http.route"] == call.path_template
        expected_service = call.local_service or "openstack"
        assert resource["service.name"] == expected_service
        assert resource["host.name"] == call.host
    token, images, served, _validate, broken, refused = synthetic_trace.calls

    attrs = _attrs(by_id[token.span_id][1])
    assert attrs["server.address"] == "127.0.0.1"
    assert attrs["server.port"] == 5000
    assert attrs["http.response.status_code"] == 201
    assert attrs["openstack.service.type"] == "identity"
    assert attrs["openstack.service.name"] == "keystone"
    assert attrs["openstack.interface"] == "public"
    assert attrs["openstack.region"] == "RegionOne"
    assert attrs["openstack.request_id"] == "req-token"
    assert attrs["code.filepath"].endswith("openstackclient/shell.py")
    assert attrs["code.lineno"] == 134
    assert attrs["code.function"] == "initialize_app"
    assert attrs["code.namespace"] == "openstackclient.shell.OpenStackShell"
    assert "error.type" not in attrs

    images_attrs = _attrs(by_id[images.span_id][1])
    assert images_attrs["openstack.service.name"] == "glance"  # named from the run's catalog
    assert images_attrs["openstack.global_request_id"] == "req-global"
    served_span = by_id[served.span_id][1]
    assert served_span.name == "GET /v2/images"
    assert _attrs(served_span)["openstack.handler"] == "ImagesController.index"
    assert _attrs(served_span)["url.path"] == "/v2/images"

    # Layers: INTERNAL children, nested like the middleware, named after the filter.
    cors = by_id[layer_span_id(served.span_id, 0)][1]
    authtoken = by_id[layer_span_id(served.span_id, 1)][1]
    assert (cors.name, authtoken.name) == ("cors", "authtoken")
    assert cors.kind == authtoken.kind == Span.SPAN_KIND_INTERNAL
    assert cors.parent_span_id.hex() == served.span_id
    assert authtoken.parent_span_id.hex() == layer_span_id(served.span_id, 0)
    assert cors.start_time_unix_nano == round((served.start + 0.001) * 1e9)
    assert _attrs(cors)["openstack.layer.factory"] == "oslo_middleware.cors:filter_factory"

    # Errors: 5xx and failed calls are ERROR, 2xx are not.
    assert by_id[images.span_id][1].status.code == Status.STATUS_CODE_UNSET
    assert by_id[broken.span_id][1].status.code == Status.STATUS_CODE_ERROR
    assert _attrs(by_id[broken.span_id][1])["error.type"] == "503"
    refused_span = by_id[refused.span_id][1]
    assert refused_span.status.code == Status.STATUS_CODE_ERROR
    assert refused_span.status.message == "connection refused"
    assert _attrs(refused_span)["error.type"] == "ConnectionError"
    assert [e.name for e in refused_span.events] == ["exception"]

    # Headers never leave, and bodies only on request.
    payload = b"".join(receiver.bodies())
    assert SECRET.encode() not in payload
    assert TOKEN_MARK.encode() not in payload
    assert not any(e.name.startswith("http.") for _, s in spans for e in s.events)


def test_bodies_become_capped_events(synthetic_trace: Trace, receiver: Receiver) -> None:
    send_trace(synthetic_trace, receiver.url, {}, bodies=True, body_cap=12)

    token = synthetic_trace.calls[0]
    span = {s.span_id.hex(): s for _, s in _received_spans(receiver)}[token.span_id]
    events = {e.name: {kv.key: _value(kv.value) for kv in e.attributes} for e in span.events}
    assert set(events) == {"http.request.body", "http.response.body"}
    request = events["http.request.body"]
    assert request["stacktap.body.text"] == token.request_body.text[:12]
    assert request["stacktap.body.truncated"] is True
    assert request["stacktap.body.kind"] == "json"
    assert request["stacktap.body.size"] == 40


def test_backend_down_is_one_clear_error(synthetic_trace: Trace) -> None:
    rx = Receiver()
    url = rx.base_url
    rx.stop()
    with pytest.raises(OTLPExportError, match=r"http://127\.0\.0\.1:\d+/v1/traces") as caught:
        send_trace(synthetic_trace, url, {}, timeout=3.0)
    assert "Connection refused" in str(caught.value) or "no answer" in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("endpoint", ["localhost:4318", "ftp://x/", ""])
def test_bad_endpoint_is_rejected(synthetic_trace: Trace, endpoint: str) -> None:
    with pytest.raises(OTLPExportError, match="http"):
        send_trace(synthetic_trace, endpoint, {})


def test_wrong_path_is_reported(synthetic_trace: Trace, receiver: Receiver) -> None:
    with pytest.raises(OTLPExportError, match=r"/elsewhere answered 404 \(Not Found\)"):
        send_trace(synthetic_trace, GLANCE.replace("9292", str(receiver.port)) + "/elsewhere", {})


def test_missing_sdk_is_one_clear_error(synthetic_trace: Trace, monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes the import fail, as if the otlp extra were not installed.
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter", None)
    with pytest.raises(OTLPExportError, match=r"pip install 'stacktap\[otlp\]'"):
        send_trace(synthetic_trace, "http://127.0.0.1:9", {})


def test_empty_run_sends_nothing(synthetic_trace: Trace) -> None:
    empty = Trace(run=synthetic_trace.run, calls=[])
    assert send_trace(empty, "http://127.0.0.1:9", {}) == 0
