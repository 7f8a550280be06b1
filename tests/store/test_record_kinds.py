"""RPC and DB records in the store: migration 1 -> 2 (``calls.kind``, ``calls.attributes``)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from stacktap.model import KIND_DB, KIND_HTTP, KIND_RPC_CAST, Body, Call, Run
from stacktap.store import SCHEMA_VERSION, Store
from stacktap.store.schema import MIGRATIONS


def test_a_version_1_store_is_migrated_and_its_calls_stay_http(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    raw = sqlite3.connect(str(db))
    raw.executescript(MIGRATIONS[0])
    raw.execute("INSERT INTO meta (key, value) VALUES ('schema_version', '1')")
    raw.execute("INSERT INTO runs (id, kind, started) VALUES ('r1', 'command', 1.0)")
    raw.execute(
        "INSERT INTO calls (span_id, trace_id, run_id, side, method, url, start)"
        " VALUES ('a' || hex(randomblob(7)), 't' , 'r1', 'client', 'GET', 'http://x/', 1.0)"
    )
    raw.commit()
    raw.close()
    with Store(str(db)) as store:
        assert store.schema_version() == SCHEMA_VERSION >= 2
        (call,) = store.calls("r1")
    assert call.kind == KIND_HTTP
    assert call.attributes == {}


def test_rpc_and_db_records_round_trip(tmp_path: Path) -> None:
    with Store(str(tmp_path / "s.db")) as store:
        store.add_run(Run(id="r1", started=1.0))
        cast = Call(
            run_id="r1",
            method="build_and_run_instance",
            url="rabbit://nova/compute.host1",
            start=1.0,
            kind=KIND_RPC_CAST,
            attributes={"exchange": "nova", "topic": "compute", "server": "host1", "version": "5.0"},
        )
        sql = Call(
            run_id="r1",
            method="SELECT",
            url="sqlite:///nova.db",
            start=2.0,
            trace_id=cast.trace_id,
            parent_span_id=cast.span_id,
            kind=KIND_DB,
            request_body=Body(kind="text", text="SELECT id FROM instances WHERE uuid = ?"),
            attributes={"system": "sqlite", "rowcount": 1},
        )
        store.add_calls([cast, sql])
        got = {c.kind: c for c in store.calls("r1")}
    assert got[KIND_RPC_CAST].attributes["server"] == "host1"
    assert got[KIND_RPC_CAST].url == "rabbit://nova/compute.host1"
    assert got[KIND_DB].parent_span_id == cast.span_id
    assert got[KIND_DB].attributes == {"system": "sqlite", "rowcount": 1}
