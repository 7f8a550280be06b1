"""Registers the dev cloud's stand-in Open vSwitch agent in neutron's agents table.

NOTE: this file runs as a script in the dev cloud's venv (``python neutron_agent.py STATE
--config-file ...``, see :func:`stacktap.devcloud.neutron.register_agent`), never in stacktap's
own process: it imports neutron, which stacktap's environment does not have. It writes the row
through neutron's own code (``AgentDbMixin.create_or_update_agent`` with an admin context), as
neutron's functional tests register agents and as neutron-server stores an agent's
``report_state``: a row per (agent type, host), updated in place on a rerun, with a fresh
heartbeat. No process stands behind it.
"""

from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> int:
    """``argv``: the agent state (JSON), then neutron's ``--config-file`` arguments."""
    state = json.loads(argv[0])
    from neutron.common import config
    from neutron.db import agents_db
    from neutron_lib import context

    config.register_common_config_options()
    config.init(argv[1:])
    status, registered = agents_db.AgentDbMixin().create_or_update_agent(context.get_admin_context(), state)
    print(f"{registered['agent_type']} on {registered['host']}: {status} (id {registered['id']})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
