from __future__ import annotations

import pytest

from stacktap.agent.rules import IgnoreRules


def test_all_fields_of_a_rule_must_match() -> None:
    rules = IgnoreRules.parse(
        "method=GET path=/healthcheck; from=nova-compute to=placement path=/resource_providers*"
    )
    assert rules.matches("GET", "/healthcheck")
    assert rules.matches("get", "/healthcheck")
    assert not rules.matches("POST", "/healthcheck")
    assert rules.matches("GET", "/resource_providers/abc/inventories", "nova-compute", "placement")
    assert not rules.matches("GET", "/resource_providers", "nova-api", "placement")
    assert not rules.matches("GET", "/resource_providers", None, "placement")


def test_path_templates_and_method_lists() -> None:
    rules = IgnoreRules.parse("method=GET,HEAD path=/v2/images/{image_id}")
    assert rules.matches("HEAD", "/v2/images/3f0c0b7a-5d3c-4d9e-9c1e-0c7c0c2d4a11")
    assert not rules.matches("GET", "/v2/images")
    assert not rules.matches("DELETE", "/v2/images/3f0c0b7a-5d3c-4d9e-9c1e-0c7c0c2d4a11")


def test_empty_rules_are_falsy() -> None:
    assert not IgnoreRules.parse("")
    assert not IgnoreRules.parse(None)
    assert not IgnoreRules().matches("GET", "/")


@pytest.mark.parametrize(
    ("text", "message"), [("verb=GET", "unknown field 'verb'"), ("path", "not field=pattern")]
)
def test_malformed_rules_name_themselves(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        IgnoreRules.parse(text)


def test_from_env_reads_stacktap_ignore() -> None:
    assert IgnoreRules.from_env({"STACKTAP_IGNORE": "to=placement"}).matches("GET", "/", None, "placement")
    assert not IgnoreRules.from_env({"STACKTAP_IGNORE": "bad"})
