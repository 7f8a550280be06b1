"""The oslo.policy hook against the real Enforcer, in a traced WSGI app (stacktap.agent.server.policy)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from serve import make_environ, serve
from wsgi_apps import CollectingRecorder

oslo_policy = pytest.importorskip("oslo_policy.policy")
from oslo_config import cfg  # noqa: E402
from oslo_context import context as oslo_context  # noqa: E402

from stacktap.agent import faults  # noqa: E402
from stacktap.agent.enrich import Enricher  # noqa: E402
from stacktap.agent.recorder import Recorder  # noqa: E402
from stacktap.agent.server import policy as hook  # noqa: E402
from stacktap.agent.server.filter import TraceMiddleware  # noqa: E402
from stacktap.model import POLICY_ALLOWED, POLICY_DENIED, POLICY_RAISED  # noqa: E402

TOKEN = "gAAAAABm" + "Zx9Kd1_-fernetTokenBody0123456789abcdefABCDEF" * 3  # a keystone fernet token look-alike
RULES = [
    oslo_policy.RuleDefault("admin_required", "role:admin"),
    oslo_policy.RuleDefault("get_images", "role:reader or role:admin"),
    oslo_policy.RuleDefault("add_flavor", "rule:admin_required"),
]


@pytest.fixture
def patched() -> Iterator[None]:
    hook.patch(oslo_policy)
    try:
        yield
    finally:
        hook.unpatch(oslo_policy)


def make_enforcer(tmp_path: Path) -> Any:
    conf = cfg.ConfigOpts()
    conf([], project="stacktap-test", default_config_files=[], default_config_dirs=[])
    enforcer = oslo_policy.Enforcer(conf, policy_file=str(tmp_path / "policy.yaml"))
    enforcer.register_defaults(RULES)
    return enforcer


def policy_app(enforcer: Any, rule: str, method: str = "authorize") -> Any:
    """A service handler: checks ``rule`` for the caller in X-Roles, like nova's API does."""

    def app(environ: dict, start_response: Any) -> list[bytes]:
        ctx = oslo_context.RequestContext(
            user_id="u-1",
            project_id="p-1",
            project_name="demo",
            roles=environ.get("HTTP_X_ROLES", "").split(","),
            auth_token=TOKEN,
        )
        try:
            getattr(enforcer, method)(rule, {"project_id": "p-1"}, ctx, do_raise=True)
        except oslo_policy.PolicyNotAuthorized:
            start_response("403 Forbidden", [("Content-Type", "text/plain")])
            return [b"denied"]
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    return app


def run(app: Any, recorder: CollectingRecorder, roles: str) -> Any:
    traced = TraceMiddleware(app, service="nova-api", recorder=recorder)
    status, _headers, _body = serve(traced, make_environ("/flavors", headers={"X-Roles": roles}))
    return status, recorder.calls[-1]


def test_an_allowed_check_is_recorded_with_its_resolved_rule_and_roles(
    patched: None, tmp_path: Path, recorder: CollectingRecorder
) -> None:
    status, call = run(policy_app(make_enforcer(tmp_path), "get_images"), recorder, "reader")
    assert status == "200 OK"
    [check] = call.policy_checks
    assert (check.rule, check.result, check.error) == ("get_images", POLICY_ALLOWED, None)
    assert check.check == "(role:reader or role:admin)"
    assert check.span_id == call.span_id and check.order == 0
    assert check.creds["roles"] == ["reader"]
    assert check.creds["project_id"] == "p-1" and check.creds["project_name"] == "demo"
    assert check.duration is not None and 0 <= check.offset <= call.duration


def test_a_denial_is_recorded_once_though_authorize_calls_enforce(
    patched: None, tmp_path: Path, recorder: CollectingRecorder
) -> None:
    status, call = run(policy_app(make_enforcer(tmp_path), "add_flavor"), recorder, "member")
    assert status == "403 Forbidden"
    [check] = call.policy_checks
    assert (check.rule, check.result, check.error) == ("add_flavor", POLICY_DENIED, "PolicyNotAuthorized")
    assert check.check == "rule:admin_required"


def test_the_policy_file_override_is_the_check_string_recorded(
    patched: None, tmp_path: Path, recorder: CollectingRecorder
) -> None:
    (tmp_path / "policy.yaml").write_text('"add_flavor": "role:flavor_admin"\n')
    status, call = run(policy_app(make_enforcer(tmp_path), "add_flavor"), recorder, "flavor_admin")
    assert status == "200 OK"
    assert [(c.rule, c.check, c.result) for c in call.policy_checks] == [
        ("add_flavor", "role:flavor_admin", POLICY_ALLOWED)
    ]


