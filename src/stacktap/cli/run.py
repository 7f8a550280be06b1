"""``stacktap run [OPTIONS] -- CMD [ARGS...]``: run a command and record its HTTP calls.

The command runs as a child with the same stdin/stdout/stderr and the tracing
environment (``stacktap.launcher.env``), so it and every Python process it starts record
their calls. Its exit code is ours (128+N when a signal N killed it). SIGTERM and SIGHUP
are passed on; Ctrl-C reaches it from the terminal directly (same process group), so
stacktap itself ignores SIGINT/SIGQUIT while the child runs.

NOTE: start-up cost. ``stacktap run`` starts in front of the traced command, so this module
imports neither click nor anything the run does not need before the command starts (the
redaction rules, the catalog code and ``platformdirs`` are loaded only when used).
``stacktap.cli.main`` hands it the usual command lines before it loads click
(:func:`main_fast`); click parses only the rest (``--help``, mistakes, unusual spellings)
through the click command ``run``, built on first use (:func:`__getattr__`). Both end in
:func:`execute`.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import gc
import getpass
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

from stacktap.agent.argv_redact import redact_argv
from stacktap.launcher.env import BODY_CAP_VAR, tracing_env
from stacktap.model import Run
from stacktap.settings import parse_size
from stacktap.store import Store, count_calls_and_services, default_db_path

if TYPE_CHECKING:
    import click

    from stacktap.launcher.collector import Collector

_FORWARDED = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGQUIT)

#: Milliseconds the run's end waits for a store that already failed during the run.
_FAILING_STORE_WAIT_MS = 1000

#: click.echo's pattern: it strips these from what it prints anywhere but on a terminal.
_ANSI = r"\033\[[0-?]*[ -/]*[@-~]"


def _say(message: str) -> None:
    """Print one line on stderr the way ``click.echo(message, err=True)`` does."""
    stream = sys.stderr
    if stream is None:  # started with stderr closed
        return
    if "\033" in message and not stream.isatty():
        message = re.sub(_ANSI, "", message)
    stream.write(message + "\n")
    stream.flush()


def _user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:
        return None


def _mark(value: str) -> str:
    # NOTE: stacktap.redact compiles its rules on import (~10 ms); most command lines
    # have no secret option, so it is imported only for one that has.
    from stacktap.redact import mark

    return mark(value)


def _new_run(argv: Sequence[str], label: str | None) -> Run:
    """The run of the command (nothing stored yet: the command starts first)."""
    return Run(
        kind="command",
        label=label,
        argv=redact_argv(list(argv), _mark),
        cwd=os.getcwd(),
        # NOTE: what socket.gethostname() returns on POSIX (it is uname's nodename there)
        # without importing socket (~2 ms).
        host=os.uname().nodename,
        user=_user(),
        started=time.time(),
    )


def _store_run_later(db: str, run: Run) -> None:
    """Store the run row on a thread of its own, once the command started: ``stacktap list``
    shows the run while it runs. A store that is locked or full does not delay anything:
    the row is written (or spilled) again at the end (``INSERT OR IGNORE``; calls name their
    run without a foreign key, so they may come first)."""
    import threading

    def write() -> None:
        with contextlib.suppress(Exception), Store(db, replay=False) as store:
            store.add_run(run)

    with contextlib.suppress(RuntimeError):
        threading.Thread(target=write, name="stacktap-run-row", daemon=True).start()


def _start_collector(db: str) -> Collector | None:
    """The collector that stores the run's client calls off the traced processes' threads;
    None (each process then stores its own, slower but complete) where it cannot listen."""
    try:
        from stacktap.launcher.collector import Collector

        return Collector(db)
    except (OSError, AttributeError):  # NOTE: AttributeError: no AF_UNIX on this platform
        return None


def _run_child(
    cmd: Sequence[str], env: dict[str, str], on_start: Callable[[], None] | None = None
) -> tuple[int, bool]:
    """Run ``cmd``, pass signals on: (its exit code the way a shell reports it, whether it
    started at all; when not, the error is already said). ``on_start`` runs once it started."""
    try:
        child = subprocess.Popen(list(cmd), env=env)
    except FileNotFoundError:
        _say(f"stacktap: command not found: {cmd[0]}")
        return 127, False
    except PermissionError:
        _say(f"stacktap: permission denied: {cmd[0]}")
        return 126, False
    except OSError as exc:  # NOTE: e.g. ENOEXEC, a file that is no program; 126 like a shell
        _say(f"stacktap: cannot run {cmd[0]}: {exc.strerror or exc}")
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
    if on_start is not None:
        on_start()
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


def _finish(db: str, run: Run, exit_code: int, started: bool, faults: dict[str, Any] | None) -> str | None:
    """Store the run's row and end (spilled when the store fails) after writing back what
    waits in spill files; the one line to say: the summary, or the warning of what the
    store did not take. None when the command never started."""
    from stacktap.store import spill
    from stacktap.store.sqlite import finish_entry, run_entry

    entries = [run_entry(run), finish_entry(run.id, exit_code)]
    faults = dict(faults or {"reason": None, "waiting": 0, "where": None, "lost": 0})
    try:
        with Store(db) as store:  # NOTE: opening writes back the pending spill files
            if faults["reason"] is not None:
                # NOTE: the store failed during the run already: do not wait its full busy
                # timeout once more after the command ended.
                store.raw().execute(f"PRAGMA busy_timeout = {_FAILING_STORE_WAIT_MS}")
            store.write_entries(entries)
            if not started:
                return None
            calls, services = count_calls_and_services(store, run.id)
            waiting = spill.pending(db)
    except Exception as exc:  # NOTE: also sqlite3 errors (locked, disk full)
        from stacktap.store import StoreError

        reason = str(exc) if isinstance(exc, StoreError) else f"{type(exc).__name__}: {exc}"
        faults["reason"] = faults["reason"] or f"cannot write to the store {db}: {reason}"
        try:
            where = spill.write_spill(db, [entries])
            faults["where"] = faults["where"] or where
        except OSError:
            pass  # NOTE: the calls may still wait; only the run row is lost
        if not started:
            return None
    else:
        if faults["reason"] is None or not (waiting or faults["lost"]):
            return _summary_line(run, calls, services)  # NOTE: all written back now
        # NOTE: some spill files could not be written back (the store still locked).
        faults["waiting"] = sum(spill.count_calls(spill.read_spill(p)) for p in waiting)
        faults["where"] = os.path.dirname(waiting[0]) if waiting else None
    from stacktap.agent.recorder import describe_faults

    return f"stacktap: warning: run {run.id}: " + describe_faults(faults)


def _summary_line(run: Run, calls: int, services: int) -> str:
    """The line that says what the run recorded."""
    if not calls:
        return (
            f"stacktap: nothing traced in run {run.id}: no HTTP calls from Python"
            " (a non-Python command, or no HTTP)"
        )
    plural_calls = "" if calls == 1 else "s"
    plural_services = "" if services == 1 else "s"
    return (
        f"stacktap: recorded {calls} call{plural_calls} to {services} service{plural_services}"
        f" in run {run.id} (stacktap show {run.id})"
    )


def _proxy_env(
    path: str, run_id: str, cap: int | None, cmd: Sequence[str]
) -> tuple[Any, dict[str, str], Any]:
    """Start the recording proxy in front of ``$OS_AUTH_URL``, else of the keystone of the cloud
    ``cmd`` names (``--os-cloud NAME`` or ``$OS_CLOUD``) in ``clouds.yaml``: (proxy, the child's
    environment without the Python hooks, the private clouds.yaml copy given to the child or
    None). Exits with one line on stderr when it cannot, before the command runs."""
    from stacktap.proxy import PrivateCopy, Proxy, ProxyError, check_auth_url, cloud_name, load_cloud

    auth_url = os.environ.get("OS_AUTH_URL")
    cloud = None
    insecure = os.environ.get("OS_INSECURE", "").lower() in ("1", "true", "yes")
    cacert = os.environ.get("OS_CACERT") or None
    try:
        if not auth_url:
            name = cloud_name(cmd, os.environ)
            if name is None:
                _say(
                    "stacktap: --proxy needs OS_AUTH_URL, or a cloud of clouds.yaml"
                    " (OS_CLOUD or --os-cloud NAME)"
                )
                sys.exit(2)
            cloud = load_cloud(name, os.environ)
            auth_url, cacert, insecure = cloud.auth_url, cloud.cacert, cloud.insecure
        check_auth_url(auth_url, cacert, insecure)
        proxy = Proxy(auth_url, path, run_id, body_cap=cap, cacert=cacert, insecure=insecure).start()
    except ProxyError as exc:
        _say(f"stacktap: {exc}")
        sys.exit(2)
    env = dict(os.environ)
    copy = None
    if cloud is None:
        env["OS_AUTH_URL"] = proxy.auth_url
        where = ""
    else:
        try:
            copy = PrivateCopy(cloud, proxy.auth_url)
        except OSError as exc:
            proxy.close()
            _say(f"stacktap: --proxy: cannot write the private clouds.yaml copy: {exc.strerror or exc}")
            sys.exit(2)
        # NOTE: the SDK reads $OS_CLIENT_CONFIG_FILE first; secure.yaml is still its own.
        env["OS_CLIENT_CONFIG_FILE"] = copy.path
        where = f" (cloud {cloud.name} of {cloud.path}, through a private copy)"
    _say(
        f"stacktap: --proxy: recording through {proxy.auth_url}{where};"
        " the Python hooks are off for the command"
    )
    return proxy, env, copy


def execute(
    db: str | None,
    label: str | None,
    no_propagate: bool,
    body_cap: str | None,
    cmd: Sequence[str],
    proxy: bool = False,
) -> NoReturn:
    """The ``run`` command, its options parsed: record, run ``cmd``, summarize, exit with its code."""
    cap = None
    if body_cap is not None:
        try:
            cap = parse_size(body_cap)
        except ValueError as exc:
            _say(f"stacktap: {exc}")
            sys.exit(2)
    path = os.path.abspath(db or default_db_path())
    record = _new_run(cmd, label)
    collector = None if proxy else _start_collector(path)
    running_proxy = clouds_copy = None
    try:
        if proxy:
            running_proxy, env, clouds_copy = _proxy_env(path, record.id, cap, cmd)
        else:
            address = collector.address if collector is not None else None
            env = tracing_env(path, run_id=record.id, propagate=not no_propagate, collector=address)
            if cap is not None:
                env[BODY_CAP_VAR] = str(cap)
        # NOTE: the command starts first; the store (locked, full, gone) never decides
        # whether or when it runs (issue #13).
        exit_code, started = _run_child(cmd, env, functools.partial(_store_run_later, path, record))
    finally:
        if running_proxy is not None:
            running_proxy.close()
        if clouds_copy is not None:
            clouds_copy.close()  # NOTE: the copy holds the cloud's secrets: gone with the run
        if collector is not None:
            collector.close()  # NOTE: everything the processes sent is stored before the summary
    try:
        faults = collector.store_faults() if collector is not None else None
        line = _finish(path, record, exit_code, started, faults)
    except Exception as exc:  # NOTE: the store never replaces the command's exit code
        line = f"stacktap: warning: cannot finish run {record.id}: {type(exc).__name__}: {exc}"
    if line:
        _say(line)
    sys.exit(exit_code)


# -- the command line ------------------------------------------------------------------

#: The options of ``run`` (as the click command below spells them): whether each takes a value.
_OPTIONS = {"--db": True, "--label": True, "--body-cap": True, "--no-propagate": False, "--proxy": False}


def parse_fast(args: Sequence[str]) -> dict[str, Any] | None:
    """The keyword arguments of :func:`execute` for ``stacktap run ARGS``, exactly as the click
    command gets them, or None when ARGS are not in the usual form (click then parses them).

    The usual form: options of ``_OPTIONS`` at most once each, each value non-empty and not
    looking like an option, then an optional ``--``, then a command. Like the click command
    (no interspersed arguments), everything from the command's name on is the command's.
    """
    values: dict[str, str | bool] = {}
    i = 0
    while i < len(args) and args[i].startswith("-"):
        if args[i] == "--":
            i += 1
            break
        name, equals, value = args[i].partition("=")
        takes_value = _OPTIONS.get(name)
        if takes_value is None or name in values:
            return None  # --help, a mistake, an option given twice: click's business
        if not takes_value:
            if equals:
                return None
            values[name] = True
        else:
            if not equals:
                if i + 1 == len(args):
                    return None
                i += 1
                value = args[i]
            if not value or value.startswith("-"):
                return None  # empty or odd-looking: click decides what it means
            values[name] = value
        i += 1
    cmd = tuple(args[i:])
    if not cmd:
        return None
    return {
        # NOTE: no --db is None, as click gives it without STACKTAP_DB; with STACKTAP_DB,
        # click gives its value and execute() gets the same from default_db_path().
        "db": values.get("--db"),
        "label": values.get("--label"),
        "no_propagate": bool(values.get("--no-propagate", False)),
        "body_cap": values.get("--body-cap"),
        "cmd": cmd,
        "proxy": bool(values.get("--proxy", False)),
    }


def main_fast(args: Sequence[str]) -> None:
    """``stacktap run ARGS`` without loading click, when ARGS are in the usual form (it then
    exits); otherwise it returns at once, for the click command to parse them."""
    if "_STACKTAP_COMPLETE" in os.environ:  # click's shell completion
        return
    kwargs = parse_fast(args)
    if kwargs is None:
        return
    # NOTE: what click's standalone mode does around a command, for the same exits.
    try:
        execute(**kwargs)
    except (EOFError, KeyboardInterrupt):
        _say("")  # closes the terminal's ^C echo
        _say("Aborted!")
        sys.exit(1)
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            raise
        # stdout or stderr is a closed pipe: exit 1 without the "Exception ignored" of the
        # final flush (the way the Python docs suggest for SIGPIPE).
        devnull = os.open(os.devnull, os.O_WRONLY)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(AttributeError, OSError, ValueError):
                os.dup2(devnull, stream.fileno())
        sys.exit(1)
    finally:
        # NOTE: the process ends here. The garbage collections of the interpreter's exit
        # would search every object of the modules loaded for cycles (~5 ms), for memory
        # the system takes back anyway: freeze them out of it.
        gc.freeze()


@functools.cache
def _click_command() -> click.Command:
    import click

    from stacktap.cli.options import db_option

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
    @click.option("--proxy", is_flag=True, help="Record through a keystone-aware proxy (any client).")
    @click.argument("cmd", nargs=-1, required=True, type=click.UNPROCESSED, metavar="-- CMD [ARGS]...")
    def run(
        db: str | None,
        label: str | None,
        no_propagate: bool,
        body_cap: str | None,
        proxy: bool,
        cmd: tuple[str, ...],
    ) -> None:
        """Run CMD and record the HTTP calls it (and every Python process it starts) makes."""
        execute(db, label, no_propagate, body_cap, cmd, proxy)

    return run


def __getattr__(name: str) -> Any:
    # NOTE: the click command `run` (what `stacktap.cli.main.COMMANDS` names) is built on
    # first use, so that main_fast() never imports click.
    if name == "run":
        return _click_command()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
