"""``stacktap policy`` on the dev cloud: the oslo.policy rules real keystone, glance and nova-api
checked for traced commands, a member's refusal, and a custom role built from the skeleton."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from stacktap.agent.server.policy import CRED_KEYS
from stacktap.store import Store

pytestmark = pytest.mark.e2e

FLAVOR_CREATE = "os_compute_api:os-flavor-manage:create"
#: Rules the admin's commands must have been allowed: (service, rule).
EXPECTED_ALLOWED = {
    ("glance-api", "add_image"),
    ("glance-api", "upload_image"),
    ("glance-api", "get_images"),
    ("nova-api", "os_compute_api:servers:detail"),
    ("nova-api", "os_compute_api:os-flavor-extra-specs:index"),
    ("keystone", "identity:validate_token"),
}
#: The services whose policy files the custom-role test overrides.
OVERRIDDEN = ("glance", "nova")


@dataclass
class Users:
    member: dict[str, str]  # env of a user with the member role in the project
    custom: dict[str, str]  # env of a user with only ``role`` in the project
    role: str
    password: str


def _openstack(devcloud: Any, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(devcloud.openstack), *args], capture_output=True, text=True, timeout=300, env=env or devcloud.env
    )
    assert done.returncode == 0, (args, done.stderr[-2000:])
    return done.stdout.strip()


def _traced(devcloud: Any, *args: str, env: dict[str, str] | None = None, ok: bool = True) -> str:
    """Run ``openstack ARGS`` under ``stacktap run``; the run id."""
    if not devcloud.traced:
        pytest.fail("the dev cloud runs untraced: this stacktap lacks the server-tracing pieces")
    label = f"policy-e2e-{uuid.uuid4().hex[:8]}"
    command = [*devcloud.stacktap, "run", "--db", str(devcloud.db), "--label", label, "--"]
    done = subprocess.run(
        [*command, str(devcloud.openstack), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env or devcloud.env,
    )
    assert (done.returncode == 0) == ok, (args, done.returncode, done.stderr[-2000:])
    with Store(str(devcloud.db)) as store:
        [run] = [r for r in store.runs() if r.label == label]
    return run.id


def _stacktap(devcloud: Any, *args: str) -> str:
    done = subprocess.run(
        [*devcloud.stacktap, *args, "--db", str(devcloud.db)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _policy(devcloud: Any, *args: str) -> dict[tuple[str, str], dict[str, Any]]:
    rows = json.loads(_stacktap(devcloud, "policy", *args, "-f", "json"))
    return {(row["Service"], row["Rule"]): row for row in rows}


#: Images the tests created (names), deleted at the end of the module.
_IMAGES: list[str] = []


def _commands(image_file: Path) -> list[tuple[str, ...]]:
    """The traced commands: ``image create`` + ``image list`` + ``server list`` + ``flavor list``."""
    if not image_file.exists():
        image_file.write_bytes(b"\0" * 512)
    name = f"policy-e2e-{uuid.uuid4().hex[:8]}"
    _IMAGES.append(name)
    create = ("image", "create", "--file", str(image_file), "--disk-format", "raw")
    create += ("--container-format", "bare")
    return [(*create, name), ("image", "list"), ("server", "list"), ("flavor", "list")]


@pytest.fixture(scope="module", autouse=True)
def _delete_images(devcloud: Any) -> Iterator[None]:
    yield
    listed = _openstack(devcloud, "image", "list", "-f", "json")  # NOTE: the admin sees every project's
    for image in json.loads(listed or "[]"):
        if image["Name"] in _IMAGES:
            _openstack(devcloud, "image", "delete", image["ID"])


@pytest.fixture(scope="module")
def users(devcloud: Any) -> Iterator[Users]:
    tag = uuid.uuid4().hex[:8]
    project, role, password = f"policy-e2e-{tag}", f"policy_e2e_{tag}", f"pw-{uuid.uuid4().hex}"
    _openstack(devcloud, "project", "create", project)
    _openstack(devcloud, "role", "create", role)
    envs = {}
    for user, user_role in ((f"member-{tag}", "member"), (f"custom-{tag}", role)):
        _openstack(devcloud, "user", "create", "--password", password, "--project", project, user)
        _openstack(devcloud, "role", "add", "--project", project, "--user", user, user_role)
        login = {"OS_USERNAME": user, "OS_PASSWORD": password, "OS_PROJECT_NAME": project}
        envs[user_role] = {**devcloud.env, **login}
    try:
        yield Users(member=envs["member"], custom=envs[role], role=role, password=password)
    finally:
        for user in (f"member-{tag}", f"custom-{tag}"):
            _openstack(devcloud, "user", "delete", user)
        _openstack(devcloud, "role", "delete", role)
        _openstack(devcloud, "project", "delete", project)


def test_an_admins_commands_record_the_glance_nova_and_keystone_rules_allowed(
    devcloud: Any, tmp_path: Path
) -> None:
    image = tmp_path / "image.raw"
    runs = [_traced(devcloud, *command) for command in _commands(image)]
    rules = _policy(devcloud, *runs)
    assert set(rules) >= EXPECTED_ALLOWED, sorted(rules)
    for key in EXPECTED_ALLOWED:
        assert rules[key]["Result"] == "allowed", rules[key]
        assert rules[key]["Check"], rules[key]
        assert "admin" in rules[key]["Roles"], rules[key]
    assert rules[("glance-api", "add_image")]["Caller"] == "command"
    assert any("POST /v2/images 201" in call for call in rules[("glance-api", "add_image")]["Calls"])
    assert "glance-api" in rules[("keystone", "identity:validate_token")]["Caller"]
    # NOTE: neutron (asked by nova-api for the ports of any servers listed) checks
    # context_is_advsvc and the like as questions whose "no" refuses nothing.
    refused = [key for key, row in rules.items() if row["Result"] != "allowed" and key[0] != "neutron-server"]
    assert not refused


def test_a_members_flavor_create_is_denied_and_the_rule_named(devcloud: Any, users: Users) -> None:
    name = f"policy-e2e-{uuid.uuid4().hex[:8]}"
    create = ("flavor", "create", "--ram", "64", "--disk", "1", "--vcpus", "1", name)
    run = _traced(devcloud, *create, env=users.member, ok=False)
    denied = _policy(devcloud, run, "--denied")
    row = denied[("nova-api", FLAVOR_CREATE)]
    assert row["Result"] == "denied" and row["Errors"] == ["PolicyNotAuthorized"]
    assert row["Calls"] and all(call.endswith("POST /v2.1/flavors 403") for call in row["Calls"])
    assert "member" in row["Roles"] and "admin" not in row["Roles"]
    shown = _stacktap(devcloud, "show", run).splitlines()
    [line] = [line for line in shown if "nova-api" in line and "403" in line]
    assert f"policy denied: {FLAVOR_CREATE}" in line


@pytest.fixture
def policy_files(devcloud: Any, tmp_path: Path) -> Iterator[dict[str, Path]]:
    """The services' ``policy.yaml`` (their config dir: oslo.policy finds it there and re-reads
    it when it changes); afterwards every rule written is set back to its default, the services
    re-read it, and the files are removed."""
    import yaml

    paths = {service: devcloud.dir / "etc" / service / "policy.yaml" for service in OVERRIDDEN}
    assert not any(path.exists() for path in paths.values()), "a policy.yaml is already installed"
    try:
        yield paths
    finally:
        # NOTE: glance merges its policy file into its rules (overwrite=False) and keeps an
        # enforcer per controller: removing the file would leave the overrides in place. So the
        # defaults are written back and the same commands run again (each enforcer re-reads).
        written: dict[str, str] = {}
        for path in paths.values():
            if path.exists():
                written.update(yaml.safe_load(path.read_text()) or {})
        defaults = {rule: check for rule, check in _registered_defaults(devcloud).items() if rule in written}
        for path in paths.values():
            path.write_text(json.dumps(defaults, indent=0))
        for command in _commands(tmp_path / "restore.raw"):
            _openstack(devcloud, *command)
        for path in paths.values():
            path.unlink()


def _registered_defaults(devcloud: Any) -> dict[str, str]:
    """Every rule glance and nova register, with its default check string (their own code)."""
    code = (
        "import json, glance.policies, nova.policies\n"
        "rules = list(glance.policies.list_rules()) + list(nova.policies.list_rules())\n"
        "print(json.dumps({r.name: r.check_str for r in rules}))\n"
    )
    env = {k: v for k, v in devcloud.env.items() if not k.startswith(("STACKTAP_", "PYTHON"))}
    command = [str(devcloud.python), "-c", code]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_a_role_given_exactly_the_skeleton_runs_the_commands(
    devcloud: Any, users: Users, policy_files: dict[str, Path], tmp_path: Path
) -> None:
    image = tmp_path / "image.raw"
    admin_runs = [_traced(devcloud, *command) for command in _commands(image)]
    skeleton = _stacktap(devcloud, "policy", *admin_runs, "--as-policy-file", "--role", users.role)
    assert skeleton.startswith("# A STARTING POINT")
    # before: the role alone may not list servers
    refused = _traced(devcloud, "server", "list", env=users.custom, ok=False)
    assert ("nova-api", "os_compute_api:servers:detail") in _policy(devcloud, refused, "--denied")
    for path in policy_files.values():
        path.write_text(skeleton)
    custom_runs = [_traced(devcloud, *command, env=users.custom) for command in _commands(image)]
    rules = _policy(devcloud, *custom_runs)
    import yaml

    granted = yaml.safe_load(skeleton)
    assert {"add_image", "get_images", "os_compute_api:servers:detail"} <= set(granted)
    for (service, rule), row in rules.items():
        if rule in granted and row["Caller"] == "command":
            assert (row["Result"], row["Check"]) == ("allowed", f"role:{users.role}"), (service, row)
            assert row["Roles"] == [users.role]


def test_recorded_credentials_hold_no_token_or_password(devcloud: Any, users: Users) -> None:
    run = _traced(devcloud, "flavor", "list", env=users.member)
    db = sqlite3.connect(devcloud.db)
    try:
        rows = db.execute(
            "SELECT p.creds, p.rule, p.check_str FROM policy_checks p JOIN calls c ON c.span_id = p.span_id"
            " WHERE c.trace_id IN (SELECT trace_id FROM calls WHERE run_id = ?)",
            (run,),
        ).fetchall()
    finally:
        db.close()
    assert rows
    for creds_text, _rule, _check in rows:
        creds = json.loads(creds_text)
        assert set(creds) <= set(CRED_KEYS), creds
        assert users.password not in creds_text and "gAAAAA" not in creds_text
    assert any("member" in json.loads(text).get("roles", []) for text, _r, _c in rows)
