"""The fault matrix of issue #13: whatever happens to the store, the traced command runs as
untraced, and its calls are stored (or counted in the one warning line).

Each case runs a Python client (``requests``, N calls to a local server on 127.0.0.1)
under ``stacktap run``, applies a fault when the client is half way (it waits at a gate
file), and compares with the same client run untraced: stdout and exit code identical,
no traceback on stderr, at most one warning line, and the calls stored afterwards (the next
store open writes back the spill files) equal to the calls made, except where the fault
makes storing impossible, and then the warning names the count.

NOTE: the store's busy timeout is cut to 200 ms in the processes that write (a lock that
outlasts it is the case under test, not 10 s of waiting).
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.capture.capture_helpers import LocalServer

from stacktap.launcher.env import tracing_env
from stacktap.store import Store, spill

N = 20
HALF = N // 2

CLIENT = """
import os, subprocess, sys, time
import requests

url, n, gate, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]


def wait_for_go():
    with open(gate + ".tmp", "w") as out:
        out.write(str(os.getpid()))
    os.rename(gate + ".tmp", gate + ".half")  # NOTE: the test never reads it half written
    deadline = time.monotonic() + 30
    while not os.path.exists(gate + ".go") and time.monotonic() < deadline:
        time.sleep(0.01)


def calls(k):
    with requests.Session() as session:
        for _ in range(k):
            assert session.get(url + "/json").status_code == 200


if mode == "calls":
    calls(n)
    sys.exit(0)
