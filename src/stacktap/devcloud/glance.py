"""Bootstrapping glance: its SQLite database and the file store's directories."""

from __future__ import annotations

from collections.abc import Callable

from stacktap.devcloud.layout import Layout
from stacktap.devcloud.manage import run_tool
from stacktap.devcloud.services import GLANCE
from stacktap.devcloud.state import State


def bootstrap(layout: Layout, state: State, say: Callable[[str], None]) -> None:
    """Once per dev cloud: ``glance-manage db_sync``."""
    data = layout.data / "glance"
    for sub in ("images", "staging", "cache", "lock"):
        (data / sub).mkdir(parents=True, exist_ok=True)
    if GLANCE.name in state.done:
        return
    say("bootstrapping glance")
    conf = ["--config-file", str(layout.etc(GLANCE.name) / "glance-api.conf")]
    run_tool(layout, ["glance-manage", *conf, "db_sync"])
    state.mark_done(GLANCE.name)
