"""``up --with compute``: servers boot through the real OSC, nova's own services and neutron.

What a learner does on day two: boot a server, list and show it, delete it, and look at the
compute side (services, hypervisor, resource provider, networks), all against the shared dev
cloud (which the session fixture brings up with ``--with compute``).
"""

from __future__ import annotations

import subprocess
import time
import uuid
from typing import Any

import pytest

from stacktap.devcloud.compute import raw_image
from stacktap.store import Store

pytestmark = pytest.mark.e2e

BOOT = ["--nic", "none", "--flavor", "m1.tiny", "--image", "devcloud-image", "--wait"]


def test_server_create_list_show_delete(devcloud: Any) -> None:
    name = "e2e-" + uuid.uuid4().hex[:8]
    server = devcloud.openstack_json("server", "create", *BOOT, name)
    disk = devcloud.dir / "data" / "nova" / "instances" / server["id"] / "disk"
    try:
        assert server["status"] == "ACTIVE" and server["name"] == name
        assert server["OS-EXT-SRV-ATTR:host"] == "stacktap-devcloud"
        listed = {row["Name"]: row for row in devcloud.openstack_json("server", "list")}
        assert listed[name]["Status"] == "ACTIVE" and listed[name]["Image"] == "devcloud-image"
        shown = devcloud.openstack_json("server", "show", name)
        assert shown["id"] == server["id"] and shown["flavor"]["name"] == "m1.tiny"
        # placement holds the server's allocation on the compute host's provider
        providers = devcloud.openstack_json("resource", "provider", "list")
        assert [p["name"] for p in providers] == ["stacktap-devcloud"]
        usage = {row["resource_class"]: row["usage"] for row in devcloud.openstack_json(
            "resource", "provider", "usage", "show", providers[0]["uuid"])}  # fmt: skip
        assert usage["MEMORY_MB"] >= 512 and usage["VCPU"] >= 1
        # the dev cloud's driver downloaded the image from glance, as a real driver does
        assert disk.read_bytes() == raw_image()
    finally:
        devcloud.run_openstack("server", "delete", "--wait", name)
    assert name not in {row["Name"] for row in devcloud.openstack_json("server", "list")}
    assert not disk.parent.exists()  # and removed it with the server


def test_compute_side_is_listed_by_the_osc(devcloud: Any) -> None:
    services = {row["Binary"]: row for row in devcloud.openstack_json("compute", "service", "list")}
    assert {"nova-conductor", "nova-scheduler", "nova-compute"} <= set(services)
    assert all(services[b]["State"] == "up" for b in ("nova-conductor", "nova-scheduler", "nova-compute"))
    hypervisors = devcloud.openstack_json("hypervisor", "list")
    assert [(h["Hypervisor Hostname"], h["Hypervisor Type"], h["State"]) for h in hypervisors] == [
        ("stacktap-devcloud", "fake", "up")
    ]


def test_neutron_serves_networks_from_its_mariadb(devcloud: Any) -> None:
    name = "e2e-net-" + uuid.uuid4().hex[:8]
    created = devcloud.openstack_json("network", "create", name)
    try:
        assert created["provider:network_type"] == "vxlan"
        assert name in {row["Name"] for row in devcloud.openstack_json("network", "list")}
        subnet = devcloud.openstack_json(
            "subnet", "create", "--network", name, "--subnet-range", "10.9.8.0/24", name
        )
        assert subnet["cidr"] == "10.9.8.0/24"
    finally:
        devcloud.run_openstack("network", "delete", name, check=False)
    assert name not in {row["Name"] for row in devcloud.openstack_json("network", "list")}


def test_traced_server_create_records_the_compute_sides_own_calls(devcloud: Any) -> None:
    """Under ``stacktap run``: the command's output is the untraced one's, and with --trace-servers
    the scheduler and compute record the calls they make (placement's candidates, allocations)."""
    if not devcloud.traced:
        pytest.fail("this stacktap cannot trace servers")
    name = "e2e-traced-" + uuid.uuid4().hex[:8]
    label = "compute-e2e-" + uuid.uuid4().hex[:8]
    started = time.time()
    done = subprocess.run(
        [*devcloud.stacktap, "run", "--db", str(devcloud.db), "--label", label, "--", str(devcloud.openstack),
         "server", "create", *BOOT, "-f", "value", "-c", "status", "-c", "name", name],
        env=devcloud.env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    try:
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.split() == [name, "ACTIVE"]
        with Store(str(devcloud.db), create=False) as store:
            run = next(r for r in store.runs() if r.label == label)
            posted = [c for c in store.calls(run.id) if c.method == "POST" and c.url.endswith("/servers")]
            # the OSC's request and nova-api's record of serving it, in the command's trace
            assert sorted((c.side, c.status) for c in posted) == [("client", 202), ("server", 202)]
            served = next(c for c in posted if c.side == "server")
            assert served.local_service == "nova-api" and served.handler and "create" in served.handler
        deadline = time.monotonic() + 30
        seen: dict[str, set[str]] = {}
        # NOTE: the fake driver never fetches the image, so compute's own calls are placement's.
        wanted = {"nova-scheduler": "/allocation_candidates", "nova-compute": "/allocations"}
        while time.monotonic() < deadline and not all(
            any(part in url for url in seen.get(proc, ())) for proc, part in wanted.items()
        ):
            with Store(str(devcloud.db), create=False) as store:
                for server_run in store.runs():
                    if server_run.kind != "server" or server_run.label not in wanted:
                        continue
                    for call in store.calls(server_run.id):
                        if call.start >= started:
                            seen.setdefault(server_run.label, set()).add(call.url)
            time.sleep(0.5)
        for proc, part in wanted.items():
            assert any(part in url for url in seen.get(proc, ())), (proc, sorted(seen.get(proc, ())))
    finally:
        devcloud.run_openstack("server", "delete", "--wait", name, check=False)


def test_snapshot_and_shelve_carry_the_servers_disk_through_glance(devcloud: Any) -> None:
    """The dev cloud's driver uploads the disk it downloaded as a snapshot's data (the fake
    driver uploads nothing), so an image made from a server is active with those bytes and an
    unshelve, which boots from the shelved snapshot, downloads it again."""
    name = "e2e-snap-" + uuid.uuid4().hex[:8]
    devcloud.openstack_json("server", "create", *BOOT, name)
    snapshot = name + "-image"
    try:
        made = devcloud.openstack_json("server", "image", "create", "--wait", "--name", snapshot, name)
        assert made["status"] == "active" and made["size"] == len(raw_image())
        devcloud.run_openstack("server", "shelve", "--wait", name)
        assert devcloud.openstack_json("server", "show", name)["status"] == "SHELVED_OFFLOADED"
        devcloud.run_openstack("server", "unshelve", "--wait", name)
        assert devcloud.openstack_json("server", "show", name)["status"] == "ACTIVE"
    finally:
        devcloud.run_openstack("image", "delete", snapshot, check=False)
        devcloud.run_openstack("server", "delete", "--wait", name, check=False)
