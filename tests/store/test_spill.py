"""Spill files: what a store could not take, on disk (0600 in 0700), written back once."""

from __future__ import annotations

import fcntl
import os
import stat
from pathlib import Path

import pytest

from stacktap.model import Call, PolicyCheck, Run
from stacktap.store import Store, StoreError, spill
from stacktap.store.sqlite import calls_entries, finish_entry, run_entry


def _batch(run: Run, count: int) -> list[dict]:
    calls = [
        Call(run_id=run.id, method="GET", url=f"http://127.0.0.1/{i}", start=float(i)) for i in range(count)
    ]
    return [run_entry(run), *calls_entries(calls), finish_entry(run.id, 4, 9.0)]


def test_a_spill_is_private_and_written_back_once_by_the_next_open(tmp_path: Path) -> None:
    db = str(tmp_path / "st.db")
    run = Run(kind="command", started=1.0)
    batch = _batch(run, 3)
    where = spill.write_spill(db, [batch])
    assert where == db + ".spill"
    [path] = spill.pending(db)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and stat.S_IMODE(os.stat(where).st_mode) == 0o700
    with Store(db) as store:
        assert len(store.calls(run.id)) == 3 and store.get_run(run.id).exit_code == 4
    assert spill.pending(db) == []
    spill.write_spill(db, [batch])  # NOTE: the same rows again store nothing twice
    with Store(db) as store:
        assert len(store.calls(run.id)) == 3


def test_without_room_next_to_the_store_the_cache_dir_takes_it(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    db = str(tmp_path / "file" / "st.db")
    where = spill.write_spill(db, [_batch(Run(kind="command", started=1.0), 1)])
    assert where == spill.spill_dirs(db)[1] and where.startswith(os.environ["XDG_CACHE_HOME"])
    assert len(spill.pending(db)) == 1


def test_a_file_being_replayed_elsewhere_is_left_alone(tmp_path: Path) -> None:
    db = str(tmp_path / "st.db")
    Store(db).close()
    spill.write_spill(db, [_batch(Run(kind="command", started=1.0), 2)])
    [path] = spill.pending(db)
    with open(path) as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        with Store(db) as store:
            assert store.raw().execute("SELECT COUNT(*) FROM calls").fetchone()[0] == 0
        assert spill.pending(db) == [path]
    with Store(db) as store:
        assert store.raw().execute("SELECT COUNT(*) FROM calls").fetchone()[0] == 2


def test_only_known_tables_and_columns_are_written(tmp_path: Path) -> None:
    with Store(str(tmp_path / "st.db")) as store:
        with pytest.raises(StoreError, match="unknown table"):
            store.write_entries([{"table": "sqlite_master", "columns": ["name"], "rows": [["x"]]}])
        run = Run(kind="command", started=1.0)
        entry = run_entry(run)
        entry["columns"].append("from_a_newer_stacktap")
        entry["rows"][0].append("ignored")
        store.write_entries([entry])
        assert store.get_run(run.id).kind == "command"


def test_a_store_replaced_or_deleted_under_an_open_store_is_followed(tmp_path: Path) -> None:
    db = tmp_path / "st.db"
    run = Run(kind="command", started=1.0)
    with Store(str(db)) as store:
        store.add_run(run)
        store.add_calls([Call(run_id=run.id, method="GET", url="http://x/1", start=1.0)])
        Store(str(tmp_path / "other.db")).close()
        os.replace(tmp_path / "other.db", db)
        store.add_calls([Call(run_id=run.id, method="GET", url="http://x/2", start=2.0)])
        assert store.reopened == 1
        db.unlink()
        store.add_calls([Call(run_id=run.id, method="GET", url="http://x/3", start=3.0)])
        assert store.reopened == 2
    with Store(str(db)) as check:
        assert [c.url for c in check.calls(run.id)] == ["http://x/3"]


def test_policy_checks_survive_a_spill(tmp_path: Path) -> None:
    db = str(tmp_path / "st.db")
    run = Run(kind="server", started=1.0)
    call = Call(run_id=run.id, method="GET", url="http://127.0.0.1/v2/images", start=1.0, side="server")
    call.policy_checks = [
        PolicyCheck(span_id=call.span_id, order=0, rule="get_images", check="role:reader", count=3)
    ]
    spill.write_spill(db, [[run_entry(run), *calls_entries([call])]])
    with Store(db) as store:
        [stored] = store.calls(run.id)
    kept = [(pc.rule, pc.check, pc.count) for pc in stored.policy_checks]
    assert kept == [("get_images", "role:reader", 3)]
