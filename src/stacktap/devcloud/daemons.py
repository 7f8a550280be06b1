"""Running the compute side's daemons (nova-conductor, -scheduler, -compute): start, pid, stop.

They are console scripts of the dev cloud's venv, not WSGI apps: each runs as its own process in
its own session with ``DIR/run/<name>.pid``, ``DIR/run/<name>.fingerprint`` and
``DIR/logs/<name>.log``, like the gunicorn services of :mod:`stacktap.devcloud.processes`, whose
liveness, fingerprint and stop helpers they share. "Healthy" is nova's own view: the service's
record in nova's services table is up (see :mod:`stacktap.devcloud.compute`).

A pid counts as ours only while ``/proc/<pid>`` runs this daemon's console script from this dev
cloud's venv, in this dev cloud's directory. The pid is the session leader (the service's master
when oslo.service forks a worker), so a stop signals master and worker together.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

from stacktap.devcloud import processes
from stacktap.devcloud.layout import Layout
from stacktap.devcloud.processes import Running
from stacktap.devcloud.services import DaemonSpec


def command(layout: Layout, spec: DaemonSpec, config_files: list[Path]) -> list[str]:
    """``python bin/nova-conductor --config-file ...`` (the venv's python, so tracing's
    ``sitecustomize`` loads exactly as for the gunicorn services)."""
    argv = [str(layout.python), str(layout.bin / spec.process)]
    for path in config_files:
        argv += ["--config-file", str(path)]
    return argv


def _is_ours(layout: Layout, spec: DaemonSpec, pid: int) -> bool:
    # NOTE: oslo.service retitles a forking service's master ("nova-conductor: master process
    # [<argv>]"), which keeps the script's path: look for it anywhere in the command line.
    return processes.runs_in(layout, pid, [str(layout.bin / spec.process)])


def running(layout: Layout, spec: DaemonSpec) -> Running | None:
    """The live process of ``spec``; a stale pid file is removed on the way."""
    return processes.recorded(layout, spec.name, lambda pid: _is_ours(layout, spec, pid))


def started_fingerprint(layout: Layout, spec: DaemonSpec) -> str | None:
    return processes.started_fingerprint(layout, spec.name)


def start(
    layout: Layout, spec: DaemonSpec, argv: list[str], env: Mapping[str, str], fingerprint_value: str
) -> subprocess.Popen[bytes]:
    """Spawn ``argv`` in its own session (it outlives ``up``); output appended to its log."""
    banner = f"starting {spec.process}"
    return processes.spawn(layout, spec.name, argv, env, banner, fingerprint_value, label=spec.process)


def stop(layout: Layout, spec: DaemonSpec, timeout: float = 15.0) -> bool:
    """Stop ``spec`` if it runs (TERM to its session, KILL after ``timeout``); True if it ran."""
    current = running(layout, spec)
    if current is None:
        return False
    processes.stop_process_group(current.pid, timeout)
    processes.forget(layout, spec.name)
    return True


def log_tail(layout: Layout, spec: DaemonSpec) -> str:
    """The line of the daemon's log that says why it stopped, for a one-line error.

    NOTE: oslo.log prefixes every traceback line with ``ERROR <logger>``; the reason is the last
    such line that names an exception (``nova.exception.InvalidConfiguration: ...``).
    """
    try:
        lines = layout.log(spec.name).read_text(errors="replace").splitlines()
    except OSError:
        return ""
    for line in reversed(lines):
        _, found, message = line.partition(" ERROR ")
        reason = message.split(" ", 1)[1].strip() if found and " " in message else ""
        if reason and not reason.startswith(("File ", "^", "Traceback")) and ": " in reason:
            return reason[-300:]
    kept = [line.strip() for line in lines if line.strip()]
    return kept[-1][-300:] if kept else ""