def test_enforce_without_do_raise_returning_false_is_a_denial(
    patched: None, tmp_path: Path, recorder: CollectingRecorder
) -> None:
    enforcer = make_enforcer(tmp_path)

    def app(environ: dict, start_response: Any) -> list[bytes]:
        allowed = enforcer.enforce("admin_required", {}, {"roles": ["member"], "user_id": "u"})
        start_response("200 OK", [])
        return [b"yes" if allowed else b"no"]

    status, call = run(app, recorder, "member")
    assert status == "200 OK"
    assert [(c.rule, c.result, c.error) for c in call.policy_checks] == [
        ("admin_required", POLICY_DENIED, None)
    ]


def test_a_repeated_check_is_counted_and_an_elevated_context_recorded_apart(
    patched: None, tmp_path: Path, recorder: CollectingRecorder
) -> None:
    enforcer = make_enforcer(tmp_path)

    def app(environ: dict, start_response: Any) -> list[bytes]:
        ctx = oslo_context.RequestContext(project_id="p-1", roles=["reader"])
        for _ in range(25):  # like glance's get_image for each image of a listing
            enforcer.enforce("get_images", {}, ctx)
        elevated = oslo_context.RequestContext(project_id="p-1", roles=["reader", "admin"])
        enforcer.enforce("get_images", {}, elevated)
        start_response("200 OK", [])
        return [b"ok"]

    _status, call = run(app, recorder, "reader")
    assert [(c.rule, c.count, c.creds["roles"]) for c in call.policy_checks] == [
        ("get_images", 25, ["reader"]),
        ("get_images", 1, ["reader", "admin"]),
    ]
    assert call.policy_checks[0].duration > call.policy_checks[1].duration


def test_an_unregistered_rule_is_recorded_as_raised_and_still_raises(
    patched: None, tmp_path: Path, recorder: CollectingRecorder
) -> None:
    app = policy_app(make_enforcer(tmp_path), "no_such_rule")
    traced = TraceMiddleware(app, service="nova-api", recorder=recorder)
    with pytest.raises(oslo_policy.PolicyNotRegistered):
        serve(traced, make_environ("/x", headers={"X-Roles": "admin"}))
    [check] = recorder.calls[-1].policy_checks
    assert (check.rule, check.result, check.error) == ("no_such_rule", POLICY_RAISED, "PolicyNotRegistered")


def test_checks_outside_a_traced_request_are_not_recorded(
    patched: None, tmp_path: Path, recorder: CollectingRecorder
) -> None:
    enforcer = make_enforcer(tmp_path)
    assert enforcer.enforce("admin_required", {}, {"roles": ["admin"]}) is True
    _status, call = run(policy_app(enforcer, "get_images"), recorder, "admin")
    assert [c.rule for c in call.policy_checks] == ["get_images"]


def test_a_fault_in_the_hook_leaves_the_answer_alone(
    patched: None, tmp_path: Path, recorder: CollectingRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(creds: Any) -> dict:
        raise RuntimeError("boom")

    monkeypatch.setattr(hook, "creds_summary", broken)
    monkeypatch.setattr(faults, "fault_counts", {})
    status, call = run(policy_app(make_enforcer(tmp_path), "add_flavor"), recorder, "member")
    assert status == "403 Forbidden"
    assert call.policy_checks == []
    assert faults.fault_counts == {"stacktap policy hook:RuntimeError": 1}


def test_no_token_reaches_the_recorded_credentials(
    patched: None, tmp_path: Path, recorder: CollectingRecorder
) -> None:
    _status, call = run(policy_app(make_enforcer(tmp_path), "get_images"), recorder, "admin")
    # NOTE: a secret-looking value in an allowed key is marked by the recorder's redaction too.
    call.policy_checks[0].creds["project_name"] = TOKEN
    stored = Enricher(Recorder()).from_call(call, None, None, "run-1")
    assert stored is not None
    text = json.dumps([c.to_dict() for c in stored.policy_checks])
    assert TOKEN not in text and "auth_token" not in text
    assert stored.policy_checks[0].creds["roles"] == ["admin"]


def test_the_import_hook_patches_oslo_policy_when_a_service_imports_it() -> None:
    code = textwrap.dedent(
        """
        from stacktap.agent.import_hook import install
        install()
        import oslo_policy.policy as p
        e = p.Enforcer
        print(getattr(e, "_stacktap_policy_patched", False), hasattr(e.enforce, "__stacktap_original__"))
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("STACKTAP_")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True"]


def test_the_filter_hooks_an_oslo_policy_imported_before_it(recorder: CollectingRecorder) -> None:
    """A service loading the paste filter without ``stacktap run`` (no import hook) had
    oslo.policy imported already: building the filter patches it."""
    hook.unpatch(oslo_policy)
    try:
        TraceMiddleware(policy_app(None, "x"), service="nova-api", recorder=recorder)
        assert getattr(oslo_policy.Enforcer, "_stacktap_policy_patched", False)
        assert hasattr(oslo_policy.Enforcer.enforce, "__stacktap_original__")
    finally:
        hook.unpatch(oslo_policy)
    assert not hasattr(oslo_policy.Enforcer.enforce, "__stacktap_original__")
