"""The dev cloud driven by its own python-openstackclient: what a learner runs on day one."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e


def openstack(cloud: Any, *args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(cloud.openstack), *args], env=env or cloud.env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"openstack {' '.join(args)}: {result.stderr}"
    return result.stdout


def openstack_json(cloud: Any, *args: str) -> Any:
    return json.loads(openstack(cloud, *args, "-f", "json"))


def stacktap(cloud: Any, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*cloud.stacktap, "devcloud", *args, "--dir", str(cloud.dir)],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_openstack_resolves_to_the_dev_clouds_client(devcloud: Any) -> None:
    assert devcloud.openstack.parent == devcloud.bin
    assert devcloud.env["PATH"].split(os.pathsep)[0] == str(devcloud.bin)
    assert devcloud.python.exists() and devcloud.openstack.exists()


def test_token_issue(devcloud: Any) -> None:
    token = openstack_json(devcloud, "token", "issue")
    assert token["id"] and token["project_id"] and token["user_id"]


def test_catalog_lists_each_service_on_its_port(devcloud: Any) -> None:
    catalog = {entry["Type"]: entry for entry in openstack_json(devcloud, "catalog", "list")}
    assert {"identity", "image", "compute", "placement"} <= set(catalog)
    services = (
        ("identity", "keystone"),
        ("image", "glance"),
        ("compute", "nova"),
        ("placement", "placement"),
    )
    for service_type, name in services:
        urls = {endpoint["url"] for endpoint in catalog[service_type]["Endpoints"]}
        assert any(url.startswith(devcloud.urls[name]) for url in urls), (service_type, urls)


def test_image_create_list_save_delete(devcloud: Any, tmp_path: Path) -> None:
    payload = os.urandom(300_000)  # NOTE: several chunks: `--file` uploads chunked
    source, saved = tmp_path / "in.img", tmp_path / "out.img"
    source.write_bytes(payload)
    name = f"stacktap-e2e-{os.getpid()}-{time.monotonic_ns()}"
    created = openstack_json(
        devcloud, "image", "create", "--file", str(source), "--disk-format", "raw",
        "--container-format", "bare", name,
    )  # fmt: skip
    try:
        assert created["status"] == "active"
        assert name in {image["Name"] for image in openstack_json(devcloud, "image", "list")}
        openstack(devcloud, "image", "save", "--file", str(saved), created["id"])
        assert saved.read_bytes() == payload
    finally:
        openstack(devcloud, "image", "delete", created["id"])
    assert created["id"] not in {image["ID"] for image in openstack_json(devcloud, "image", "list")}


def test_flavor_list_has_the_bootstrapped_flavors(devcloud: Any) -> None:
    names = {flavor["Name"] for flavor in openstack_json(devcloud, "flavor", "list")}
    assert {"m1.tiny", "m1.small"} <= names


def test_server_list_answers(devcloud: Any) -> None:
    servers = openstack_json(devcloud, "server", "list")
    # NOTE: the compute e2e tests boot and delete their own; none is left half-built.
    assert isinstance(servers, list) and all(s["Status"] in {"ACTIVE", "SHUTOFF"} for s in servers)


def test_placement_answers_through_osc_placement(devcloud: Any) -> None:
    # NOTE: the one compute host's provider, put there by nova-compute itself.
    assert [row["name"] for row in openstack_json(devcloud, "resource", "provider", "list")] == [
        "stacktap-devcloud"
    ]
    classes = {row["name"] for row in openstack_json(devcloud, "resource", "class", "list")}
    assert {"VCPU", "MEMORY_MB", "DISK_GB"} <= classes


def test_traced_placement_records_what_it_serves(devcloud: Any) -> None:
    if not devcloud.traced:
        pytest.fail("this stacktap cannot trace servers")
    openstack(devcloud, "resource", "provider", "list")
    from stacktap.store import Store

    deadline = time.monotonic() + 30
    served = 0
    while time.monotonic() < deadline and not served:
        with Store(str(devcloud.db), create=False) as store:
            runs = [run for run in store.runs() if run.kind == "server" and run.label == "placement-api"]
            served = sum(len(store.calls(run.id)) for run in runs)
        time.sleep(0.5)
    assert served > 0


def test_os_cloud_from_clouds_yaml(devcloud: Any) -> None:
    env = {k: v for k, v in devcloud.env.items() if not k.startswith("OS_")}
    env["OS_CLIENT_CONFIG_FILE"] = str(devcloud.dir / "clouds.yaml")
    out = openstack(devcloud, "--os-cloud", "stacktap-devcloud", "flavor", "list", "-f", "value", env=env)
    assert "m1.tiny" in out


def test_eval_env_then_openstack(devcloud: Any) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    script = (
        'eval "$(%s devcloud env --dir %s)" && command -v openstack && openstack token issue -f value -c id'
    )
    result = subprocess.run(
        [
            "bash",
            "-c",
            script % (" ".join(map(shlex.quote, devcloud.stacktap)), shlex.quote(str(devcloud.dir))),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    where, token = result.stdout.split()
    assert where == str(devcloud.openstack) and token


def test_status_names_services_pids_health_and_logs(devcloud: Any) -> None:
    result = stacktap(devcloud, "status", "-f", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {row["Service"]: row for row in json.loads(result.stdout)}
    compute_side = {"rabbitmq", "mariadb", "conductor", "scheduler", "compute"}
    assert set(rows) == set(devcloud.urls) | compute_side
    for name, row in rows.items():
        if name in devcloud.urls:
            assert row["URL"] == devcloud.urls[name]
        assert isinstance(row["PID"], int) and row["Health"].startswith("ok"), row
        assert Path(row["Log"]).exists()
    assert [rows[name]["Health"] for name in ("conductor", "scheduler", "compute")] == ["ok (up)"] * 3
    table = stacktap(devcloud, "status").stdout
    assert "--network NET" in table and "--nic none" in table and "clouds.yaml" in table


def test_second_up_reuses_the_running_services(devcloud: Any) -> None:
    before = json.loads(stacktap(devcloud, "status", "-f", "json").stdout)
    flags = ["--trace-servers", "--db", str(devcloud.db)] if devcloud.traced else ["--no-trace-servers"]
    started = time.monotonic()
    result = stacktap(devcloud, "up", *flags)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert "already serving" in result.stderr and "installing" not in result.stderr
    # the stand-in agent neutron shows current is not registered again (nor twice)
    assert "stand-in Open vSwitch agent already registered" in result.stderr
    assert json.loads(stacktap(devcloud, "status", "-f", "json").stdout) == before
    assert elapsed < 60


def test_traced_services_record_into_the_store_without_the_password(devcloud: Any) -> None:
    if not devcloud.traced:
        pytest.fail("this stacktap cannot trace servers yet (stacktap.paste.install or capture.env missing)")
    openstack(devcloud, "image", "list")
    from stacktap.store import Store

    deadline = time.monotonic() + 30
    sides: set[str] = set()
    while time.monotonic() < deadline and "server" not in sides:
        with Store(str(devcloud.db), create=False) as store:
            runs = store.runs()
            sides = {call.side for run in runs for call in store.calls(run.id)}
        time.sleep(0.5)
    assert "server" in sides
    for path in devcloud.db.parent.glob(devcloud.db.name + "*"):
        assert devcloud.password.encode() not in path.read_bytes(), path


# ---- faults, on a second cloud in a scratch dir that borrows the shared cloud's venv ----------


@pytest.fixture(scope="module")
def scratch(devcloud: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A keystone+glance cloud of its own (so faults never disturb the shared one), venv borrowed."""
    root = tmp_path_factory.mktemp("scratch") / "cloud"
    root.mkdir()
    (root / "venv").symlink_to(devcloud.dir / "venv")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*devcloud.stacktap, "devcloud", *args, "--dir", str(root)],
            capture_output=True,
            text=True,
            timeout=600,
        )

    yield root, run
    run("down")


