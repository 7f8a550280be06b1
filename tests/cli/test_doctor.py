"""``stacktap doctor``: one line per finding, exit 1 when something is wrong, ``--repair``."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from stacktap.model import Call, Run
from stacktap.store import Store, spill
from stacktap.store.sqlite import calls_entries, run_entry

STACKTAP_CLI = [sys.executable, "-c", "from stacktap.cli.main import main; main()"]


def doctor(db: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*STACKTAP_CLI, "doctor", "--db", str(db), "--python", sys.executable, *extra],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def _store(db: Path, calls: int = 3) -> Run:
    run = Run(kind="command", started=1.0)
    with Store(str(db)) as store:
        store.add_run(run)
        store.add_calls(
            Call(run_id=run.id, method="GET", url=f"http://127.0.0.1/{i}", start=float(i), stack=["x" * 200])
            for i in range(calls)
        )
    return run


def _calls(db: Path) -> int:
    with Store(str(db), replay=False) as store:
        return int(store.raw().execute("SELECT COUNT(*) FROM calls").fetchone()[0])


def test_a_healthy_store_is_all_ok(tmp_path: Path) -> None:
    db = tmp_path / "d" / "st.db"
    _store(db)
    result = doctor(db)
    assert result.returncode == 0, result.stdout
    lines = result.stdout.splitlines()
    assert all(line.startswith("ok: ") for line in lines), lines
    assert "ok: integrity: ok" in lines and "ok: no spill files waiting" in lines
    assert (
        f"ok: {sys.executable} (Python {sys.version_info[0]}.{sys.version_info[1]}) loads the bootstrap"
        in lines
    )
    assert result.stderr == ""


def test_pending_spills_are_an_error_until_repair_writes_them(tmp_path: Path) -> None:
    db = tmp_path / "d" / "st.db"
    run = _store(db, calls=0)
    spilled = [Call(run_id=run.id, method="GET", url="http://127.0.0.1/late", start=2.0)]
    where = spill.write_spill(str(db), [[run_entry(run), *calls_entries(spilled)]])
    result = doctor(db)
    assert result.returncode == 1
    assert f"error: 1 spill file with 1 call wait in {where} (stacktap doctor --repair writes them)" in (
        result.stdout.splitlines()
    )
    assert _calls(db) == 0
    repaired = doctor(db, "--repair")
    assert repaired.returncode == 0, repaired.stdout
    assert f"ok: wrote 1 spill file (1 calls) into {db}" in repaired.stdout.splitlines()
    assert _calls(db) == 1 and spill.pending(str(db)) == []


def test_loose_permissions_are_reported_and_repaired(tmp_path: Path) -> None:
    db = tmp_path / "d" / "st.db"
    _store(db)
    db.chmod(0o644)
    result = doctor(db)
    assert result.returncode == 1
    assert f"error: {db} is mode 0644: others can read it (chmod 600 {db})" in result.stdout.splitlines()
    assert doctor(db, "--repair").returncode == 0
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


@pytest.mark.parametrize("shell", [True, False], ids=["sqlite3-shell", "python-copy"])
def test_a_damaged_store_is_recovered_and_the_original_kept(tmp_path: Path, shell: bool) -> None:
    if shell and not shutil.which("sqlite3"):
        pytest.skip("no sqlite3 shell")
    # NOTE: without the shell on PATH, a copy in Python does it.
    env = None if shell else dict(os.environ, PATH=os.path.dirname(sys.executable))
    db = tmp_path / "d" / "st.db"
    _store(db, calls=300)
    with Store(str(db)) as store:
        store.raw().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(db.read_bytes())
    page = 4096
    assert len(data) > 20 * page
    for number in range(10, 14):  # NOTE: pages in the middle of the calls table
        data[number * page : (number + 1) * page] = b"\xa5" * page
    db.write_bytes(bytes(data))
    result = doctor(db)
    assert result.returncode == 1
    assert any(line.startswith("error: integrity: ") for line in result.stdout.splitlines()), result.stdout
    repaired = doctor(db, "--repair", env=env)
    assert "Traceback" not in repaired.stderr
    recovered = [line for line in repaired.stdout.splitlines() if line.startswith("ok: recovered ")]
    assert len(recovered) == 1, repaired.stdout
    assert list(db.parent.glob("st.db.damaged-*"))
    assert "ok: integrity: ok" in repaired.stdout.splitlines() and repaired.returncode == 0, repaired.stdout
    assert ("sqlite3 ." in recovered[0]) == shell
    assert 0 < _calls(db) <= 300  # NOTE: what damaged table pages held is gone


def test_a_python_that_cannot_run_and_an_unwritable_socket_dir(tmp_path: Path) -> None:
    db = tmp_path / "st.db"
    env = dict(os.environ, TMPDIR=str(tmp_path / "no-such-dir"))
    result = doctor(db, "--python", str(tmp_path / "no-python"), env=env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith(f"error: cannot run {tmp_path / 'no-python'}: ") for line in lines), lines
    assert any(
        line.startswith(f"warning: collector socket dir {tmp_path / 'no-such-dir'} is not writable")
        for line in lines
    ), lines


def test_repair_changes_no_directory_and_creates_no_store(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o1777)
    result = doctor(shared / "st.db", "--repair")
    assert result.returncode == 0 and not (shared / "st.db").exists()
    db = shared / "st.db"
    _store(db)
    db.chmod(0o644)
    result = doctor(db, "--repair")
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777 and stat.S_IMODE(db.stat().st_mode) == 0o600
    assert f"warning: directory {shared} is mode 1777: others can list it" in result.stdout
    assert doctor(shared, "--repair").stdout.splitlines()[0] == (
        f"error: {shared} is a directory, not a store (--db takes the store file)"
    )
