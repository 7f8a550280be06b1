"""The collector of ``stacktap run``: traced processes hand their calls over a Unix socket."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from capture_helpers import PASSWORD, TOKEN, LocalServer, new_run, py38_venv, run_traced, stored_calls

from stacktap.agent import wire
from stacktap.agent.faults import reset_for_tests
from stacktap.launcher import collector as collector_module
from stacktap.launcher.collector import Collector
from stacktap.launcher.env import COLLECTOR_VAR, tracing_env

CALLS = f"""
import os, sys, requests
base, n = sys.argv[1], int(sys.argv[2])
session = requests.Session()
for _ in range(n):
    session.get(base + "/protected", headers={{"X-Auth-Token": "{TOKEN}"}}).json()
pid = os.fork()
if pid == 0:
    requests.get(base + "/json?from=fork").json()
    sys.exit(0)
os.waitpid(pid, 0)
print("done", os.getpid())
"""


def test_calls_reach_the_store_through_the_collector(
    tmp_path: Path, server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(collector_module, "READ_AHEAD", 7)  # NOTE: the reader waits for the store
    db = tmp_path / "st.db"
    run = new_run(db)
    elsewhere = tmp_path / "child-would-write-here.db"
    with Collector(str(db)) as collector:
        # NOTE: the child is pointed at another store: whatever it stored itself lands there.
        env = {COLLECTOR_VAR: collector.address, "STACKTAP_DB": str(elsewhere)}
        proc = run_traced(CALLS, db, run.id, args=(server.url, "25"), extra_env=env)
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert not elsewhere.exists()
    parent_pid = int(proc.stdout.split()[1])
    calls = stored_calls(db, run.id)
    assert len(calls) == 26
    assert {c.pid for c in calls if c.url.endswith("/protected")} == {parent_pid}
    (forked,) = [c for c in calls if c.url.endswith("from=fork")]
    assert forked.pid != parent_pid
    call = calls[0]
    assert call.status == 200 and call.request_id == "req-1234"
    assert call.call_site is not None and call.call_site.file.endswith(".py") and call.call_site.line == 6
    assert call.process_argv and call.process_argv[0].endswith(".py")
    assert dict(call.request_headers)["X-Auth-Token"].startswith("{SHA256}")
    assert len({c.trace_id for c in calls}) == 1
    data = db.read_bytes()
    assert TOKEN.encode() not in data and PASSWORD.encode() not in data
    assert not os.path.exists(collector.address)


def test_a_python38_process_hands_its_calls_over(tmp_path: Path, server: LocalServer) -> None:
    python = py38_venv()
    if python is None:
        pytest.skip("no Python 3.8 venv with requests")
    db = tmp_path / "st.db"
    run = new_run(db)
    elsewhere = tmp_path / "child-would-write-here.db"
    source = """
    import sys, requests
    requests.get(sys.argv[1] + "/json").json()
    requests.get(sys.argv[1] + "/bytes?size=5000", stream=True).raw.read(10)
    """
    with Collector(str(db)) as collector:
        env = {COLLECTOR_VAR: collector.address, "STACKTAP_DB": str(elsewhere)}
        proc = run_traced(source, db, run.id, python=python, args=(server.url,), extra_env=env)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert not elsewhere.exists()
    first, second = stored_calls(db, run.id)
    assert first.response_body.kind == "json" and first.call_site is not None
    assert (first.call_site.function, first.call_site.line) == ("<module>", 3)
    assert second.response_body.kind == "unread" and second.response_body.size == 10


def test_bodies_keep_size_and_hash_past_the_cap(tmp_path: Path, server: LocalServer) -> None:
    db = tmp_path / "st.db"
    run = new_run(db)
    source = """
    import sys, requests
    r = requests.get(sys.argv[1] + "/bytes?size=300000", stream=True)
    for chunk in r.iter_content(65536):
        pass
    requests.post(sys.argv[1] + "/upload", data=iter([b"x" * 70000, b"y" * 70000]))
    """
    env = {COLLECTOR_VAR: "", "STACKTAP_BODY_CAP": "1000"}
    with Collector(str(db)) as collector:
        env[COLLECTOR_VAR] = collector.address
        assert run_traced(source, db, run.id, args=(server.url,), extra_env=env).returncode == 0
    download, upload = sorted(stored_calls(db, run.id), key=lambda c: c.start)
    assert download.response_body.size == 300000 and download.response_body.kind == "stream"
    assert len(download.response_body.sha256 or "") == 64
    assert upload.request_body.size == 140000


def test_a_process_told_bye_stores_its_later_calls_itself(tmp_path: Path, server: LocalServer) -> None:
    db = tmp_path / "st.db"
    run = new_run(db)
    source = textwrap.dedent(
        """
        import sys, requests
        from stacktap.agent.recorder import get_recorder
        requests.get(sys.argv[1] + "/json?n=1").json()
        get_recorder().flush()
        print("sent", flush=True)
        sys.stdin.readline()
        requests.get(sys.argv[1] + "/json?n=2").json()
        """
    )
    collector = Collector(str(db))
    env = tracing_env(str(db), run_id=run.id, collector=collector.address)
    child = subprocess.Popen(
        [sys.executable, "-c", source, server.url],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline() == "sent\n"
        collector.close(bye_timeout=1.0)  # NOTE: the process outlives the command
        child.stdin.write("go\n")
        child.stdin.close()
        assert child.wait(60) == 0
    finally:
        child.kill()
    assert child.stderr is not None and child.stderr.read() == ""
    assert sorted(c.url.rsplit("=", 1)[1] for c in stored_calls(db, run.id)) == ["1", "2"]


def test_without_a_listening_collector_the_process_stores_itself(tmp_path: Path, server: LocalServer) -> None:
    db = tmp_path / "st.db"
    run = new_run(db)
    env = {COLLECTOR_VAR: str(tmp_path / "nobody-listens.sock")}
    proc = run_traced(CALLS, db, run.id, args=(server.url, "3"), extra_env=env)
    assert proc.returncode == 0 and proc.stderr == ""
    assert len(stored_calls(db, run.id)) == 4


def test_trace_block_inside_a_collected_process_stores_its_own_run(
    tmp_path: Path, server: LocalServer
) -> None:
    db = tmp_path / "st.db"
    run = new_run(db)
    source = """
    import sys, requests, stacktap
    from stacktap.store import Store
    with stacktap.trace(db=sys.argv[2]) as block:
        requests.get(sys.argv[1] + "/json").json()
    with Store(sys.argv[2]) as store:
        print(len(store.calls(block.id, with_traces=False)))
    """
    with Collector(str(db)) as collector:
        env = {COLLECTOR_VAR: collector.address}
        proc = run_traced(source, db, run.id, args=(server.url, str(db)), extra_env=env)
    assert proc.stdout.strip() == "1", proc.stderr


def test_a_broken_stream_costs_one_warning_and_no_crash(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "st.db"
    run = new_run(db)
    reset_for_tests()
    with Collector(str(db)) as collector:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(collector.address)
            sock.sendall(wire.hello(1234, ["prog"], run.id, None, 1024) + b"\x00\x00\x00\x05junk!")
        # NOTE: a cut frame at the end (a process killed mid-send) is dropped silently.
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(collector.address)
            sock.sendall(wire.hello(1235, ["prog"], run.id, None, 1024) + b"\x00\x00\x10\x00cut")
    assert stored_calls(db, run.id) == []
    err = capfd.readouterr().err
    assert err.count("stacktap: warning: lost the records of a traced process: ValueError") == 1
