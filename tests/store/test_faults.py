"""Store faults: a locked store never stops or changes the traced command (issue #13)."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stacktap.store import Store
from stacktap.store import sqlite as store_sqlite


def _traced(db: Path, script: str, busy_timeout_ms: int | None = None) -> subprocess.CompletedProcess[str]:
    """``stacktap run --db DB -- python -c SCRIPT``, optionally with a shorter busy timeout (fast tests)."""
    code = "from stacktap.cli.main import main; main()"
    if busy_timeout_ms is not None:
        code = f"import stacktap.store.sqlite as s; s.BUSY_TIMEOUT_MS = {busy_timeout_ms}; " + code
    return subprocess.run(
        [sys.executable, "-c", code, "run", "--db", str(db), "--", sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_write_failure_is_not_hidden_by_rollback(tmp_path: Path) -> None:
    with Store(str(tmp_path / "st.db")) as store:
        with pytest.raises(sqlite3.Error) as info:
            store._write([("INSERT INTO no_such_table VALUES (?)", [(1,)])])
        assert "no transaction is active" not in str(info.value)
        assert not store.raw().in_transaction


def test_locked_store_runs_the_command_with_one_warning(tmp_path: Path) -> None:
    db = tmp_path / "st.db"
    Store(str(db)).close()
    holder = sqlite3.connect(str(db), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        traced = _traced(db, "import sys; print('hi'); sys.exit(3)", busy_timeout_ms=200)
    finally:
        holder.rollback()
        holder.close()
    assert traced.returncode == 3 and traced.stdout == "hi\n"
    assert "Traceback" not in traced.stderr
    assert len(traced.stderr.splitlines()) <= 1
    assert store_sqlite.BUSY_TIMEOUT_MS > 200


def test_store_locked_at_the_end_keeps_the_exit_code(tmp_path: Path) -> None:
    db = tmp_path / "st.db"
    holder = (
        f"import sqlite3, time; h = sqlite3.connect({str(db)!r}, isolation_level=None);"
        " h.execute('BEGIN EXCLUSIVE'); print('L', flush=True); time.sleep(1.5)"
    )
    child = (
        f"import subprocess, sys; subprocess.Popen([sys.executable, '-c', {holder!r}],"
        " stdout=subprocess.PIPE).stdout.readline(); print('hi'); sys.exit(5)"
    )
    traced = _traced(db, child, busy_timeout_ms=200)
    assert traced.returncode == 5 and traced.stdout == "hi\n"
    assert "Traceback" not in traced.stderr
    [line] = traced.stderr.splitlines()
    assert line.startswith("stacktap: warning: run ") and "database is locked" in line
    assert line.endswith(f"kept in {db}.spill (the next stacktap command that opens the store writes it)")


def test_full_disk_at_the_start_runs_the_command_with_one_warning(small_tmpfs: Path) -> None:
    mnt = small_tmpfs
    db = mnt / "st.db"
    Store(str(db)).close()
    with contextlib.suppress(OSError), open(mnt / "fill", "wb") as fill:
        while True:
            fill.write(b"x" * 4096)
            fill.flush()
    traced = _traced(db, "import sys; print('hi'); sys.exit(4)")
    assert traced.returncode == 4 and traced.stdout == "hi\n"
    assert "Traceback" not in traced.stderr
    [line] = traced.stderr.splitlines()
    assert line.startswith("stacktap: warning: run ") and "full" in line


def test_full_disk_mid_run_keeps_the_exit_code(small_tmpfs: Path) -> None:
    mnt = small_tmpfs
    fill = (
        "import contextlib, sys\n"
        "with contextlib.suppress(OSError), open({!r}, 'wb') as f:\n"
        "    while True:\n"
        "        f.write(b'x' * 4096); f.flush()\n"
        "print('hi'); sys.exit(6)\n"
    ).format(str(mnt / "fill"))
    traced = _traced(mnt / "st.db", fill)
    assert traced.returncode == 6 and traced.stdout == "hi\n"
    assert "Traceback" not in traced.stderr
    assert len(traced.stderr.splitlines()) <= 1


def test_a_locked_store_does_not_delay_the_command_start(tmp_path: Path) -> None:
    """With the real 10 s busy timeout: the command starts at once, the run row comes later."""
    db = tmp_path / "st.db"
    Store(str(db)).close()
    holder = sqlite3.connect(str(db), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    code = "from stacktap.cli.main import main; main()"
    started = time.time()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            code,
            "run",
            "--db",
            str(db),
            "--",
            sys.executable,
            "-c",
            "import time; print(time.time(), flush=True)",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        child_started = float(proc.stdout.readline())
    finally:
        holder.rollback()
        holder.close()
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "Traceback" not in stderr
    assert child_started - started < 3.0  # NOTE: it waited the busy timeout (10 s) before
    with Store(str(db)) as store:
        [run] = store.runs()
        assert run.exit_code == 0
