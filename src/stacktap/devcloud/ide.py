"""``stacktap devcloud ide``: what an IDE needs to step through the dev cloud, as VS Code
configurations or as plain facts for other editors.

Two kinds of configuration, named ``stacktap: ...`` (see ``launch_json.PREFIX``):

- launch ``openstack ARGS`` with the dev cloud's Python and its ``openstack`` script, the
  environment that points it at the cloud, ``justMyCode`` off (the code to step through is in
  site-packages); ``--traced`` runs it under ``stacktap run`` (the child is debugged through
  debugpy's sub-process support). Without ARGS, VS Code asks for them at each launch.
- attach to each service ``up --debug`` put under debugpy, with path mappings to the dev
  cloud's site-packages.

NOTE: no password is written: the environment names the cloud (``OS_CLOUD``) in the dev
cloud's own ``clouds.yaml`` (private to the user), so ``launch.json``, which people commit,
holds no secret.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stacktap.devcloud import clouds, debug
from stacktap.devcloud.launch_json import PREFIX
from stacktap.devcloud.layout import Layout
from stacktap.devcloud.services import HOST, selected
from stacktap.devcloud.state import State
from stacktap.devcloud.venv import site_packages
from stacktap.errors import DevcloudError

#: VS Code's Python Debugger (debugpy) configuration type.
TYPE = "debugpy"
#: Where VS Code looks, under a workspace folder.
LAUNCH_JSON = Path(".vscode") / "launch.json"
#: What VS Code substitutes with its own PATH (launch.json's ``env`` replaces, not prepends).
ENV_PATH = "${env:PATH}"
#: What VS Code's Python Debugger replaces with the arguments it asks for at launch.
PICK_ARGS = "${command:pickArgs}"


@dataclass(frozen=True)
class Attach:
    """A service waiting for a debugger: debugpy's address."""

    service: str
    host: str
    port: int


@dataclass(frozen=True)
class Facts:
    """What any editor needs to debug against this dev cloud."""

    python: str
    openstack: str
    #: the variables to set (PATH has ``ENV_PATH`` where the editor's own PATH goes)
    env: dict[str, str]
    site_packages: str
    attach: tuple[Attach, ...]
    #: the store ``--traced`` records into (the cloud's, when its services are traced)
    db: str


def facts(layout: Layout, state: State) -> Facts:
    """The facts of the dev cloud in ``layout``; attach only to services running under debugpy."""
    from stacktap.store import default_db_path

    env = {
        "OS_CLOUD": clouds.CLOUD_NAME,
        "OS_CLIENT_CONFIG_FILE": str(layout.clouds_yaml),
        "PATH": f"{layout.bin}:{ENV_PATH}",
    }
    serving = {spec.name: debug.serving_port(layout, spec.name) for spec in selected(state.with_nova)}
    attach = tuple(Attach(name, HOST, port) for name, port in serving.items() if port is not None)
    return Facts(
        str(layout.python),
        str(layout.bin / "openstack"),
        env,
        str(site_packages(layout)),
        attach,
        state.db if state.trace_servers and state.db else str(Path(default_db_path()).absolute()),
    )


def _stacktap_script() -> str:
    """The ``stacktap`` console script of this stacktap (what ``--traced`` launches)."""
    script = Path(sys.executable).parent / "stacktap"
    found = str(script) if script.exists() else shutil.which("stacktap")
    if not found:
        raise DevcloudError(
            "--traced: cannot find the `stacktap` console script next to this Python or on PATH"
        )
    return found


def launch_name(args: list[str], traced: bool) -> str:
    what = " ".join(args) if args else "(asks for arguments)"
    return f"{PREFIX}openstack {what}" + (" (traced)" if traced else "")


def launch_config(found: Facts, args: list[str], traced: bool) -> dict[str, Any]:
    """The VS Code configuration that runs ``openstack ARGS`` against the cloud, under the debugger."""
    command_args: list[str] | str = list(args) if args else PICK_ARGS
    config: dict[str, Any] = {"name": launch_name(args, traced), "type": TYPE, "request": "launch"}
    if traced:
        # NOTE: `stacktap run` starts the dev cloud's Python, which debugpy follows (subProcess).
        run = ["run", "--db", found.db, "--", found.python, found.openstack]
        config.update(
            python=sys.executable,
            program=_stacktap_script(),
            args=run + (list(args) if args else [PICK_ARGS]),
            subProcess=True,
        )
    else:
        config.update(python=found.python, program=found.openstack, args=command_args)
    config.update(env=dict(found.env), console="integratedTerminal", justMyCode=False)
    return config


def attach_name(service: str) -> str:
    return f"{PREFIX}attach {service}"


def attach_config(found: Facts, where: Attach) -> dict[str, Any]:
    """The VS Code configuration that attaches to ``where.service`` under debugpy."""
    mapping = {"localRoot": found.site_packages, "remoteRoot": found.site_packages}
    return {
        "name": attach_name(where.service),
        "type": TYPE,
        "request": "attach",
        "connect": {"host": where.host, "port": where.port},
        "pathMappings": [mapping],
        "justMyCode": False,
    }


def configurations(found: Facts, args: list[str], traced: bool) -> list[dict[str, Any]]:
    return [launch_config(found, args, traced), *(attach_config(found, a) for a in found.attach)]


def is_stale(entry: dict[str, Any]) -> bool:
    """An attach configuration of stacktap's that was not written again: its service is no
    longer in debug mode (or has another port now), so it goes. Launch ones stay."""
    return entry.get("request") == "attach"


def launch_json_path(vscode: str | None) -> Path:
    """``--vscode PATH``: a ``.json`` file, a ``.vscode`` dir, or a workspace folder (default: cwd)."""
    if vscode is None:
        return Path.cwd() / LAUNCH_JSON
    path = Path(vscode).expanduser().absolute()
    if path.suffix == ".json":
        return path
    return path / "launch.json" if path.name == ".vscode" else path / LAUNCH_JSON


def printable(found: Facts, args: list[str]) -> list[str]:
    """``--print``: the same facts, one per line, for editors other than VS Code."""
    command = shlex.join([found.openstack, *args]) if args else f"{shlex.quote(found.openstack)} ARGS..."
    lines = [f"interpreter: {found.python}", f"program: {command}"]
    lines += [f"env: {key}={value.replace(ENV_PATH, '$PATH')}" for key, value in found.env.items()]
    lines += [
        f"sources: {found.site_packages}",
        f"debugpy: {shlex.quote(found.python)} -m debugpy --listen {HOST}:PORT --wait-for-client {command}",
    ]
    lines += [f"attach {a.service}: {a.host}:{a.port} (debugpy)" for a in found.attach]
    if not found.attach:
        lines.append("attach: no service in debug mode (stacktap devcloud up --debug glance)")
    return lines
