"""Bootstrapping keystone: fernet and credential keys, its database, the admin user and catalog."""

from __future__ import annotations

import grp
import os
import pwd
from collections.abc import Callable

from stacktap.devcloud.layout import Layout
from stacktap.devcloud.manage import run_tool
from stacktap.devcloud.services import KEYSTONE, REGION
from stacktap.devcloud.state import State


def _owner() -> list[str]:
    # NOTE: fernet_setup/credential_setup chown the key repositories and insist on being told to whom.
    return [
        "--keystone-user",
        pwd.getpwuid(os.getuid()).pw_name,
        "--keystone-group",
        grp.getgrgid(os.getgid()).gr_name,
    ]


def bootstrap(layout: Layout, state: State, say: Callable[[str], None]) -> None:
    """Once per dev cloud and database: keys, ``db_sync`` and ``bootstrap`` (admin user, project,
    identity endpoints).

    NOTE: with compute keystone's database is on MariaDB (see ``config.service_database_url``):
    a bootstrap of its own there, as for nova; the keys are kept (``*_setup`` leaves a filled
    key repository alone).
    """
    step = f"{KEYSTONE.name}@mariadb" if state.with_compute else KEYSTONE.name
    if step in state.done:
        return
    say(f"bootstrapping keystone{' (its database on mariadb)' if state.with_compute else ''}")
    conf = ["--config-file", str(layout.etc(KEYSTONE.name) / "keystone.conf")]
    run_tool(layout, ["keystone-manage", *conf, "fernet_setup", *_owner()])
    run_tool(layout, ["keystone-manage", *conf, "credential_setup", *_owner()])
    run_tool(layout, ["keystone-manage", *conf, "db_sync"])
    url = KEYSTONE.endpoint_url(state.ports[KEYSTONE.name])
    run_tool(
        layout,
        [
            "keystone-manage",
            *conf,
            "bootstrap",
            "--bootstrap-username",
            "admin",
            "--bootstrap-project-name",
            "admin",
            "--bootstrap-role-name",
            "admin",
            "--bootstrap-service-name",
            "keystone",
            "--bootstrap-region-id",
            REGION,
            "--bootstrap-admin-url",
            url,
            "--bootstrap-internal-url",
            url,
            "--bootstrap-public-url",
            url,
        ],
        # NOTE: through the environment, so the password is not in any process's argv.
        env={"OS_BOOTSTRAP_PASSWORD": state.password},
    )
    state.mark_done(step)
