"""neutron's stand-in Open vSwitch agent: the state ``up`` registers and when it registers again."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from stacktap.devcloud import compute, config, neutron
from stacktap.devcloud.layout import Layout
from stacktap.devcloud.state import State
from stacktap.errors import DevcloudError

NOW = datetime(2026, 12, 3, 18, 0, tzinfo=timezone.utc)


def _row(**changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "id": "a1",
        "alive": True,
        "heartbeat_timestamp": "2026-12-03 17:59:00",
        "configurations": neutron.ovs_agent_state()["configurations"],
    }
    row.update(changes)
    return row


def test_the_agent_state_is_an_ovs_agent_of_the_compute_host_for_ml2s_networks(tmp_path: Path) -> None:
    state = neutron.ovs_agent_state()
    assert (state["agent_type"], state["binary"], state["host"]) == (
        "Open vSwitch agent",
        "neutron-openvswitch-agent",
        compute.HOST_NAME,
    )
    conf = state["configurations"]
    assert isinstance(conf, dict)
    ml2 = config.ml2_conf(Layout(tmp_path), State())
    # ML2 binds a segment only to an agent that tunnels its type or maps its physical network
    assert ml2["ml2"]["tenant_network_types"] in conf["tunnel_types"]
    assert set(conf["bridge_mappings"]) == set(ml2["ml2_type_flat"]["flat_networks"].split(","))
    assert conf["integration_bridge"] == "br-int" and conf["ovs_hybrid_plug"] is False
    assert conf["datapath_type"] == "system"  # vif_type ovs, not vhostuser


def test_neutron_keeps_the_agent_alive_as_long_as_it_accepts(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    state = State(ports={"keystone": 5000, "neutron": 9696})
    down_time = int(config.neutron_conf(layout, state)["DEFAULT"]["agent_down_time"])
    # neutron's own limit (its option's max): the value goes on in milliseconds as a C int
    assert down_time == (2**31 - 1) // 1000 == 2147483
    assert timedelta(seconds=down_time // 2) == neutron.REFRESH_AFTER


def test_a_fresh_matching_live_agent_is_current() -> None:
    assert neutron.agent_is_current([_row()], NOW)


@pytest.mark.parametrize(
    "rows",
    [
        [],
        [_row(), _row(id="a2")],
        [_row(alive=False)],
        [_row(heartbeat_timestamp="2026-11-01 10:00:00")],  # older than half of agent_down_time
        [_row(heartbeat_timestamp=None)],
        [_row(configurations={"tunnel_types": ["gre"]})],  # registered by another stacktap
    ],
)
def test_up_registers_again_unless_the_agent_is_current(rows: list[dict[str, object]]) -> None:
    assert not neutron.agent_is_current(rows, NOW)


def test_a_failed_registration_is_one_line_naming_the_log(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "cloud")
    layout.make_dirs()
    layout.bin.mkdir(parents=True, exist_ok=True)
    layout.python.write_text("#!/bin/sh\necho 'no neutron here' >&2\nexit 3\n")
    layout.python.chmod(0o755)
    with pytest.raises(DevcloudError) as raised:
        neutron.register_agent(layout, lambda _: None)
    assert "exit 3" in str(raised.value) and str(layout.bootstrap_log) in str(raised.value)
    assert "no neutron here" in layout.bootstrap_log.read_text()


def _failing_python(tmp_path: Path) -> Layout:
    """A layout whose venv python fails: any registration attempt raises."""
    layout = Layout(tmp_path / "cloud")
    layout.make_dirs()
    layout.bin.mkdir(parents=True, exist_ok=True)
    layout.python.write_text("#!/bin/sh\nexit 3\n")
    layout.python.chmod(0o755)
    return layout


@contextmanager
def _neutron_answering(rows: list[dict[str, object]]) -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server answering ``GET /v2.0/agents`` with ``rows``: its URL, the paths asked."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            body = json.dumps({"agents": rows}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()


def test_up_leaves_a_current_agent_alone(tmp_path: Path) -> None:
    fresh = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    said: list[str] = []
    with _neutron_answering([_row(heartbeat_timestamp=fresh)]) as (url, asked):
        neutron.ensure_agent(_failing_python(tmp_path), url, "token", said.append)
    assert said == ["neutron's stand-in Open vSwitch agent already registered (id a1)"]
    assert asked == ["/v2.0/agents?agent_type=Open+vSwitch+agent&host=stacktap-devcloud"]


def test_up_registers_an_agent_neutron_does_not_show(tmp_path: Path) -> None:
    with _neutron_answering([]) as (url, _), pytest.raises(DevcloudError, match="exit 3"):
        neutron.ensure_agent(_failing_python(tmp_path), url, "token", lambda _: None)
