"""Endpoint and header resolution, as the OpenTelemetry exporters do it."""

from __future__ import annotations

import pytest

from stacktap.agent.endpoint import live_target_from_env, parse_headers, traces_url


def test_base_urls_get_the_traces_path() -> None:
    assert traces_url("http://jaeger:4318") == "http://jaeger:4318/v1/traces"
    assert traces_url("http://jaeger:4318/") == "http://jaeger:4318/v1/traces"
    assert traces_url("https://tempo/otlp/v1/traces") == "https://tempo/otlp/v1/traces"
    with pytest.raises(ValueError, match="http"):
        traces_url("jaeger:4318")


def test_headers_are_percent_decoded() -> None:
    assert parse_headers("api-key=a%3Db,x-org = 1 ,broken") == {"api-key": "a=b", "x-org": "1"}
    assert parse_headers(None) == {}


def test_live_target_needs_an_explicit_switch() -> None:
    assert live_target_from_env({}) is None
    # Standard variables alone do not turn stacktap's export on...
    assert live_target_from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}) is None
    # ...STACKTAP_OTLP=1 does, and the traces endpoint wins over the base one.
    env = {
        "STACKTAP_OTLP": "1",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
        "OTEL_EXPORTER_OTLP_HEADERS": "a=1",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "b=2",
    }
    assert live_target_from_env(env) == {"url": "http://c:4318/v1/traces", "headers": {"a": "1", "b": "2"}}
    env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = "http://t:4318/custom"
    assert live_target_from_env(env)["url"] == "http://t:4318/custom"
    assert live_target_from_env({"STACKTAP_OTLP": "1"})["url"] == "http://localhost:4318/v1/traces"
    assert live_target_from_env({"STACKTAP_OTLP_ENDPOINT": "http://s:4318"})["url"] == "http://s:4318/v1/traces"
