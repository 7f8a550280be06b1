"""The Call -> span mapping shared by the protobuf and the live JSON export."""

from __future__ import annotations

from stacktap.agent.spans import (
    KIND_CLIENT,
    KIND_INTERNAL,
    KIND_SERVER,
    layer_span_id,
    process_service_name,
    spans_for_call,
)
from stacktap.model import Call, Layer


def test_layer_ids_are_stable_and_distinct() -> None:
    assert layer_span_id("00f067aa0ba902b7", 0) == layer_span_id("00f067aa0ba902b7", 0)
    ids = {layer_span_id("00f067aa0ba902b7", n) for n in range(10)}
    assert len(ids) == 10
    assert all(len(i) == 16 and int(i, 16) for i in ids)


def test_unfinished_layer_ends_with_its_call() -> None:
    call = Call(run_id="r", method="GET", url="http://h:80/", start=10.0, duration=1.0, side="server")
    call.layers = [
        Layer(
            span_id=call.span_id,
            order=0,
            name="auth",
            enter_offset=0.5,
            exit_offset=None,
            answered=True,
            status=401,
        )
    ]
    span, layer = spans_for_call(call)
    assert (span.kind, layer.kind) == (KIND_SERVER, KIND_INTERNAL)
    assert layer.start_ns == 10_500_000_000
    assert layer.end_ns == span.end_ns == 11_000_000_000
    assert layer.attributes["openstack.layer.answered"] is True
    assert not layer.error and not span.error


def test_unknown_method_and_missing_template() -> None:
    call = Call(run_id="r", method="purge", url="http://h:8080/v1/AUTH_x/c/o", start=1.0)
    (span,) = spans_for_call(call)
    assert span.kind == KIND_CLIENT
    assert span.attributes["http.request.method"] == "_OTHER"
    assert span.attributes["http.request.method_original"] == "purge"
    assert span.attributes["server.port"] == 8080
    assert span.name.startswith("PURGE /v1/")
    assert span.end_ns == span.start_ns  # nothing measured: a zero-length span, not a negative one


def test_service_name_falls_back_to_the_program() -> None:
    call = Call(run_id="r", method="GET", url="http://h/", start=1.0)
    assert process_service_name(call) == "unknown_service"
    call.process_argv = ["/usr/bin/openstack", "server", "list"]
    assert process_service_name(call) == "openstack"
    call.process_name = "osc"
    assert process_service_name(call) == "osc"
    call.local_service = "nova-api"
    assert process_service_name(call) == "nova-api"


def test_client_4xx_is_not_an_error_but_failed_calls_are() -> None:
    lookup = Call(run_id="r", method="GET", url="http://h/v2/images/x", start=1.0, status=404)
    (span,) = spans_for_call(lookup)
    assert not span.error and "error.type" not in span.attributes
    failed = Call(run_id="r", method="GET", url="http://h/", start=1.0, error_type="Timeout")
    (span,) = spans_for_call(failed)
    assert span.error and span.status_message is None and span.attributes["error.type"] == "Timeout"


def test_db_statement_spans_follow_the_database_conventions() -> None:
    from stacktap.agent.spans import spans_for_call
    from stacktap.model import KIND_DB

    call = Call(
        run_id="r",
        method="SELECT",
        url="sqlite:///nova.db",
        start=1.0,
        duration=0.002,
        kind=KIND_DB,
        attributes={
            "system": "sqlite",
            "statement": "SELECT id FROM instances WHERE uuid = ?",
            "rowcount": 3,
        },
    )
    (span,) = spans_for_call(call)
    assert span.name == "SELECT"
    assert span.attributes["db.system.name"] == "sqlite"
    assert span.attributes["db.query.text"] == "SELECT id FROM instances WHERE uuid = ?"
    assert span.attributes["db.operation.name"] == "SELECT"
    assert span.attributes["db.response.returned_rows"] == 3
    assert not any(key.startswith(("http.", "url.")) for key in span.attributes)
