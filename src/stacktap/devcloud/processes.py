"""Serving each WSGI app with gunicorn: start, pid files, fingerprints, health, stop.

Each service gets ``DIR/run/<name>.gunicorn.py`` (its gunicorn config), ``DIR/run/<name>.pid``
(the gunicorn master, written by us at spawn), ``DIR/run/<name>.fingerprint`` (a hash of what it
was started with: command, environment, config files) and ``DIR/run/<name>.ctl`` (gunicorn's
control socket, kept out of the shared ``~/.gunicorn``). Its output goes to ``DIR/logs/<name>.log``.

A pid counts as ours only while ``/proc/<pid>`` shows a gunicorn of this service (its command
line, which gunicorn retitles to ``gunicorn: master [stacktap-devcloud-<name>]``) working in this
dev cloud's directory, so a stale pid file after a crash (or a reboot that handed the pid to
someone else) never makes us signal a stranger.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from stacktap.devcloud.http import health
from stacktap.devcloud.layout import Layout
from stacktap.devcloud.services import HOST, ServiceSpec
from stacktap.errors import DevcloudError

#: What each service process's environment contributes to its fingerprint.
#: NOTE: the OTLP variables, so that pointing live export elsewhere restarts the services.
_FINGERPRINT_ENV = ("PYTHONPATH", "STACKTAP_", "OS_", "OTEL_EXPORTER_OTLP_")

# NOTE: oslo.config parses sys.argv when the app is imported (nova passes it explicitly, keystone
# and glance through CONF()), and gunicorn's own arguments would make it exit with "unrecognized
# arguments". The config file runs in the master after gunicorn parsed its command line and
# before any worker imports the app, so emptying argv here hides it from the app.
_GUNICORN_CONF = """\
# Written by stacktap devcloud for %(name)s; rewritten on each `up`.
import sys

sys.argv[1:] = []
proc_name = %(proc_name)r
wsgi_app = %(app)r
bind = [%(bind)r]
workers = 1
# NOTE: threads, so a slow request (an image upload) does not stall the service's other calls.
threads = 4
timeout = 120
graceful_timeout = 5
%(control)s
pidfile = None
accesslog = %(access)r
errorlog = "-"
capture_output = True
"""

# NOTE: unix socket paths are limited to 107 bytes; a deep --dir falls back to no control socket.
_MAX_SOCKET_PATH = 100


@dataclass(frozen=True)
class Running:
    service: str
    pid: int


def conf_path(layout: Layout, service: str) -> Path:
    return layout.run / (f"{service}.gunicorn.py")


def _pid_path(layout: Layout, service: str) -> Path:
    return layout.run / (f"{service}.pid")


def _fingerprint_path(layout: Layout, service: str) -> Path:
    return layout.run / (f"{service}.fingerprint")


def gunicorn_conf(layout: Layout, spec: ServiceSpec, port: int, app: str, extra: str = "") -> str:
    """The gunicorn config of ``spec``; ``extra`` is appended (``debug``'s settings)."""
    socket_path = str(layout.run / (f"{spec.name}.ctl"))
    control = (
        f"control_socket = {socket_path!r}"
        if len(socket_path) <= _MAX_SOCKET_PATH
        else "control_socket_disable = True"
    )
    base = _GUNICORN_CONF % {
        "name": spec.name,
        "proc_name": _proc_name(spec.name),
        "app": app,
        "bind": f"{HOST}:{port}",
        "control": control,
        "access": str(layout.logs / f"{spec.name}-access.log"),
    }
    return base + extra


def command(layout: Layout, spec: ServiceSpec) -> list[str]:
    return [str(layout.python), "-m", "gunicorn", "-c", str(conf_path(layout, spec.name))]


def fingerprint(argv: list[str], env: Mapping[str, str], files: list[Path]) -> str:
    """A hash of what a service runs with: same fingerprint, no need to restart it."""
    digest = hashlib.sha256()
    kept = {k: v for k, v in env.items() if k.startswith(_FINGERPRINT_ENV)}
    digest.update(json.dumps([argv, sorted(kept.items())]).encode())
    for path in files:
        digest.update(path.name.encode() + b"\0")
        digest.update(path.read_bytes() if path.exists() else b"<missing>")
    return digest.hexdigest()


def is_alive(pid: int) -> bool:
    """True for a running process; a zombie (exited, not yet reaped) counts as dead."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            # NOTE: the state follows the parenthesised command name, which may itself hold ")".
            return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def runs_in(layout: Layout, pid: int, marks: Sequence[str]) -> bool:
    """Whether ``pid`` is alive, runs in the dev cloud's dir and names one of ``marks`` (a
    path, a process title) in its command line: so a recycled pid is not taken for ours.
    Shared with ``devcloud.daemons``."""
    if not is_alive(pid):
        return False
    if not os.path.isdir("/proc/self"):  # NOTE: no procfs (macOS): trust a live pid
        return True
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            cmdline = handle.read().replace(b"\0", b" ")
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return False
    named = any(os.fsencode(mark) in cmdline for mark in marks)
    return named and cwd == os.path.realpath(layout.root)


def _is_ours(layout: Layout, service: str, pid: int) -> bool:
    return runs_in(layout, pid, [str(conf_path(layout, service)), f"[{_proc_name(service)}]"])


def _proc_name(service: str) -> str:
    return f"stacktap-devcloud-{service}"


def running(layout: Layout, service: str) -> Running | None:
    """The live gunicorn master of ``service``; a stale pid file is removed on the way."""
    return recorded(layout, service, lambda pid: _is_ours(layout, service, pid))


def recorded(layout: Layout, name: str, is_ours: Callable[[int], bool]) -> Running | None:
    """The process ``DIR/run/<name>.pid`` names, if ``is_ours`` says it still is ours; a stale
    pid file (and its fingerprint) is removed on the way. Shared with ``devcloud.daemons``."""
    path = _pid_path(layout, name)
    try:
        pid = int(path.read_text().strip())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        pid = 0
    if pid > 0 and is_ours(pid):
        return Running(name, pid)
    forget(layout, name)
    return None


def forget(layout: Layout, service: str) -> None:
    for path in (_pid_path(layout, service), _fingerprint_path(layout, service)):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def started_fingerprint(layout: Layout, service: str) -> str | None:
    try:
        return _fingerprint_path(layout, service).read_text().strip()
    except OSError:
        return None


def start(
    layout: Layout,
    spec: ServiceSpec,
    port: int,
    app: str,
    env: Mapping[str, str],
    fingerprint_value: str,
    extra: str = "",
) -> subprocess.Popen[bytes]:
    """Spawn gunicorn for ``spec`` in its own session; output appended to the service's log."""
    conf_path(layout, spec.name).write_text(gunicorn_conf(layout, spec, port, app, extra))
    banner = f"starting {spec.name} on {HOST}:{port}"
    return spawn(layout, spec.name, command(layout, spec), env, banner, fingerprint_value)


