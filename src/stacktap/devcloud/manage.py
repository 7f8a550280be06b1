"""Running the services' own admin tools (``keystone-manage``, ``nova-manage``...) from the venv."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence

from stacktap.devcloud.layout import Layout
from stacktap.errors import DevcloudError


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without what would leak into the venv's Pythons.

    NOTE: PYTHONPATH/PYTHONHOME/VIRTUAL_ENV would point the venv at other site-packages, OS_*
    credentials of the user's own cloud have nothing to do here, and STACKTAP_* would turn
    tracing on where it was not asked for.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")
        and not key.startswith(("OS_", "STACKTAP_"))
    }
    env.update(extra or {})
    return env


def run_tool(
    layout: Layout, argv: Sequence[str], env: Mapping[str, str] | None = None, ok_codes: Sequence[int] = (0,)
) -> int:
    """Run ``argv[0]`` from the venv's bin dir, output appended to the bootstrap log."""
    command = [str(layout.bin / argv[0]), *argv[1:]]
    layout.logs.mkdir(parents=True, exist_ok=True)
    with open(layout.bootstrap_log, "ab") as log:
        log.write(f"\n$ {' '.join(command)}\n".encode())
        log.flush()
        try:
            code = subprocess.call(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=clean_env(env)
            )
        except OSError as exc:
            raise DevcloudError(f"cannot run {command[0]}: {exc}") from exc
    if code not in ok_codes:
        raise DevcloudError(f"{' '.join(argv[:3])} failed (exit {code}); read {layout.bootstrap_log}")
    return code
