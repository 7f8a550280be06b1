"""The SQLAlchemy hook against a real SQLAlchemy engine (SQLite): placeholders, never values."""

from __future__ import annotations

from pathlib import Path

import pytest

sqlalchemy = pytest.importorskip("sqlalchemy")

from stacktap.agent import context  # noqa: E402
from stacktap.agent.api import trace  # noqa: E402
from stacktap.agent.sqlalchemy_hook import patch  # noqa: E402
from stacktap.model import KIND_DB  # noqa: E402
from stacktap.store import Store  # noqa: E402

SECRET = "hunter2-not-in-the-store"


def test_statements_under_a_traced_request_are_recorded_without_their_values(tmp_path: Path) -> None:
    patch(sqlalchemy)
    db = tmp_path / "s.db"
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    with trace(str(db)) as run:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text("CREATE TABLE users (name TEXT, password TEXT)"))
        # NOTE: outside any traced request: not recorded (no STACKTAP_DB_UNTRACED).
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text("INSERT INTO users VALUES ('untraced', 'x')"))
        token = context.set_current_span("ab" * 16, "cd" * 8)
        try:
            with engine.begin() as conn:
                conn.execute(sqlalchemy.text(f"SELECT 1 FROM users WHERE password = '{SECRET}'"))
        finally:
            context.reset_current_span(token)
        token = context.set_current_span("ab" * 16, "cd" * 8)
        try:
            with engine.begin() as conn:
                conn.execute(
                    sqlalchemy.text("INSERT INTO users (name, password) VALUES (:n, :p)"),
                    {"n": "alice", "p": SECRET},
                )
                rows = conn.execute(
                    sqlalchemy.text("SELECT name FROM users WHERE password = :p"), {"p": SECRET}
                )
                assert [r[0] for r in rows] == ["alice"]
        finally:
            context.reset_current_span(token)
    with Store(str(db)) as store:
        calls = [c for c in store.calls(run.id) if c.kind == KIND_DB]
        dump = b"".join(bytes(line, "utf-8") for line in store.raw().iterdump())
    assert [c.method for c in calls] == ["SELECT", "INSERT", "SELECT"]
    assert all(c.trace_id == "ab" * 16 and c.parent_span_id == "cd" * 8 for c in calls)
    assert calls[0].attributes["statement"] == "SELECT 1 FROM users WHERE password = ?"
    calls = calls[1:]
    assert calls[0].attributes["statement"] == "INSERT INTO users (name, password) VALUES (?, ?)"
    assert calls[0].attributes["rowcount"] == 1
    assert calls[0].attributes["system"] == "sqlite"
    assert calls[0].url.startswith("sqlite://") and calls[0].duration is not None
    assert SECRET.encode() not in dump
    assert b"untraced" not in dump


_PROGRAM = """
import sqlalchemy
from stacktap.agent import context

engine = sqlalchemy.create_engine("sqlite://")
with engine.begin() as conn:
    conn.execute(sqlalchemy.text("SELECT 1"))  # outside traced work
context.set_current_span("ef" * 16, "12" * 8)
with engine.begin() as conn:
    conn.execute(sqlalchemy.text("SELECT 2"))
print("ok")
"""


@pytest.mark.parametrize(("untraced", "expected"), [("0", ["SELECT 2"]), ("1", ["SELECT 1", "SELECT 2"])])
def test_the_bootstrap_hooks_sqlalchemy_when_the_program_imports_it(
    tmp_path: Path, untraced: str, expected: list
) -> None:
    from capture_helpers import new_run, run_traced, stored_calls

    db = tmp_path / "s.db"
    run = new_run(db)
    proc = run_traced(_PROGRAM, db, run_id=run.id, extra_env={"STACKTAP_DB_UNTRACED": untraced})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "ok\n" and proc.stderr == ""
    calls = [c for c in stored_calls(db, run.id) if c.kind == KIND_DB]
    assert [c.attributes["statement"] for c in calls] == expected
    assert calls[-1].parent_span_id == "12" * 8
