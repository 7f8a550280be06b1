"""``up --debug SERVICE[:PORT]``: one service served under debugpy, ready for an IDE to attach.

The service keeps its gunicorn master and its one worker (the process that imports and runs
the app: the master only supervises it). In debug mode the worker starts debugpy listening on
127.0.0.1:PORT once the app is loaded (gunicorn's ``post_worker_init`` hook), and the worker
timeout is off, so a request paused at a breakpoint for minutes is not killed as a hung worker.
The app, its paste pipeline and stacktap's server filter are exactly those of normal mode:
tracing goes on as before.

The chosen ports live in the state file (``State.debug``); ``up`` sets them from its own
``--debug`` flags each time, so a plain ``up`` brings every service back to normal mode (the
gunicorn config changes, so the fingerprint does, so the service restarts). debugpy is
installed into the dev cloud's venv the first time it is needed, pinned by the constraints.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterable, Mapping

from stacktap.devcloud import ports, processes, venv
from stacktap.devcloud.layout import Layout
from stacktap.devcloud.services import ALL, HOST, NOVA, PLACEMENT
from stacktap.devcloud.state import State
from stacktap.errors import DevcloudError

#: The services ``--debug`` accepts: every WSGI service of the dev cloud.
DEBUGGABLE = tuple(spec.name for spec in ALL)

#: Appended to a service's gunicorn config in debug mode (see the module docstring).
# NOTE: post_worker_init runs in the worker after the app is loaded and before its request
# threads exist, so debugpy traces every request thread from the start. debugpy.listen starts
# its adapter as a daemon of its own session; it exits when the worker goes (`down`, restart).
_GUNICORN_DEBUG = """
# --debug: debugpy in the worker on %(host)s:%(port)d; no worker timeout (paused requests).
timeout = 0


def post_worker_init(worker):
    import os

    # NOTE: keeps pydevd's warning on frozen modules out of the log (they only hide stdlib lines).
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    import debugpy

    debugpy.listen((%(host)r, %(port)d))
    worker.log.info("stacktap devcloud: debugpy listening on %(host)s:%(port)d")
"""


def parse(values: Iterable[str]) -> dict[str, int | None]:
    """``--debug`` values (``glance``, ``glance:5678``) -> service -> port (None: pick one)."""
    wanted: dict[str, int | None] = {}
    for value in values:
        name, colon, port_text = value.strip().partition(":")
        if name not in DEBUGGABLE:
            raise DevcloudError(
                f"--debug {value}: unknown service {name!r} (one of: {', '.join(DEBUGGABLE)})"
            )
        port: int | None = None
        if colon:
            if not port_text.isdigit() or not 0 < int(port_text) < 65536:
                raise DevcloudError(f"--debug {value}: the port must be a number from 1 to 65535")
            port = int(port_text)
        if name in wanted and wanted[name] != port:
            raise DevcloudError(f"--debug {name} is given twice with different ports")
        wanted[name] = port
    taken = [port for port in wanted.values() if port is not None]
    if len(taken) != len(set(taken)):
        raise DevcloudError("--debug: two services cannot share one debug port")
    return wanted


def resolve(layout: Layout, current: State, wanted: Mapping[str, int | None]) -> dict[str, int]:
    """The debug port of each service in ``wanted``: the one asked for, else the one it already
    has, else a free one; a one-line error for a port that another process holds."""
    if not current.with_nova:
        for spec in (NOVA, PLACEMENT):
            if spec.name in wanted:
                raise DevcloudError(f"--debug {spec.name}: this dev cloud runs --without-nova")
    service_ports = set(current.ports.values())
    chosen: dict[str, int] = {}
    for name, asked in wanted.items():
        before = current.debug.get(name)
        # NOTE: a port held by this service's own debugger (same port asked again) is not "in use".
        ours = before is not None and processes.running(layout, name) is not None
        if asked is not None:
            if asked in service_ports:
                raise DevcloudError(f"--debug {name}:{asked}: that port serves a dev cloud service")
            if not (ours and asked == before) and not ports.is_free(asked):
                raise DevcloudError(
                    f"--debug {name}:{asked}: port {HOST}:{asked} is in use; pick another or leave "
                    "the port out to get a free one"
                )
            chosen[name] = asked
        elif before is not None and (ours or ports.is_free(before)):
            chosen[name] = before
        else:
            avoid = service_ports | set(chosen.values()) | {p for p in wanted.values() if p is not None}
            chosen[name] = ports.pick_free_port(avoid=avoid)
    return chosen


def serving_port(layout: Layout, service: str) -> int | None:
    """The debugpy port of ``service`` when it runs in debug mode now, else None.

    NOTE: read from the gunicorn config the running service was started with, not from the
    state file, which an ``up`` that failed half-way may have changed for nothing.
    """
    if processes.running(layout, service) is None:
        return None
    try:
        text = processes.conf_path(layout, service).read_text()
    except OSError:
        return None
    found = re.search(r"^# --debug: debugpy in the worker on [^:]+:(\d+);", text, re.MULTILINE)
    return int(found.group(1)) if found else None


def gunicorn_settings(port: int | None) -> str:
    """What debug mode adds to a service's gunicorn config ("" in normal mode)."""
    if port is None:
        return ""
    return _GUNICORN_DEBUG % {"host": HOST, "port": port}


def has_debugpy(layout: Layout) -> bool:
    """True when the dev cloud's Python imports debugpy."""
    try:
        found = subprocess.run([str(layout.python), "-c", "import debugpy"], capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return found.returncode == 0


def ensure_debugpy(layout: Layout, say: Callable[[str], None]) -> None:
    """Install debugpy (the version the constraints pin) into the dev cloud's venv, once."""
    if has_debugpy(layout):
        return
    say(f"installing debugpy into {layout.venv} (pip log: {layout.pip_log})")
    venv.pip_install(layout, ["debugpy"])
