"""``stacktap run --proxy`` for a cloud of ``clouds.yaml`` (``OS_CLOUD``, ``--os-cloud NAME``,
``--os-cloud=NAME``), against a keystone-like upstream on 127.0.0.1: the command reads the
private copy it is given (0600, gone after the run) and reaches the upstream through the proxy,
the call is recorded, the cloud's password is nowhere else; a missing cloud is one line and the
command never runs; the real openstacksdk config loader reads the copy and still merges
``secure.yaml``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stacktap.store import Store

STACKTAP = str(Path(sys.executable).parent / "stacktap")
SECRET = "pw-0f-the-cl0ud"

#: The command: what its config file says and how it is kept, then a call through its auth_url.
CLIENT = """
import json, os, stat, sys, urllib.request, yaml
path = os.environ["OS_CLIENT_CONFIG_FILE"]
cloud = yaml.safe_load(open(path))["clouds"]["mine"]
base = cloud["auth"]["auth_url"][: -len("/v3")]
with urllib.request.urlopen(base + "/hello") as answer:
    upstream = json.load(answer)
print(json.dumps({
    "path": path,
    "mode": stat.S_IMODE(os.stat(path).st_mode),
    "dir_mode": stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode),
    "password": cloud["auth"]["password"],
    "auth_url": cloud["auth"]["auth_url"],
    "os_auth_url": os.environ.get("OS_AUTH_URL"),
    "upstream": upstream,
}))
"""


def _setup(tmp_path: Path, keystone: str) -> tuple[dict[str, str], Path]:
    """The environment of a user whose cloud ``mine`` is in ~/.config/openstack/clouds.yaml."""
    home = tmp_path / "home"
    clouds = home / ".config" / "openstack" / "clouds.yaml"
    clouds.parent.mkdir(parents=True)
    document = {"clouds": {"mine": {"auth": {"auth_url": keystone, "username": "u", "password": SECRET}}}}
    clouds.write_text(yaml.safe_dump(document))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_") and k != "XDG_CONFIG_HOME"}
    env["HOME"] = str(home)
    return env, clouds


def _run(tmp_path: Path, env: dict[str, str], *cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [STACKTAP, "run", "--db", str(tmp_path / "st.db"), "--proxy", "--", *cmd],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("how", ["OS_CLOUD", "--os-cloud", "--os-cloud="])
def test_cloud_of_clouds_yaml_is_reached_through_the_proxy_via_a_private_copy(
    tmp_path: Path, keystone: str, how: str
) -> None:
    env, clouds = _setup(tmp_path, keystone)
    original = clouds.read_text()
    args = {"OS_CLOUD": [], "--os-cloud": ["--os-cloud", "mine"], "--os-cloud=": ["--os-cloud=mine"]}[how]
    if how == "OS_CLOUD":
        env["OS_CLOUD"] = "mine"
    result = _run(tmp_path, env, sys.executable, "-c", CLIENT, *args)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["upstream"] == {"path": "/hello"}
    assert seen["auth_url"] != keystone and seen["auth_url"].startswith("http://127.0.0.1:")
    assert seen["password"] == SECRET and seen["os_auth_url"] is None
    assert (seen["mode"], seen["dir_mode"]) == (0o600, 0o700)
    assert not os.path.exists(seen["path"]) and not os.path.exists(os.path.dirname(seen["path"]))
    assert clouds.read_text() == original
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and "cloud mine of " in lines[0] and "Traceback" not in result.stderr
    with Store(str(tmp_path / "st.db")) as store:
        calls = store.calls(store.get_run("last").id, with_traces=False)
    assert [(c.method, c.url.rsplit("/", 1)[1], c.status) for c in calls] == [("GET", "hello", 200)]
    # NOTE: the secret is in the private copy only: not in what stacktap said nor in its store
    assert SECRET not in result.stderr
    for stored in tmp_path.glob("st.db*"):
        assert SECRET.encode() not in stored.read_bytes()


@pytest.mark.parametrize(
    ("cloud", "message"),
    [("absent", "no cloud 'absent' in "), (None, "needs OS_AUTH_URL, or a cloud of clouds.yaml")],
)
def test_missing_cloud_is_one_line_and_the_command_never_runs(
    tmp_path: Path, keystone: str, cloud: str | None, message: str
) -> None:
    env, _ = _setup(tmp_path, keystone)
    if cloud is not None:
        env["OS_CLOUD"] = cloud
    marker = tmp_path / "ran"
    result = _run(tmp_path, env, sys.executable, "-c", f"open({str(marker)!r}, 'w')")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and not marker.exists()


def test_cloud_without_auth_url_is_one_line(tmp_path: Path, keystone: str) -> None:
    env, clouds = _setup(tmp_path, keystone)
    clouds.write_text(yaml.safe_dump({"clouds": {"mine": {"auth": {"password": SECRET}}}}))
    result = _run(tmp_path, env, sys.executable, "-c", "pass", "--os-cloud", "mine")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "has no auth.auth_url" in result.stderr
    assert SECRET not in result.stderr


def test_openstacksdk_reads_the_copy_and_still_merges_secure_yaml(tmp_path: Path, keystone: str) -> None:
    """The real SDK config loader in the command: the proxy's auth_url, the password of secure.yaml."""
    pytest.importorskip("openstack.config")
    env, clouds = _setup(tmp_path, keystone)
    clouds.write_text(yaml.safe_dump({"clouds": {"mine": {"auth": {"auth_url": keystone, "username": "u"}}}}))
    secure = clouds.parent / "secure.yaml"
    secure.write_text(yaml.safe_dump({"clouds": {"mine": {"auth": {"password": SECRET}}}}))
    client = (
        "import json, openstack.config\n"
        "auth = openstack.config.OpenStackConfig().get_one(cloud='mine').config['auth']\n"
        "print(json.dumps({'auth_url': auth['auth_url'], 'password': auth.get('password')}))\n"
    )
    result = _run(tmp_path, env, sys.executable, "-c", client, "--os-cloud", "mine")
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["password"] == SECRET
    assert seen["auth_url"].startswith("http://127.0.0.1:") and seen["auth_url"] != keystone
    assert seen["auth_url"].endswith("/v3")