def _status(run: Any) -> dict[str, Any]:
    return {row["Service"]: row for row in json.loads(run("status", "-f", "json").stdout)}


def _error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("stacktap: ")]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_busy_port_fails_cleanly_then_up_succeeds(scratch: Any) -> None:
    _, run = scratch
    first = run("up", "--without-nova", "--no-trace-servers")
    assert first.returncode == 0, first.stderr
    assert "bootstrapping keystone" in first.stderr and "installing" not in first.stderr
    glance_port = int(_status(run)["glance"]["URL"].rsplit(":", 1)[1])
    assert run("down").returncode == 0
    with socket.socket() as squatter:
        # NOTE: REUSEADDR, as the port may hold TIME_WAIT connections of the glance just stopped.
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", glance_port))
        squatter.listen()
        busy = run("up")
        line = _error_line(busy.stderr)
    assert busy.returncode == 1
    assert f"port 127.0.0.1:{glance_port} kept for glance is taken" in line
    assert "stopped keystone, started by this up" in line
    assert all(row["PID"] == "-" for row in _status(run).values())
    again = run("up")
    assert again.returncode == 0, again.stderr
    assert all(row["Health"].startswith("ok") for row in _status(run).values())


def test_up_after_a_crash_restarts_the_dead_services(scratch: Any) -> None:
    root, run = scratch
    assert run("up").returncode == 0
    before = _status(run)
    for row in before.values():
        os.killpg(row["PID"], signal.SIGKILL)  # a crash: no chance to clean up pid files
    deadline = time.monotonic() + 10
    while run("status").returncode == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert run("status").returncode == 1
    assert (root / "run" / "keystone.pid").exists() is False  # status noticed the stale pid file
    after = run("up")
    assert after.returncode == 0, after.stderr
    assert "serving keystone" in after.stderr and "serving glance" in after.stderr
    now = _status(run)
    assert all(row["Health"].startswith("ok") for row in now.values())
    assert {row["PID"] for row in now.values()}.isdisjoint({row["PID"] for row in before.values()})


def test_a_service_that_cannot_start_is_reported_with_its_log(scratch: Any) -> None:
    root, run = scratch
    assert run("down").returncode == 0
    broken = root / "etc" / "glance" / "glance-image-import.conf"  # glance reads it when present
    broken.write_text("this is [not an ini file\n")
    try:
        failed = run("up")
        line = _error_line(failed.stderr)
        assert failed.returncode == 1
        assert "glance exited" in line and f"read {root / 'logs' / 'glance.log'}" in line
        assert "started by this up" in line and "keystone" in line.split("stopped", 1)[1]
        assert all(row["PID"] == "-" for row in _status(run).values())
    finally:
        broken.unlink()
    assert run("up").returncode == 0


def test_down_twice_says_nothing_was_running(scratch: Any) -> None:
    _, run = scratch
    assert run("up").returncode == 0
    first = run("down")
    assert first.returncode == 0 and "stopped glance, keystone" in first.stderr
    second = run("down")
    assert second.returncode == 0 and "nothing was running" in second.stderr
