from __future__ import annotations

import os
from pathlib import Path

import pytest
from capture_helpers import PASSWORD, TOKEN, LocalServer, new_run, run_traced, stored_calls

from stacktap.agent.recorder import Recorder
from stacktap.model import SERVER, Call
from stacktap.store import Store, spill


@pytest.fixture()
def recorder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Recorder:
    for var in ("STACKTAP_RUN_ID", "STACKTAP_TRACE_ID", "STACKTAP_SERVICE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("STACKTAP_DB", str(tmp_path / "st.db"))
    monkeypatch.setenv("STACKTAP_SERVICE", "glance-api")
    return Recorder()


def test_submitted_server_call_gets_a_lazy_server_run_and_is_redacted(
    recorder: Recorder, tmp_path: Path
) -> None:
    seen: list[list[Call]] = []
    recorder.add_sink(seen.append)
    call = Call(
        run_id="",
        method="POST",
        url="http://127.0.0.1:9292/v2/images",
        start=1.0,
        side=SERVER,
        status=201,
        request_headers=[("X-Auth-Token", TOKEN), ("Content-Type", "application/json")],
        response_headers=[("Content-Type", "application/json"), ("x-openstack-request-id", "req-9")],
    )
    recorder.submit(call, b'{"name": "cirros", "password": "%s"}' % PASSWORD.encode(), b'{"id": "x"}')
    assert recorder.flush(10)
    with Store(str(tmp_path / "st.db")) as store:
        [run] = store.runs()
        [stored] = store.calls(run.id)
    assert run.kind == "server" and run.label == "glance-api"
    assert stored.run_id == run.id and stored.local_service == "glance-api" and stored.request_id == "req-9"
    assert stored.request_body.kind == "json" and PASSWORD not in (stored.request_body.text or "")
    assert stored.response_body.text == '{"id": "x"}'
    assert TOKEN.encode() not in (tmp_path / "st.db").read_bytes()
    assert len(seen) == 1 and seen[0][0].span_id == call.span_id
    assert seen[0][0].request_headers[0][1].startswith("{SHA256}")


def test_unwritable_store_warns_once_and_never_raises(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from stacktap.agent import faults as warn

    warn.reset_for_tests()
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")  # NOTE: a store under a plain file cannot be created, even by root
    recorder = Recorder()
    recorder.configure(db=str(not_a_dir / "st.db"), run_id="r1", enabled=True)
    for _ in range(3):
        recorder.submit(Call(run_id="", method="GET", url="http://x/", start=1.0))
    assert recorder.flush(10)
    recorder._at_exit()  # NOTE: a program says it at exit, with the count
    err = capfd.readouterr().err
    assert err.count("stacktap: warning:") == 1 and "cannot record calls" in err
    [where] = spill.spill_dirs(str(not_a_dir / "st.db"))[1:]
    assert f"3 calls wait in {where} " in err
    [path] = spill.pending(str(not_a_dir / "st.db"))
    assert os.stat(path).st_mode & 0o777 == 0o600 and os.stat(where).st_mode & 0o777 == 0o700
    assert spill.count_calls(spill.read_spill(path)) == 3


def test_traced_program_with_unwritable_store_works_with_one_warning(
    tmp_path: Path, server: LocalServer
) -> None:
    db = tmp_path / "st.db"
    run = new_run(db)
    (tmp_path / "file").write_text("")
    proc = run_traced(
        """
        import requests, sys
        for _ in range(3):
            print(requests.get(sys.argv[1] + "/json").status_code)
        """,
        db,
        run.id,
        args=(server.url,),
        extra_env={"STACKTAP_DB": str(tmp_path / "file" / "x.db")},
    )
    assert proc.returncode == 0 and proc.stdout == "200\n200\n200\n"
    assert proc.stderr.count("stacktap: warning:") == 1 and proc.stderr.count("\n") == 1


def test_busy_store_does_not_break_the_program(tmp_path: Path, server: LocalServer) -> None:
    db = tmp_path / "st.db"
    run = new_run(db)
    with Store(str(db)) as store:
        store.raw().execute("BEGIN EXCLUSIVE")
        proc = run_traced(
            "import requests, sys; print(requests.get(sys.argv[1] + '/json').status_code)",
            db,
            run.id,
            args=(server.url,),
            extra_env={"STACKTAP_TEST_BUSY": "1"},
            timeout=60,
        )
        store.raw().execute("ROLLBACK")
    assert proc.returncode == 0 and proc.stdout == "200\n"
    assert proc.stderr.count("stacktap: warning:") == 1, proc.stderr
    assert f"1 call wait in {db}.spill " in proc.stderr
    # NOTE: the next open of the store writes the spilled call.
    assert len(stored_calls(db, run.id)) == 1 and spill.pending(str(db)) == []


def _secret_call() -> Call:
    return Call(
        run_id="",
        method="GET",
        url="http://127.0.0.1:9292/v2/images",
        start=1.0,
        request_headers=[("X-Auth-Token", TOKEN)],
    )


def test_sinks_get_calls_when_the_store_cannot_be_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """Live export must not depend on the store: an unopenable store still feeds the sinks,
    redacted, under one server run id that stays the same from batch to batch."""
    from stacktap.agent import faults as warn

    warn.reset_for_tests()
    for var in ("STACKTAP_RUN_ID", "STACKTAP_TRACE_ID"):
        monkeypatch.delenv(var, raising=False)
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    monkeypatch.setenv("STACKTAP_DB", str(not_a_dir / "st.db"))
    monkeypatch.setenv("STACKTAP_SERVICE", "glance-api")
    recorder = Recorder()
    seen: list[list[Call]] = []
    recorder.add_sink(seen.append)
    recorder.submit(_secret_call())
    assert recorder.flush(10)
    recorder.submit(_secret_call())
    assert recorder.flush(10)
    calls = [call for batch in seen for call in batch]
    assert len(calls) == 2
    assert all(c.request_headers[0][1].startswith("{SHA256}") for c in calls)
    assert calls[0].run_id and calls[0].run_id == calls[1].run_id
    assert calls[0].local_service == "glance-api"
    assert capfd.readouterr().err.count("stacktap: warning:") == 1


def test_sinks_get_calls_when_the_store_write_fails(
    recorder: Recorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """A store that opens but fails on write (busy, disk full) still lets the sinks see the
    batch; the run and calls that could not be stored wait in a spill file until it works."""
    from stacktap.agent import faults as warn
    from stacktap.store import StoreError

    warn.reset_for_tests()
    seen: list[list[Call]] = []
    recorder.add_sink(seen.append)

    def failing(self: Store, *args: object) -> None:
        raise StoreError("database is locked")

    # NOTE: patched on the class: the writer thread opens (and alone may use) the connection.
    with monkeypatch.context() as patch:
        patch.setattr(Store, "write_entries", failing)
        recorder.submit(_secret_call())
        assert recorder.flush(10)
    assert len(seen) == 1 and seen[0][0].request_headers[0][1].startswith("{SHA256}")
    assert "cannot write to the store" in capfd.readouterr().err
    with Store(str(tmp_path / "st.db"), replay=False) as check:
        assert check.runs() == []
    [path] = spill.pending(str(tmp_path / "st.db"))
    assert TOKEN.encode() not in Path(path).read_bytes()
    recorder._retry_at = 0.0  # NOTE: the store works again (without waiting RETRY_INTERVAL)
    recorder.submit(_secret_call())
    assert recorder.flush(10)
    assert len(seen) == 2
    assert spill.pending(str(tmp_path / "st.db")) == []  # NOTE: written back once it works
    with Store(str(tmp_path / "st.db")) as check:
        [run] = check.runs()
        stored = check.calls(run.id)
    assert run.id == seen[0][0].run_id == seen[1][0].run_id
    assert sorted(c.span_id for c in stored) == sorted([seen[0][0].span_id, seen[1][0].span_id])