def spawn(
    layout: Layout,
    name: str,
    argv: list[str],
    env: Mapping[str, str],
    banner: str,
    fingerprint_value: str,
    label: str | None = None,
) -> subprocess.Popen[bytes]:
    """Run ``argv`` in its own session, output appended to ``DIR/logs/<name>.log`` after a
    ``banner`` line; its pid and fingerprint files written; errors name ``label`` (default:
    ``name``). Shared with ``devcloud.daemons``."""
    with open(layout.log(name), "ab") as log:
        when = time.strftime("%Y-%m-%d %H:%M:%S")
        log.write(f"\n===== stacktap devcloud: {banner} at {when} =====\n".encode())
        log.flush()
        try:
            # NOTE: a new session, so the services outlive `up` and a Ctrl-C in its terminal.
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env),
                cwd=str(layout.root),
                start_new_session=True,
            )
        except OSError as exc:
            raise DevcloudError(f"cannot start {label or name}: {exc}") from exc
    _pid_path(layout, name).write_text(f"{proc.pid}\n")
    _fingerprint_path(layout, name).write_text(fingerprint_value + "\n")
    return proc


def wait_healthy(
    layout: Layout, spec: ServiceSpec, port: int, proc: subprocess.Popen[bytes], timeout: float
) -> None:
    """Wait until ``spec`` answers HTTP on its root; raise (naming its log) if it dies or stalls."""
    deadline = time.monotonic() + timeout
    url = spec.root_url(port)
    while True:
        code = proc.poll()
        if code is not None:
            raise DevcloudError(
                f"{spec.name} exited (code {code}) while starting; read {layout.log(spec.name)}"
            )
        if health(url, timeout=2.0).startswith("ok"):
            return
        if time.monotonic() > deadline:
            raise DevcloudError(
                f"{spec.name} did not answer on {url} within {timeout:.0f}s; read {layout.log(spec.name)}"
            )
        time.sleep(0.2)


def stop(layout: Layout, service: str, timeout: float = 15.0) -> bool:
    """Stop ``service`` if it runs (TERM to its session, KILL after ``timeout``); True if it ran."""
    current = running(layout, service)
    if current is None:
        return False
    stop_process_group(current.pid, timeout)
    forget(layout, service)
    return True


def stop_process_group(pid: int, timeout: float, poll: float = 0.1) -> None:
    """TERM to the session ``pid`` leads, KILL after ``timeout``; reaped when it is our child."""
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while is_alive(pid) and time.monotonic() < deadline:
        _reap(pid)
        time.sleep(poll)
    if is_alive(pid):
        _signal_group(pid, signal.SIGKILL)
        time.sleep(0.2)
        _reap(pid)


def _signal_group(pid: int, signum: int) -> None:
    # NOTE: the master leads its own session (start_new_session), so its workers get it too.
    try:
        os.killpg(pid, signum)
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pid, signum)


def _reap(pid: int) -> None:
    """Collect the exit status if the master is our own child (same `up` process), else no-op."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
