"""Helpers shared by the capture benchmarks: the local server, traced and untraced children."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

from stacktap.launcher.env import tracing_env
from stacktap.model import Run
from stacktap.store import Store

HERE = os.path.dirname(os.path.abspath(__file__))


@contextmanager
def local_server() -> Iterator[str]:
    """Start ``_bench_server.py`` in its own process; yields its base URL."""
    with tempfile.TemporaryDirectory() as tmp:
        port_file = os.path.join(tmp, "port")
        proc = subprocess.Popen([sys.executable, os.path.join(HERE, "_bench_server.py"), port_file])
        try:
            deadline = time.time() + 10
            while not (os.path.exists(port_file) and _read(port_file)):
                if time.time() > deadline:
                    raise RuntimeError("bench server did not start")
                time.sleep(0.05)
            yield f"http://127.0.0.1:{_read(port_file)}"
        finally:
            proc.terminate()
            proc.wait()


def _read(path: str) -> str:
    with open(path) as src:
        return src.read()


def traced_env(db: str, collector: str | None = None) -> dict[str, str]:
    """A new command run in ``db`` and the environment that records into it (through the
    collector listening on ``collector``, if given, as under ``stacktap run``)."""
    run = Run(kind="command", label="benchmark")
    with Store(db) as store:
        store.add_run(run)
    return tracing_env(db, run_id=run.id, collector=collector)


def plain_env() -> dict[str, str]:
    env = dict(os.environ)
    for var in list(env):
        if var.startswith("STACKTAP_"):
            del env[var]
    return env


def run_child(
    code: str, env: dict[str, str], *args: str, python: str = sys.executable, wrapper: list[str] | None = None
) -> str:
    """Run ``python -c code args`` (behind ``wrapper``, e.g. ``stacktap run --``); its stdout."""
    cmd = [*(wrapper or []), python, "-c", code, *args]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return done.stdout.strip()


@contextmanager
def stacktap_proxy(auth_url: str, db: str) -> Iterator[tuple[int, str]]:
    """Run ``stacktap proxy --auth-url auth_url`` (its own process, recording into ``db``);
    yields (its pid, the auth URL through it). Stopped by SIGINT."""
    import signal

    stacktap = os.path.join(os.path.dirname(sys.executable), "stacktap")
    proc = subprocess.Popen(
        [stacktap, "proxy", "--db", db, "--auth-url", auth_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "OS_AUTH_URL=" not in line:
            raise RuntimeError(f"stacktap proxy did not start: {line!r}")
        yield proc.pid, line.split("OS_AUTH_URL=")[1].split()[0]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)


def vm_kib(pid: int, field: str) -> int:
    """``field`` (``VmRSS``, ``VmHWM``) of process ``pid`` from /proc, in KiB."""
    with open(f"/proc/{pid}/status") as src:
        for line in src:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/{pid}/status")
