"""Bootstrapping neutron-server: its schema on the dev cloud's MariaDB, once.

NOTE: ML2 with no agents: networks, subnets and security groups are real rows behind the real
API (what nova-api asks for as soon as servers exist), but no port ever binds, so servers boot
with ``--nic none``.
"""

from __future__ import annotations

from collections.abc import Callable

from stacktap.devcloud.config import ML2_CONF
from stacktap.devcloud.layout import Layout
from stacktap.devcloud.manage import run_tool
from stacktap.devcloud.services import NEUTRON
from stacktap.devcloud.state import State


def bootstrap(layout: Layout, state: State, say: Callable[[str], None]) -> None:
    """Once per dev cloud: ``neutron-db-manage upgrade heads`` (all of its migration branches)."""
    if NEUTRON.name in state.done:
        return
    say("bootstrapping neutron (its schema on mariadb)")
    etc = layout.etc(NEUTRON.name)
    conf = ["--config-file", str(etc / "neutron.conf"), "--config-file", str(etc / ML2_CONF)]
    run_tool(layout, ["neutron-db-manage", *conf, "upgrade", "heads"])
    state.mark_done(NEUTRON.name)
