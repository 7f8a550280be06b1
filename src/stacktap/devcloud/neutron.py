"""Bootstrapping neutron-server: its schema on the dev cloud's MariaDB, once, and the stand-in
Open vSwitch agent of the compute host, at each ``up``.

NOTE: no agent process runs. ML2 binds a port only to a host with a live L2 agent of its
mechanism driver (``openvswitch``), so ``up`` registers one for the compute host in neutron's
agents table through neutron's own code (:mod:`stacktap.devcloud.neutron_agent`, what neutron's
functional tests do): ports on vxlan networks (and on the flat ``public`` one) then bind
(``vif_type`` ovs, ``binding:host_id`` the compute host) and servers boot with ``--network``.
Nothing plugs an interface, so a port stays DOWN and carries no traffic; no DHCP, L3 or
metadata agent either.
"""

from __future__ import annotations

import json
import subprocess
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from importlib import resources

from stacktap.devcloud import compute
from stacktap.devcloud.config import AGENT_DOWN_TIME, ML2_CONF
from stacktap.devcloud.http import request_json
from stacktap.devcloud.layout import Layout
from stacktap.devcloud.manage import clean_env, run_tool
from stacktap.devcloud.services import NEUTRON
from stacktap.devcloud.state import State
from stacktap.errors import DevcloudError

#: neutron's names for the Open vSwitch agent (``neutron_lib.constants``).
OVS_AGENT_TYPE = "Open vSwitch agent"
OVS_AGENT_BINARY = "neutron-openvswitch-agent"
#: What the stand-in reports: the bridges and tunnels a real agent on this host would have.
INTEGRATION_BRIDGE = "br-int"
#: ml2_conf's flat network -> the bridge a real agent would map it to.
BRIDGE_MAPPINGS = {"public": "br-ex"}
TUNNELING_IP = "127.0.0.1"
#: ``up`` refreshes the agent's heartbeat once it is older than this (half of what neutron allows).
REFRESH_AFTER = timedelta(seconds=AGENT_DOWN_TIME // 2)


def bootstrap(layout: Layout, state: State, say: Callable[[str], None]) -> None:
    """Once per dev cloud: ``neutron-db-manage upgrade heads`` (all of its migration branches)."""
    if NEUTRON.name in state.done:
        return
    say("bootstrapping neutron (its schema on mariadb)")
    run_tool(layout, ["neutron-db-manage", *_config_args(layout), "upgrade", "heads"])
    state.mark_done(NEUTRON.name)


def _config_args(layout: Layout) -> list[str]:
    etc = layout.etc(NEUTRON.name)
    return ["--config-file", str(etc / "neutron.conf"), "--config-file", str(etc / ML2_CONF)]


def ovs_agent_state() -> dict[str, object]:
    """The state a ``neutron-openvswitch-agent`` on the compute host sends in its report_state.

    What ML2's openvswitch driver reads when it binds: the tunnel types (a vxlan segment binds
    only to an agent that tunnels vxlan), the bridge mappings (a flat segment only to an agent
    mapping its physical network), the integration bridge and ``ovs_hybrid_plug`` (in the port's
    ``binding:vif_details``, what nova's os-vif would plug), the datapath type (``system``:
    vif_type ``ovs``, not vhostuser).
    """
    return {
        "agent_type": OVS_AGENT_TYPE,
        "binary": OVS_AGENT_BINARY,
        "host": compute.HOST_NAME,
        "topic": "N/A",  # NOTE: neutron's L2_AGENT_TOPIC: L2 agents name no topic of their own
        "start_flag": True,
        "configurations": {
            "bridge_mappings": dict(BRIDGE_MAPPINGS),
            "integration_bridge": INTEGRATION_BRIDGE,
            "tunnel_types": ["vxlan"],
            "tunneling_ip": TUNNELING_IP,
            "l2_population": False,
            "arp_responder_enabled": False,
            "enable_distributed_routing": False,
            "datapath_type": "system",
            "ovs_hybrid_plug": False,
            "extensions": [],
            "devices": 0,
        },
    }


def agent_is_current(rows: Sequence[Mapping[str, object]], now: datetime) -> bool:
    """Whether neutron's agent list ``rows`` (``GET /v2.0/agents`` for this type and host) holds
    the stand-in as :func:`ovs_agent_state` describes it, alive, with a heartbeat younger than
    :data:`REFRESH_AFTER` (neutron gives ``heartbeat_timestamp`` in UTC without a zone)."""
    if len(rows) != 1:
        return False
    row = rows[0]
    if row.get("alive") is not True or row.get("configurations") != ovs_agent_state()["configurations"]:
        return False
    beat = compute.heartbeat({"updated_at": row.get("heartbeat_timestamp")})
    return beat is not None and now - beat < REFRESH_AFTER


def ensure_agent(layout: Layout, neutron_url: str, token: str, say: Callable[[str], None]) -> None:
    """Register the stand-in agent unless neutron already shows it current (one GET: ``up``
    stays quick; registering imports neutron, some seconds)."""
    query = urllib.parse.urlencode({"agent_type": OVS_AGENT_TYPE, "host": compute.HOST_NAME})
    rows: list[dict[str, object]] = []
    try:
        listed = request_json("GET", f"{neutron_url}/v2.0/agents?{query}", headers={"X-Auth-Token": token})
    except OSError:
        pass  # NOTE: then register anyway: the registration goes to the database, not the API
    else:
        ok = listed.status == 200 and isinstance(listed.body, dict)
        rows = listed.body.get("agents", []) if ok else []
    if agent_is_current(rows, datetime.now(timezone.utc)):
        say(f"neutron's stand-in {OVS_AGENT_TYPE} already registered (id {rows[0].get('id')})")
        return
    register_agent(layout, say)


def register_agent(layout: Layout, say: Callable[[str], None]) -> None:
    """Register (or refresh) the stand-in agent: run :mod:`~stacktap.devcloud.neutron_agent` in
    the venv with neutron's config files (the schema must exist).

    NOTE: not once per cloud like the bootstrap: a registration is also the heartbeat, which
    neutron counts alive for ``agent_down_time`` (raised to neutron's maximum in neutron.conf,
    see ``config``); neutron updates the row of the same (type, host), so a rerun adds no agent.
    """
    script = resources.files("stacktap.devcloud").joinpath("neutron_agent.py")
    with resources.as_file(script) as path:
        # NOTE: -I keeps the script's own directory off sys.path: its sibling neutron.py would
        # shadow neutron.
        argv = [str(layout.python), "-I", str(path), json.dumps(ovs_agent_state()), *_config_args(layout)]
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, env=clean_env(), stdin=subprocess.DEVNULL, timeout=120
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise DevcloudError(f"cannot register neutron's stand-in agent: {exc}") from exc
    with open(layout.bootstrap_log, "a") as log:
        log.write(f"\n$ {' '.join(argv[:3])} (stand-in {OVS_AGENT_TYPE})\n{done.stdout}{done.stderr}")
    if done.returncode != 0:
        raise DevcloudError(
            f"registering neutron's stand-in {OVS_AGENT_TYPE} failed (exit {done.returncode}); "
            f"read {layout.bootstrap_log}"
        )
    said = done.stdout.strip().splitlines()
    say(f"neutron's stand-in {said[-1] if said else OVS_AGENT_TYPE}")
