"""OTLP spans carry a server call's policy checks: ``openstack.policy.*`` attributes and events."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.policy_runs import CREATE_RULE, write_flavor_create_denied

from stacktap.agent.otlp_json import encode
from stacktap.agent.spans import spans_for_call
from stacktap.store import Store, load_trace


def test_a_refused_server_call_names_its_rules_and_the_denial(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    run = write_flavor_create_denied(db)
    with Store(str(db)) as store:
        trace = load_trace(store, run)
    [server] = [c for c in trace.calls if c.local_service == "nova-api" and c.side == "server"]
    span = spans_for_call(server)[0]
    assert span.attributes["openstack.policy.rules"] == ["context_is_admin", CREATE_RULE]
    assert span.attributes["openstack.policy.denied"] == ["context_is_admin", CREATE_RULE]
    assert span.attributes["openstack.policy.denied_by"] == CREATE_RULE
    events = [e for e in span.events if e.name == "openstack.policy.check"]
    assert [e.attributes["openstack.policy.rule"] for e in events] == ["context_is_admin", CREATE_RULE]
    last = events[1].attributes
    assert last["openstack.policy.result"] == "denied"
    assert last["openstack.policy.error"] == "PolicyNotAuthorized"
    assert last["openstack.policy.roles"] == ["member", "reader"]
    assert events[0].time_ns < events[1].time_ns
    assert CREATE_RULE.encode() in encode([span])
