"""``stacktap run [OPTIONS] -- CMD [ARGS...]``: run a command and record its HTTP calls.

The command runs as a child with the same stdin/stdout/stderr and the tracing
environment (``stacktap.capture.env``), so it and every Python process it starts record
their calls. Its exit code is ours (128+N when a signal N killed it). SIGTERM and SIGHUP
are passed on; Ctrl-C reaches it from the terminal directly (same process group), so
stacktap itself ignores SIGINT/SIGQUIT while the child runs.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from types import FrameType

import click

from stacktap.capture.argv_redact import redact_argv
from stacktap.capture.env import BODY_CAP_VAR, tracing_env
from stacktap.cli.options import db_option, fail
from stacktap.model import Run
from stacktap.redact import mark
from stacktap.store import Store, StoreError, default_db_path, load_trace

_FORWARDED = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGQUIT)
_UNITS = {"": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2, "g": 1024**3, "gb": 1024**3}


def parse_size(text: str) -> int:
    """``1048576``, ``512k``, ``2M``, ``1g`` -> bytes; anything else is a ValueError."""
    value = text.strip().lower().rstrip("ib") if text.lower().endswith("ib") else text.strip().lower()
    digits = value.rstrip("kmgb")
    unit = value[len(digits) :]
    if not digits.isdigit() or unit not in _UNITS:
        raise ValueError(f"not a size: {text!r} (try 1048576, 512k, 2M)")
    return int(digits) * _UNITS[unit]


def _user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:
        return None


def _start_run(db: str, argv: Sequence[str], label: str | None) -> Run | None:
    """Create the run before the command starts; None (and one warning) if the store fails."""
    run = Run(
        kind="command",
        label=label,
        argv=redact_argv(list(argv), mark),
        cwd=os.getcwd(),
        host=socket.gethostname(),
        user=_user(),
        started=time.time(),
    )
    try:
        with Store(db) as store:
            store.add_run(run)
    except StoreError as exc:
        click.echo(f"stacktap: warning: not recording: {exc}", err=True)
        return None
    return run


def _run_child(cmd: Sequence[str], env: dict[str, str]) -> tuple[int, bool]:
    """Run ``cmd``, pass signals on: (its exit code the way a shell reports it, whether it
    started at all; when not, the error is already said)."""
    try:
        child = subprocess.Popen(list(cmd), env=env)
    except FileNotFoundError:
        click.echo(f"stacktap: command not found: {cmd[0]}", err=True)
        return 127, False
    except PermissionError:
        click.echo(f"stacktap: permission denied: {cmd[0]}", err=True)
        return 126, False

    def forward(signum: int, _frame: FrameType | None) -> None:
        # NOTE: the child shares our process group, so a Ctrl-C (or Ctrl-\) at the terminal
        # already reached it: forwarding it too would interrupt the child's own cleanup.
        # Like uv and other runners, we only swallow those; SIGTERM and SIGHUP are passed on.
        if signum in (signal.SIGINT, signal.SIGQUIT):
            return
        with contextlib.suppress(OSError):
            child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in _FORWARDED}
    try:
        while True:
            try:
                code = child.wait()
                break
            except InterruptedError:
                continue
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return (128 - code if code < 0 else code), True


def _summary(db: str, run: Run, exit_code: int) -> str:
    with Store(db) as store:
        store.finish_run(run.id, exit_code)
        trace = load_trace(store, run.id, with_traces=False)
    calls = trace.client_calls
    if not calls:
        return (
            f"stacktap: nothing traced in run {run.id}: no HTTP calls from Python"
            " (a non-Python command, or no HTTP)"
        )
    services = trace.services
    plural_calls = "" if len(calls) == 1 else "s"
    plural_services = "" if len(services) == 1 else "s"
    return (
        f"stacktap: recorded {len(calls)} call{plural_calls} to {len(services)} service{plural_services}"
        f" in run {run.id} (stacktap show {run.id})"
    )


@click.command(
    "run",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@db_option
@click.option("--label", default=None, metavar="TEXT", help="A label for the run (shown by list).")
@click.option("--no-propagate", is_flag=True, help="Do not send traceparent headers.")
@click.option(
    "--body-cap",
    default=None,
    metavar="BYTES",
    help="Keep at most this much of each body (default 1 MiB; 512k, 2M...).",
)
@click.argument("cmd", nargs=-1, required=True, type=click.UNPROCESSED, metavar="-- CMD [ARGS]...")
def run(
    db: str | None, label: str | None, no_propagate: bool, body_cap: str | None, cmd: tuple[str, ...]
) -> None:
    """Run CMD and record the HTTP calls it (and every Python process it starts) makes."""
    if body_cap is not None:
        try:
            cap = parse_size(body_cap)
        except ValueError as exc:
            fail(str(exc), code=2)
    path = os.path.abspath(db or default_db_path())
    record = _start_run(path, cmd, label)
    if record is None:
        env = dict(os.environ)
    else:
        env = tracing_env(path, run_id=record.id, propagate=not no_propagate)
        if body_cap is not None:
            env[BODY_CAP_VAR] = str(cap)
    exit_code, started = _run_child(cmd, env)
    if record is not None and not started:
        with contextlib.suppress(StoreError), Store(path) as store:
            store.finish_run(record.id, exit_code)
    elif record is not None:
        try:
            click.echo(_summary(path, record, exit_code), err=True)
        except StoreError as exc:
            click.echo(f"stacktap: warning: cannot finish run {record.id}: {exc}", err=True)
    sys.exit(exit_code)
