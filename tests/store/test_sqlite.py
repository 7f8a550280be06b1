"""The SQLite store: creation, permissions, migrations, run lookup, many writers."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from stacktap.model import POLICY_DENIED, Body, Call, CallSite, CatalogEntry, Layer, PolicyCheck, Run
from stacktap.store import SCHEMA_VERSION, Store, StoreError


def _call(run_id: str, start: float, **kw: object) -> Call:
    return Call(run_id=run_id, method="GET", url="http://127.0.0.1:9292/v2/images", start=start, **kw)


def test_store_file_is_private(tmp_path: Path) -> None:
    db = tmp_path / "new" / "dir" / "s.db"
    Store(str(db)).close()
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(db.parent).st_mode) == 0o700


def test_schema_version_recorded_and_newer_store_refused(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with Store(str(db)) as store:
        assert store.schema_version() == SCHEMA_VERSION
    raw = sqlite3.connect(db)
    raw.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="newer than this stacktap"):
        Store(str(db))


def test_missing_store_without_create_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no store at"):
        Store(str(tmp_path / "absent.db"), create=False)


def test_call_round_trip_keeps_every_field(tmp_path: Path) -> None:
    with Store(str(tmp_path / "s.db")) as store:
        run = Run(argv=["openstack", "image", "list"], started=10.0)
        store.add_run(run)
        call = _call(
            run.id,
            11.0,
            side="server",
            status=200,
            reason="OK",
            request_headers=[("User-Agent", "x"), ("X-Auth-Token", "{SHA256}abc")],
            response_body=Body(kind="json", text='{"images": []}', size=14, sha256="00"),
            call_site=CallSite(file="/x/site-packages/a/b.py", line=3, function="f", cls="C"),
            stack=["a.py:1:main"],
            handler="ImagesController.index",
        )
        call.layers = [Layer(span_id=call.span_id, order=0, name="authtoken", answered=True, status=401)]
        assert store.add_calls([call]) == 1
        (back,) = store.calls(run.id)
    assert back.request_headers == call.request_headers
    assert back.response_body == call.response_body
    assert back.call_site == call.call_site
    assert back.call_site is not None and back.call_site.label == "a/b.py:C.f"
    assert back.layers == call.layers
    assert back.handler == "ImagesController.index"
    assert back.seq == 1


def test_policy_checks_round_trip_in_order(tmp_path: Path) -> None:
    with Store(str(tmp_path / "s.db")) as store:
        call = _call("r", 1.0, side="server", status=403)
        call.policy_checks = [
            PolicyCheck(
                span_id=call.span_id,
                order=i,
                rule=rule,
                check="rule:admin_api",
                result=result,
                error="PolicyNotAuthorized" if result == POLICY_DENIED else None,
                creds={"roles": ["member"], "project_id": "p1"},
                offset=0.01 * i,
                duration=0.0002,
                count=i + 1,
            )
            for i, (rule, result) in enumerate(
                [
                    ("os_compute_api:os-flavor-access", "allowed"),
                    ("os_compute_api:os-flavor-manage:create", "denied"),
                ]
            )
        ]
        store.add_calls([call])
        (back,) = store.calls("r")
    assert back.policy_checks == call.policy_checks


def test_a_first_version_store_is_migrated_to_hold_policy_checks(tmp_path: Path) -> None:
    from stacktap.store.schema import MIGRATIONS

    db = tmp_path / "v1.db"
    raw = sqlite3.connect(db)
    raw.executescript(MIGRATIONS[0])
    raw.execute("INSERT INTO meta (key, value) VALUES ('schema_version', '1')")
    raw.commit()
    raw.close()
    with Store(str(db)) as store:
        assert store.schema_version() == SCHEMA_VERSION
        call = _call("r", 1.0)
        call.policy_checks = [PolicyCheck(span_id=call.span_id, order=0, rule="get_images")]
        store.add_calls([call])
        assert [c.rule for c in store.calls("r")[0].policy_checks] == ["get_images"]


def test_same_span_twice_is_stored_once(tmp_path: Path) -> None:
    with Store(str(tmp_path / "s.db")) as store:
        call = _call("r", 1.0)
        assert store.add_calls([call]) == 1
        assert store.add_calls([call]) == 0
        assert len(store.calls("r")) == 1


def test_new_call_count_ignores_layers_and_skipped_calls(tmp_path: Path) -> None:
    """The count is of calls only: layers of a call, or a call already stored, add nothing."""
    with Store(str(tmp_path / "s.db")) as store:
        layered = _call("r", 1.0)
        layered.layers = [Layer(span_id=layered.span_id, order=i, name=f"l{i}") for i in range(3)]
        assert store.add_calls([layered]) == 1
        assert store.add_calls([layered, _call("r", 2.0), _call("r", 3.0)]) == 2


def test_run_lookup_by_last_prefix_and_ambiguity(tmp_path: Path) -> None:
    with Store(str(tmp_path / "s.db")) as store:
        with pytest.raises(StoreError, match="no runs"):
            store.get_run("last")
        store.add_run(Run(id="aaaa11", started=1.0))
        store.add_run(Run(id="aaaa22", started=2.0))
        store.add_run(Run(id="bbbb33", started=3.0, kind="server"))
        assert store.get_run("last").id == "aaaa22"  # server sessions are not "last"
        assert store.get_run("bbb").id == "bbbb33"
        with pytest.raises(StoreError, match="ambiguous"):
            store.get_run("aaaa")
        with pytest.raises(StoreError, match="no run"):
            store.get_run("zzz")


def test_calls_with_traces_include_other_processes_records(tmp_path: Path) -> None:
    with Store(str(tmp_path / "s.db")) as store:
        client = _call("client-run", 1.0)
        server = _call("server-run", 1.1, side="server", trace_id=client.trace_id,
                       parent_span_id=client.span_id)
        unrelated = _call("server-run", 5.0, side="server")
        store.add_calls([client, server, unrelated])
        assert [c.span_id for c in store.calls("client-run")] == [client.span_id, server.span_id]
        assert [c.span_id for c in store.calls("client-run", with_traces=False)] == [client.span_id]


def test_catalog_entries_are_deduplicated(tmp_path: Path) -> None:
    entry = CatalogEntry(service_type="image", service_name="glance", interface="public",
                         region="RegionOne", url="http://127.0.0.1:9292")
    with Store(str(tmp_path / "s.db")) as store:
        store.add_catalog("r", [entry, entry])
        store.add_catalog("r", [entry])
        assert store.catalog("r") == [entry]


def _write_many(db: str, run_id: str, count: int) -> None:
    with Store(db) as store:
        for i in range(count):
            store.add_calls([_call(run_id, float(i))])


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    Store(db).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_many, args=(db, "r", 60)) for _ in range(3)]
    threads = [threading.Thread(target=_write_many, args=(db, "r", 60)) for _ in range(2)]
    for worker in [*procs, *threads]:
        worker.start()
    for worker in [*procs, *threads]:
        worker.join(timeout=120)
    assert all(p.exitcode == 0 for p in procs)
    with Store(db) as store:
        assert len(store.calls("r")) == 5 * 60
