"""``stacktap policy`` (and the 403 note of ``stacktap show``) through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner
from tests.fixtures.policy_runs import CREATE_RULE, write_flavor_create_denied, write_image_list_allowed

from stacktap.cli.main import cli


def _invoke(*args: str) -> object:
    return CliRunner().invoke(cli, list(args))


def test_the_rules_per_service_with_results_callers_and_calls(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    run = write_flavor_create_denied(db)
    result = _invoke("policy", run, "-f", "json", "--db", str(db))
    assert result.exit_code == 0, result.output
    rows = {(r["Service"], r["Rule"]): r for r in json.loads(result.output)}
    assert set(rows) == {
        ("nova-api", "context_is_admin"),
        ("nova-api", CREATE_RULE),
        ("keystone", "identity:validate_token"),
    }
    create = rows[("nova-api", CREATE_RULE)]
    assert (create["Result"], create["Caller"]) == ("denied", "command")
    assert create["Errors"] == ["PolicyNotAuthorized"]
    assert create["Calls"] == ["#2 POST /v2.1/flavors 403"]
    assert create["Check"] == "rule:context_is_admin" and create["Roles"] == ["member", "reader"]
    validate = rows[("keystone", "identity:validate_token")]
    assert (validate["Result"], validate["Caller"]) == ("allowed", "nova-api")


def test_denied_lists_only_what_was_refused(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    run = write_flavor_create_denied(db)
    result = _invoke("policy", run, "--denied", "--db", str(db))
    assert result.exit_code == 0, result.output
    assert CREATE_RULE in result.output and "#2 POST /v2.1/flavors 403" in result.output
    assert "identity:validate_token" not in result.output


def test_the_policy_file_grants_the_commands_rules_to_the_role(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    a = write_flavor_create_denied(db)
    b = write_image_list_allowed(db)
    result = _invoke("policy", a, b, "--as-policy-file", "--role", "flavor_admin", "--db", str(db))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("# A STARTING POINT for a custom role")
    granted = yaml.safe_load(result.output)
    assert granted == {CREATE_RULE: "role:flavor_admin", "get_images": "role:flavor_admin"}


def test_show_names_the_rule_that_refused_a_403(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    run = write_flavor_create_denied(db)
    result = _invoke("show", run, "--db", str(db))
    assert result.exit_code == 0, result.output
    [line] = [line for line in result.output.splitlines() if "FlavorManageController" in line]
    assert f"policy denied: {CREATE_RULE}" in line


def test_bad_input_is_one_line_errors(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    run = write_flavor_create_denied(db)
    for args, message in [
        (["--as-policy-file"], "--as-policy-file needs --role NAME"),
        (["--role", "x"], "--role goes with --as-policy-file"),
        (["--as-policy-file", "--role", "a b"], "bad role name"),
        (["--as-policy-file", "--role", "r", "--denied"], "--denied does not go with --as-policy-file"),
    ]:
        result = _invoke("policy", run, *args, "--db", str(db))
        assert result.exit_code == 2 and result.output.startswith("stacktap: " + message), result.output
        assert "Traceback" not in result.output
    result = _invoke("policy", "nope", "--db", str(db))
    assert result.exit_code == 1 and result.output.startswith("stacktap: no run 'nope'")


def test_the_checks_survive_export_and_import(tmp_path: Path) -> None:
    db, copy, exported = tmp_path / "s.db", tmp_path / "copy.db", tmp_path / "run.json"
    run = write_flavor_create_denied(db)
    assert _invoke("export", run, "--format", "json", "-o", str(exported), "--db", str(db)).exit_code == 0
    assert _invoke("import", str(exported), "--db", str(copy)).exit_code == 0
    before = _invoke("policy", run, "-f", "json", "--db", str(db))
    after = _invoke("policy", run, "-f", "json", "--db", str(copy))
    assert after.exit_code == 0 and json.loads(after.output) == json.loads(before.output)


def test_the_report_lists_the_checks_of_each_call(tmp_path: Path) -> None:
    db, page = tmp_path / "s.db", tmp_path / "r.html"
    run = write_flavor_create_denied(db)
    result = _invoke("report", run, "-o", str(page), "--db", str(db))
    assert result.exit_code == 0, result.output
    html = page.read_text()
    assert f'"denied_by":"{CREATE_RULE}"' in html and '"rule":"identity:validate_token"' in html
    assert "Policy checks (oslo.policy, in order)" in html