calls(n // 2)
if mode == "body":
    response = requests.get(url + "/bytes?size=8000000", stream=True)
    response.raw.read(65536)
    wait_for_go()  # NOTE: killed here, in the middle of the body
    sys.exit(9)
wait_for_go()
if mode == "child":
    subprocess.run([sys.executable, sys.argv[0], url, str(n - n // 2), "", "calls"], check=True)
else:
    calls(n - n // 2)
print("done", n)
sys.exit(3)
"""

BUSY_200MS = (
    "import stacktap.store.sqlite as s, stacktap.launcher.collector as c;"
    " s.BUSY_TIMEOUT_MS = c.STORE_BUSY_TIMEOUT_MS = 200; "
)
STACKTAP = [sys.executable, "-c", BUSY_200MS + "from stacktap.cli.main import main; main()"]


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str


@dataclass
class Case:
    """One traced (or untraced) session: the paths a fault acts on."""

    tmp: Path
    db: Path
    gate: Path
    proc: subprocess.Popen[str] | None = None

    def child_pid(self) -> int:
        return int((self.gate.parent / (self.gate.name + ".half")).read_text())

    def stored(self) -> int:
        """Calls in the store now (an open writes back the pending spill files first)."""
        with Store(str(self.db)) as store:
            return int(store.raw().execute("SELECT COUNT(*) FROM calls").fetchone()[0])

    def wait_stored(self, count: int) -> None:
        """Until ``count`` calls are in the store (bounded), read without writing anything."""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with _reader(self.db) as db:
                if db is not None and db.execute("SELECT COUNT(*) FROM calls").fetchone()[0] >= count:
                    return
            time.sleep(0.05)
        raise AssertionError(f"{count} calls never got stored")


class _reader:
    """A read-only connection that is closed on exit (None while there is no store yet)."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.conn: sqlite3.Connection | None = None

    def __enter__(self) -> sqlite3.Connection | None:
        try:
            self.conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=1)
            self.conn.execute("SELECT COUNT(*) FROM calls")
        except sqlite3.Error:
            self.__exit__()
            return None
        return self.conn

    def __exit__(self, *exc: object) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    srv = LocalServer()
    yield srv
    srv.close()


def _session(
    tmp: Path,
    server: LocalServer,
    traced: bool,
    fault: Callable[[Case], None] | None = None,
    mode: str = "plain",
    db: Path | None = None,
    after: Callable[[Case], None] | None = None,
    extra_env: dict[str, str] | None = None,
) -> tuple[Outcome, Case]:
    """Run the client (under ``stacktap run`` when ``traced``), ``fault`` at the gate."""
    tmp.mkdir(parents=True, exist_ok=True)
    script = tmp / "client.py"
    script.write_text(CLIENT)
    case = Case(tmp=tmp, db=db or tmp / "store" / "st.db", gate=tmp / "gate")
    case.db.parent.mkdir(exist_ok=True)
    command = [sys.executable, str(script), server.url, str(N), str(case.gate), mode]
    env = dict(os.environ, TMPDIR=str(tmp), **(extra_env or {}))
    argv = [*STACKTAP, "run", "--db", str(case.db), "--", *command] if traced else command
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    case.proc = proc
    half = tmp / "gate.half"
    deadline = time.monotonic() + 30
    while not half.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    if fault is not None:
        fault(case)
    (tmp / "gate.go").write_text("")
    try:
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if after is not None:
            after(case)
    code = proc.returncode
    return Outcome(128 - code if code < 0 else code, stdout, stderr), case


def _check(traced: Outcome, untraced: Outcome) -> str | None:
    """The command's output and exit code as untraced, no traceback, at most one warning
    line (returned)."""
    assert (traced.returncode, traced.stdout) == (untraced.returncode, untraced.stdout), traced.stderr
    assert "Traceback" not in traced.stderr, traced.stderr
    warnings = [line for line in traced.stderr.splitlines() if "warning" in line]
    assert len(warnings) <= 1, traced.stderr
    assert len(traced.stderr.splitlines()) <= 1, traced.stderr
    return warnings[0] if warnings else None


def _waiting(warning: str | None) -> int:
    """How many calls the warning says wait in spill files (0 without one)."""
    if warning is None:
        return 0
    found = re.search(r"(\d+) calls? wait in ", warning)
    return int(found.group(1)) if found else 0


@pytest.fixture(scope="module")
def untraced(server: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    outcome, _ = _session(tmp_path_factory.mktemp("untraced"), server, traced=False)
    assert outcome == Outcome(3, f"done {N}\n", "")
    return outcome


# -- the store locked for longer than its busy timeout ----------------------------------------


def _lock(db: Path) -> sqlite3.Connection:
    Store(str(db)).close()
    holder = sqlite3.connect(str(db), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    return holder


def test_store_locked_at_the_start(tmp_path: Path, server: LocalServer, untraced: Outcome) -> None:
    (tmp_path / "store").mkdir()
    holder = _lock(tmp_path / "store" / "st.db")
    started = time.monotonic()
    traced, case = _session(tmp_path, server, True, fault=lambda case: holder.rollback())
    holder.close()
    assert _check(traced, untraced) is None  # NOTE: all written before the end: no warning
    assert f"recorded {N} calls" in traced.stderr
    assert case.stored() == N
    assert time.monotonic() - started < 15


def test_store_locked_mid_run_until_the_end(tmp_path: Path, server: LocalServer, untraced: Outcome) -> None:
    holders: list[sqlite3.Connection] = []

    def lock(case: Case) -> None:
        case.wait_stored(HALF)
        holders.append(_lock(case.db))

    traced, case = _session(tmp_path, server, True, fault=lock, after=lambda case: holders[0].close())
    warning = _check(traced, untraced)
    assert warning is not None and "database is locked" in warning
    assert f"{N - HALF} calls wait in {case.db}.spill " in warning
    assert case.stored() == N and spill.pending(str(case.db)) == []


# -- a full disk -----------------------------------------------------------------------------


def _fill(directory: Path) -> None:
    try:
        with open(directory / "fill", "wb") as out:
            for _ in range(1000):  # NOTE: bounded: 256 KB is 64 blocks
                out.write(b"x" * 4096)
                out.flush()
    except OSError:
        pass


def test_disk_full_at_the_start(
    small_tmpfs: Path, tmp_path: Path, server: LocalServer, untraced: Outcome
) -> None:
    Store(str(small_tmpfs / "st.db")).close()
    _fill(small_tmpfs)
    traced, case = _session(tmp_path, server, True)
    warning = _check(traced, untraced)
    assert warning is not None
    # NOTE: no room next to the store either: the spill files go to the user cache dir.
    assert f"{N} calls wait in {spill.spill_dirs(str(case.db))[1]} " in warning
    (small_tmpfs / "fill").unlink()
    assert case.stored() == N and spill.pending(str(case.db)) == []


def test_disk_full_and_no_room_for_spill_files_counts_the_lost_calls(
    small_tmpfs: Path, tmp_path: Path, server: LocalServer, untraced: Outcome
) -> None:
    Store(str(small_tmpfs / "st.db")).close()
    _fill(small_tmpfs)
    (tmp_path / "file").write_text("")  # NOTE: a cache dir under a plain file cannot be made
    no_cache = {"XDG_CACHE_HOME": str(tmp_path / "file" / "cache")}
    traced, case = _session(tmp_path, server, True, extra_env=no_cache)
    warning = _check(traced, untraced)
    assert warning is not None and warning.endswith(f"; {N} calls lost"), warning
    (small_tmpfs / "fill").unlink()
    assert case.stored() == 0


def test_disk_full_mid_run(small_tmpfs: Path, tmp_path: Path, server: LocalServer, untraced: Outcome) -> None:
    def fill(case: Case) -> None:
        case.wait_stored(HALF)
        _fill(small_tmpfs)

    traced, case = _session(tmp_path, server, True, fault=fill)
    warning = _check(traced, untraced)
    (small_tmpfs / "fill").unlink()
    stored_before_replay = _count_without_replay(case.db)
    assert stored_before_replay + _waiting(warning) == N, warning
    assert case.stored() == N


def _count_without_replay(db: Path) -> int:
    with Store(str(db), replay=False) as store:
        return int(store.raw().execute("SELECT COUNT(*) FROM calls").fetchone()[0])


# -- the store deleted, replaced, its directory made read-only ------------------------------------


def test_store_deleted_mid_run(tmp_path: Path, server: LocalServer, untraced: Outcome) -> None:
    def delete(case: Case) -> None:
        case.wait_stored(HALF)
        case.db.unlink()

    traced, case = _session(tmp_path, server, True, fault=delete)
    assert _check(traced, untraced) is None
    # NOTE: the first half went with the deleted file; the rest is in the new one, run row too.
    with Store(str(case.db)) as store:
        [run] = store.runs()
        assert len(store.calls(run.id)) == N - HALF and run.exit_code == 3


def test_store_replaced_mid_run(tmp_path: Path, server: LocalServer, untraced: Outcome) -> None:
    def replace(case: Case) -> None:
        case.wait_stored(HALF)
        Store(str(tmp_path / "other.db")).close()
        os.replace(tmp_path / "other.db", case.db)

    traced, case = _session(tmp_path, server, True, fault=replace)
    assert _check(traced, untraced) is None
    with Store(str(case.db)) as store:
        [run] = store.runs()
        assert len(store.calls(run.id)) == N - HALF and run.exit_code == 3


def _read_only(directory: Path) -> Callable[[], None]:
    """Make ``directory`` read-only (a read-only bind mount as root, for whom modes do not
    count); the function that makes it writable again."""
    if os.geteuid() != 0:
        directory.chmod(0o500)
        return lambda: directory.chmod(0o700)
    if subprocess.run(["mount", "--bind", str(directory), str(directory)]).returncode:
        pytest.skip("cannot bind-mount here")
    if subprocess.run(["mount", "-o", "remount,bind,ro", str(directory)]).returncode:
        subprocess.run(["umount", str(directory)])
        pytest.skip("cannot remount read-only here")
    return lambda: subprocess.run(["umount", "-l", str(directory)], check=True) and None


def test_store_directory_read_only_mid_run(tmp_path: Path, server: LocalServer, untraced: Outcome) -> None:
    undo: list[Callable[[], None]] = []

    def freeze(case: Case) -> None:
        case.wait_stored(HALF)
        undo.append(_read_only(case.db.parent))

    try:
        traced, case = _session(tmp_path, server, True, fault=freeze)
    finally:
        for step in undo:
            step()
    warning = _check(traced, untraced)
    # NOTE: the connection open before keeps writing; a new one (the run's end) cannot, and
    # that goes to the user cache dir (no room next to the store).
    assert warning is not None and "readonly" in warning
    assert f" {spill.spill_dirs(str(case.db))[1]} " in warning
    assert _count_without_replay(case.db) + _waiting(warning) == N, warning
    assert case.stored() == N
    with Store(str(case.db)) as store:
        assert store.runs()[0].exit_code == 3


# -- the collector, the wrapper and the traced process -----------------------------------------------


def test_collector_socket_removed_mid_run(tmp_path: Path, server: LocalServer, untraced: Outcome) -> None:
    def remove(case: Case) -> None:
        [sock] = tmp_path.glob("stacktap-*/collector.sock")
        sock.unlink()

    # NOTE: the second half comes from a new process: it cannot reach the collector, so it
    # stores its calls itself.
    traced, case = _session(tmp_path, server, True, fault=remove, mode="child")
    assert _check(traced, untraced) is None
    assert case.stored() == N


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_wrapper_killed_mid_run(tmp_path: Path, server: LocalServer, signum: int) -> None:
    def kill(case: Case) -> None:
        case.wait_stored(HALF)
        assert case.proc is not None
        case.proc.send_signal(signum)
        time.sleep(0.2)

    untraced, _ = _session(tmp_path / "untraced", server, False, fault=lambda c: _kill_command(c, signum))
    traced, case = _session(tmp_path / "traced", server, True, fault=kill)
    assert "Traceback" not in traced.stderr and len(traced.stderr.splitlines()) <= 1
    if signum == signal.SIGTERM:
        # NOTE: passed on to the command, which dies of it: its exit code is ours.
        assert (traced.returncode, traced.stdout) == (untraced.returncode, untraced.stdout) == (143, "")
        assert case.stored() == HALF
    else:
        # NOTE: the wrapper is gone (no exit code to keep): the command goes on, its later
        # calls stored by itself.
        assert traced.stdout == untraced.stdout == f"done {N}\n"
        _wait_gone(case)
        assert case.stored() == N


def _kill_command(case: Case, signum: int) -> None:
    if signum == signal.SIGTERM:
        os.kill(case.child_pid(), signum)


def _wait_gone(case: Case) -> None:
    """Until the orphaned command exited (it stores its calls at exit), bounded."""
    deadline = time.monotonic() + 20
    pid = case.child_pid()
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def test_traced_process_killed_mid_body(tmp_path: Path, server: LocalServer) -> None:
    def kill(case: Case) -> None:
        case.wait_stored(HALF)
        os.kill(case.child_pid(), signal.SIGKILL)

    untraced, _ = _session(tmp_path / "untraced", server, False, mode="body", fault=kill_now)
    traced, case = _session(tmp_path / "traced", server, True, mode="body", fault=kill)
    assert untraced.returncode == 137
    assert _check(traced, untraced) is None
    # NOTE: the call whose body was being read dies with the process (never complete).
    assert case.stored() == HALF


def kill_now(case: Case) -> None:
    os.kill(case.child_pid(), signal.SIGKILL)


# -- a traced service ----------------------------------------------------------------------------

SERVICE = """
import signal, sys, threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

import stacktap.store.sqlite as s
s.BUSY_TIMEOUT_MS = 200
from stacktap.agent.server.filter import TraceMiddleware


def app(environ, start_response):
    body = b'{"ok": true}'
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


httpd = make_server("127.0.0.1", 0, TraceMiddleware(app, service="svc", layers=False), handler_class=Quiet)
# NOTE: not sys.exit in the handler: a SIGTERM landing while wsgiref writes a response raises
# SystemExit in its handler, which catches everything and serves on (the stall once seen here).
signal.signal(signal.SIGTERM, lambda *args: threading.Thread(target=httpd.shutdown).start())
print(httpd.server_port, flush=True)
httpd.serve_forever()
sys.exit(0)
"""


def test_service_store_locked_while_serving(tmp_path: Path) -> None:
    import urllib.request

    db = tmp_path / "st.db"
    (tmp_path / "service.py").write_text(SERVICE)
    env = tracing_env(str(db), service="svc")
    proc = subprocess.Popen(
        [sys.executable, str(tmp_path / "service.py")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    url = f"http://127.0.0.1:{proc.stdout.readline().strip()}/x"
    case = Case(tmp=tmp_path, db=db, gate=tmp_path / "gate")
    holder = None
    try:
        for number in range(N):
            if number == HALF:
                case.wait_stored(HALF)
                holder = _lock(db)
            with urllib.request.urlopen(url, timeout=10) as response:
                assert response.status == 200 and response.read() == b'{"ok": true}'
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if holder is not None:
            holder.close()
        if proc.poll() is None:
            proc.kill()
    assert "Traceback" not in stderr and len(stderr.splitlines()) <= 1, stderr
    assert "database is locked" in stderr
    assert case.stored() == N and spill.pending(str(db)) == []
