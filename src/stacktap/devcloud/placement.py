"""Bootstrapping placement: its database (``placement-manage db sync``), once."""

from __future__ import annotations

from collections.abc import Callable

from stacktap.devcloud.layout import Layout
from stacktap.devcloud.manage import run_tool
from stacktap.devcloud.services import PLACEMENT
from stacktap.devcloud.state import State


def bootstrap(layout: Layout, state: State, say: Callable[[str], None]) -> None:
    """Once per dev cloud and database: create placement's tables (its resource providers come
    with compute). With compute they are on MariaDB (``config.service_database_url``)."""
    step = f"{PLACEMENT.name}@mariadb" if state.with_compute else PLACEMENT.name
    if step in state.done:
        return
    say(f"bootstrapping placement{' (its database on mariadb)' if state.with_compute else ''}")
    conf = ["--config-file", str(layout.etc(PLACEMENT.name) / "placement.conf")]
    run_tool(layout, ["placement-manage", *conf, "db", "sync"])
    state.mark_done(step)
