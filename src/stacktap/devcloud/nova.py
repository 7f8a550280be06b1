"""Bootstrapping nova-api: its API and cell databases, and the m1.tiny/m1.small flavors.

NOTE: without ``--with compute`` there is no conductor, scheduler or compute: nova-api answers
reads, flavors and keypairs, and ``server create`` would leave a server record no one builds.
"""

from __future__ import annotations

from collections.abc import Callable

from stacktap.devcloud.config import nova_database_url
from stacktap.devcloud.http import request_json
from stacktap.devcloud.layout import Layout
from stacktap.devcloud.manage import run_tool
from stacktap.devcloud.services import NOVA
from stacktap.devcloud.state import State
from stacktap.errors import DevcloudError

#: name -> (id, ram MiB, vcpus, disk GiB), as devstack defines them.
FLAVORS = {"m1.tiny": ("1", 512, 1, 1), "m1.small": ("2", 2048, 1, 20)}

LIMITATION = (
    "nova is read/flavor/keypair only (no compute): `up --with compute` adds conductor, scheduler and compute"
)
COMPUTE_NOTE = (
    "servers boot on nova's fake driver (no real guest, no console); neutron has one stand-in Open "
    "vSwitch agent (registered by `up`, no process): ports on vxlan networks bind to the compute host, "
    "so `server create --network NET` works (and `--nic none`), but no traffic flows (ports stay DOWN) "
    "and there is no DHCP, router, floating IP or metadata"
)


def bootstrap(layout: Layout, state: State, say: Callable[[str], None]) -> None:
    """Once per dev cloud: ``api_db sync``, cell0 and cell1 mappings, ``db sync``."""
    (layout.data / "nova" / "lock").mkdir(parents=True, exist_ok=True)
    # NOTE: the databases move to MariaDB with compute: a bootstrap of their own there.
    step = f"{NOVA.name}@mariadb" if state.with_compute else NOVA.name
    if step in state.done:
        return
    say(f"bootstrapping nova{' (its databases on mariadb)' if state.with_compute else ''}")
    conf = ["--config-file", str(layout.etc(NOVA.name) / "nova.conf")]
    run_tool(layout, ["nova-manage", *conf, "api_db", "sync"])
    run_tool(
        layout,
        [
            "nova-manage",
            *conf,
            "cell_v2",
            "map_cell0",
            "--database_connection",
            nova_database_url(layout, state, "nova_cell0"),
        ],
    )
    # NOTE: exit 2 means "a cell with this database and transport already exists" (a rerun).
    run_tool(layout, ["nova-manage", *conf, "cell_v2", "create_cell", "--name", "cell1"], ok_codes=(0, 2))
    run_tool(layout, ["nova-manage", *conf, "db", "sync"])
    state.mark_done(step)


def ensure_flavors(compute_url: str, token: str) -> None:
    """Create the flavors that are missing (through nova's API: nova-manage has no flavor command)."""
    headers = {"X-Auth-Token": token}
    listed = request_json("GET", compute_url + "/flavors", headers=headers)
    if listed.status != 200:
        raise DevcloudError(f"nova refused to list flavors: HTTP {listed.status}")
    have = {flavor["name"] for flavor in listed.body["flavors"]}
    for name, (flavor_id, ram, vcpus, disk) in FLAVORS.items():
        if name in have:
            continue
        flavor = {"name": name, "id": flavor_id, "ram": ram, "vcpus": vcpus, "disk": disk}
        created = request_json("POST", compute_url + "/flavors", {"flavor": flavor}, headers)
        if created.status >= 300:
            raise DevcloudError(f"nova refused to create flavor {name}: HTTP {created.status}")
