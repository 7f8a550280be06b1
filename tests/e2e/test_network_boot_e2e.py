"""Servers boot on a network: ML2 binds their port to the dev cloud's stand-in Open vSwitch agent.

Through the real OSC, nova's own services and neutron-server: a network and a subnet, a server
booted on it (``--network``) reaching ACTIVE with an address of the subnet, its port bound by
ML2's openvswitch driver to the compute host (``vif_type`` ovs); and, traced, nova-compute's
port update naming that host, in the build's own calls.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from stacktap.model import KIND_RPC_SERVER
from stacktap.store import Store, load_trace

pytestmark = pytest.mark.e2e

HOST = "stacktap-devcloud"
CIDR = "10.77.0.0/24"


def _boot_args(network: str) -> list[str]:
    return ["server", "create", "--network", network, "--flavor", "m1.tiny", "--image", "devcloud-image",
            "--wait"]  # fmt: skip


@pytest.fixture(scope="module")
def network(devcloud: Any) -> Iterator[str]:
    """A vxlan network with a subnet, deleted after the tests (which delete their servers)."""
    name = "e2e-boot-net-" + uuid.uuid4().hex[:8]
    devcloud.run_openstack("network", "create", name)
    deleted = False
    try:
        devcloud.run_openstack("subnet", "create", "--network", name, "--subnet-range", CIDR, name)
        yield name
        # NOTE: neutron refuses (409) to delete a network that still has a server's port: this
        # also checks that deleting the servers removed their ports.
        devcloud.run_openstack("network", "delete", name)
        deleted = True
    finally:
        if not deleted:
            devcloud.run_openstack("network", "delete", name, check=False)


def _bound_port(cloud: Any, server: str) -> dict[str, Any]:
    ports = cloud.openstack_json("port", "list", "--server", server)
    assert len(ports) == 1, ports
    return dict(cloud.openstack_json("port", "show", ports[0]["ID"]))


def test_boot_with_a_network_binds_the_port_to_the_compute_host(devcloud: Any, network: str) -> None:
    agents = devcloud.openstack_json("network", "agent", "list", "--host", HOST)
    assert [(a["Agent Type"], a["Binary"], a["Alive"]) for a in agents] == [
        ("Open vSwitch agent", "neutron-openvswitch-agent", True)
    ]
    name = "e2e-netboot-" + uuid.uuid4().hex[:8]
    try:
        server = devcloud.openstack_json(*_boot_args(network), name)
        assert server["status"] == "ACTIVE" and server["OS-EXT-SRV-ATTR:host"] == HOST
        port = _bound_port(devcloud, name)
        assert port["binding_host_id"] == HOST
        assert port["binding_vif_type"] == "ovs"  # not binding_failed: ML2 bound it to the agent
        assert port["binding_vif_details"]["bridge_name"] == "br-int"
        assert port["binding_vif_details"]["bound_drivers"] == {"0": "openvswitch"}
        assert port["status"] == "DOWN"  # nothing plugs it
        fixed = [ip["ip_address"] for ip in port["fixed_ips"]]
        assert len(fixed) == 1 and ipaddress.ip_address(fixed[0]) in ipaddress.ip_network(CIDR)
        assert server["addresses"] == {network: fixed}
    finally:
        devcloud.run_openstack("server", "delete", "--wait", name, check=False)


def test_traced_boot_records_computes_port_binding_under_the_build(devcloud: Any, network: str) -> None:
    if not devcloud.traced:
        pytest.fail("this stacktap cannot trace servers")
    name = "e2e-netboot-traced-" + uuid.uuid4().hex[:8]
    label = "netboot-e2e-" + uuid.uuid4().hex[:8]
    try:
        done = subprocess.run(
            [*devcloud.stacktap, "run", "--db", str(devcloud.db), "--label", label, "--",
             str(devcloud.openstack), *_boot_args(network), "-f", "value", "-c", "status", name],
            env=devcloud.env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.split() == ["ACTIVE"]
        with Store(str(devcloud.db), create=False) as store:
            run = next(r for r in store.runs() if r.label == label)
            trace = load_trace(store, run.id)
        builds = [c for c in trace.calls if c.kind == KIND_RPC_SERVER
                  and c.handler == "ComputeManager.build_and_run_instance"]  # fmt: skip
        assert len(builds) == 1 and builds[0].local_service == "nova-compute"
        built = [c for c in trace.children(builds[0])
                 if c.side == "client" and c.peer.service_type == "network"]  # fmt: skip
        created = [c for c in built if c.method == "POST" and c.path_template == "/v2.0/ports"]
        assert [c.status for c in created] == [201]
        updates = [c for c in built if c.method == "PUT" and c.path_template == "/v2.0/ports/{port_id}"]
        assert [c.status for c in updates] == [200]
        body = json.loads(updates[0].request_body.text or "{}")
        assert body["port"]["binding:host_id"] == HOST
        # and neutron-server's own record of serving it, under the compute's call
        served = [c for c in trace.children(updates[0]) if c.side == "server"]
        assert [(c.local_service, c.status) for c in served] == [("neutron-server", 200)]
    finally:
        devcloud.run_openstack("server", "delete", "--wait", name, check=False)
