from __future__ import annotations

import hashlib
import json
from pathlib import Path

from capture_helpers import (
    PASSWORD,
    TOKEN,
    LocalServer,
    free_port,
    new_run,
    pattern,
    run_traced,
    stored_calls,
)

from stacktap.model import BODY_JSON, BODY_NONE, BODY_STREAM, BODY_UNREAD
from stacktap.redact import mark
from stacktap.redact_marks import keyed_digest


def test_json_call_recorded_with_its_facts(tmp_path: Path, server: LocalServer) -> None:
    db = tmp_path / "st.db"
    run = new_run(db)
    proc = run_traced(
        f"""
        import requests, sys
        def list_things():
            return requests.get(sys.argv[1] + "/json", headers={{"X-Auth-Token": "{TOKEN}",
                                "openstack-request-id": "req-global"}}).json()
        print(list_things()["hello"])
        """,
        db,
        run.id,
        args=(server.url,),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "world\n"
    assert proc.stderr == ""
    [call] = stored_calls(db, run.id)
    assert (call.method, call.url, call.status, call.reason) == ("GET", server.url + "/json", 200, "OK")
    assert call.request_id == "req-1234"
    assert call.global_request_id == "req-global"
    assert call.call_site is not None and call.call_site.function == "list_things"
    assert call.call_site.file.endswith(".py") and call.call_site.line == 4
    assert call.stack and call.stack[0].endswith(":<module>")
    assert call.time_to_headers is not None and call.duration is not None
    assert 0 < call.time_to_headers <= call.duration
    assert call.response_body.kind == BODY_JSON
    assert json.loads(call.response_body.text or "")["hello"] == "world"
    assert call.response_body.size == len(json.dumps({"hello": "world", "password": PASSWORD}))
    assert call.pid > 0 and call.process_name and call.thread == "MainThread"
    assert call.header("x-openstack-request-id") == "req-1234"
    # Secrets are redacted before they reach the store.
    assert TOKEN.encode() not in db.read_bytes() and PASSWORD.encode() not in db.read_bytes()
    assert (call.header("x-auth-token", response=False) or "").startswith("{SHA256}")


def test_traceparent_carries_the_call_span(tmp_path: Path, server: LocalServer) -> None:
    db = tmp_path / "st.db"
    run = new_run(db)
    proc = run_traced(
        "import requests, sys; print(requests.get(sys.argv[1] + '/headers').json().get('traceparent'))",
        db,
        run.id,
        args=(server.url,),
    )
    [call] = stored_calls(db, run.id)
    assert proc.stdout.strip() == f"00-{call.trace_id}-{call.span_id}-01"


def test_no_propagate_sends_no_traceparent(tmp_path: Path, server: LocalServer) -> None:
    db = tmp_path / "st.db"
    run = new_run(db)
    proc = run_traced(
        "import requests, sys; print(requests.get(sys.argv[1] + '/headers').json().get('traceparent'))",
        db,
        run.id,
        args=(server.url,),
        extra_env={"STACKTAP_PROPAGATE": "0"},
    )
    assert proc.stdout.strip() == "None"
    assert len(stored_calls(db, run.id)) == 1


def test_chunked_response_and_no_body_responses(tmp_path: Path, server: LocalServer) -> None:
    db = tmp_path / "st.db"
    run = new_run(db)
    proc = run_traced(
        """
        import requests, sys
        print(requests.get(sys.argv[1] + "/chunked").json())
        head, empty = requests.head(sys.argv[1] + "/json"), requests.get(sys.argv[1] + "/empty")
        print(head.status_code, empty.status_code)
        """,
        db,
        run.id,
        args=(server.url,),
    )
    assert proc.stdout == "{'parts': [1, 2, 3]}\n200 204\n", proc.stderr
    chunked, head, empty = stored_calls(db, run.id)
    assert chunked.response_body.kind == BODY_JSON and chunked.response_body.text == '{"parts": [1, 2, 3]}'
    assert chunked.response_body.size == 20
    assert head.method == "HEAD" and head.response_body.kind == BODY_NONE
    assert empty.status == 204 and empty.response_body.kind == BODY_NONE


def test_streamed_download_is_teed_not_preread(tmp_path: Path, server: LocalServer) -> None:
    db = tmp_path / "st.db"
    run = new_run(db)
    size = 5 * 1024 * 1024 + 17
    proc = run_traced(
        """
        import hashlib, requests, sys
        r = requests.get(sys.argv[1] + "/bytes?size={size}", stream=True)
        digest = hashlib.sha256()
        for chunk in r.iter_content(65536):
            digest.update(chunk)
        print(digest.hexdigest())
        """.replace("{size}", str(size)),
        db,
        run.id,
        args=(server.url,),
    )
    expected = hashlib.sha256(pattern(size)).hexdigest()
    assert proc.stdout.strip() == expected, proc.stderr
    [call] = stored_calls(db, run.id)
    assert call.response_body.kind == BODY_STREAM
    assert call.response_body.size == size and call.response_body.sha256 == keyed_digest(pattern(size))
    assert call.response_body.text is None


def test_body_never_finished_is_stored_unread_at_exit(tmp_path: Path, server: LocalServer) -> None:
    db = tmp_path / "st.db"
    run = new_run(db)
    proc = run_traced(
        """
        import requests, sys
        r = requests.get(sys.argv[1] + "/bytes?size=3000000", stream=True)
        first = r.raw.read(1000)
        KEEP = r  # still referenced at exit
        print(len(first))
        """,
        db,
        run.id,
        args=(server.url,),
    )
    assert proc.stdout.strip() == "1000", proc.stderr
    [call] = stored_calls(db, run.id)
    assert call.response_body.kind == BODY_UNREAD
    assert call.response_body.size == 1000
    assert call.response_body.sha256 == keyed_digest(pattern(1000))


def test_streamed_uploads_are_measured_as_they_go(tmp_path: Path, server: LocalServer) -> None:
    db = tmp_path / "st.db"
    run = new_run(db)
    size = 3 * 1024 * 1024 + 5
    data_file = tmp_path / "upload.bin"
    data_file.write_bytes(pattern(size))
    proc = run_traced(
        f"""
        import requests, sys
        with open(sys.argv[2], "rb") as f:
            print(requests.post(sys.argv[1] + "/upload", data=f).json())
            print(f.tell())
        def gen():
            yield b"abc"
            yield b"defg"
        print(requests.post(sys.argv[1] + "/upload", data=gen()).json())
        print(requests.post(sys.argv[1] + "/upload", json={{"password": "{PASSWORD}"}}).json()["size"])
        """,
        db,
        run.id,
        args=(server.url, str(data_file)),
    )
    expected = hashlib.sha256(pattern(size)).hexdigest()
    lines = proc.stdout.splitlines()
    assert lines[0] == str({"size": size, "sha256": expected}), proc.stderr
    assert lines[1] == str(size)
    assert lines[2] == str({"size": 7, "sha256": hashlib.sha256(b"abcdefg").hexdigest()})
    file_call, gen_call, json_call = stored_calls(db, run.id)
    assert file_call.request_body.kind == BODY_STREAM
    assert (file_call.request_body.size, file_call.request_body.sha256) == (size, keyed_digest(pattern(size)))
    assert gen_call.request_body.size == 7
    assert json_call.request_body.kind == BODY_JSON and PASSWORD not in (json_call.request_body.text or "")


def test_401_then_reauth_then_retry_are_three_calls_named_from_catalog(
    tmp_path: Path, server: LocalServer
) -> None:
    db = tmp_path / "st.db"
    run = new_run(db)
    proc = run_traced(
        f"""
        import requests, sys
        base = sys.argv[1]
        s = requests.Session()
        r = s.get(base + "/image/protected", headers={{"X-Auth-Token": "stale"}})
        if r.status_code == 401:
            t = s.post(base + "/v3/auth/tokens", json={{"auth": {{"identity": {{"password": {{"user": {{
                "name": "admin", "password": "{PASSWORD}"}}}}}}}}}})
            r = s.get(base + "/image/protected", headers={{"X-Auth-Token": t.headers["X-Subject-Token"]}})
        print(r.status_code)
        """,
        db,
        run.id,
        args=(server.url,),
    )
    assert proc.stdout.strip() == "200", proc.stderr
    calls = stored_calls(db, run.id)
    assert [c.status for c in calls] == [401, 201, 200]
    with_store = db.read_bytes()
    assert PASSWORD.encode() not in with_store and TOKEN.encode() not in with_store
    from stacktap.store import Store

    with Store(str(db)) as store:
        catalog = store.catalog(run.id)
    assert {e.service_name for e in catalog} == {"glance", "keystone"}
    assert calls[1].peer.service_name == "keystone"
    assert calls[2].peer.service_name == "glance"  # named at write time from the catalog
    assert calls[0].peer.service_name is None  # before the catalog: the read side names it


def test_connection_refused_is_a_failed_call_and_the_same_exception(tmp_path: Path) -> None:
    db = tmp_path / "st.db"
    run = new_run(db)
    port = free_port()
    proc = run_traced(
        """
        import requests, sys
        try:
            requests.get("http://127.0.0.1:{port}/x")
        except requests.exceptions.ConnectionError as exc:
            print(type(exc).__name__)
        """.replace("{port}", str(port)),
        db,
        run.id,
    )
    assert proc.stdout.strip() == "ConnectionError", proc.stderr
    [call] = stored_calls(db, run.id)
    assert call.failed and call.error_type == "requests.exceptions.ConnectionError"
    assert call.status is None and call.error_message


def test_timeout_is_a_failed_call(tmp_path: Path, server: LocalServer) -> None:
    db = tmp_path / "st.db"
    run = new_run(db)
    proc = run_traced(
        """
        import requests, sys
        try:
            requests.get(sys.argv[1] + "/slow?s=2", timeout=0.3)
        except requests.exceptions.ReadTimeout:
            print("timeout")
        """,
        db,
        run.id,
        args=(server.url,),
    )
    assert proc.stdout.strip() == "timeout", proc.stderr
    [call] = stored_calls(db, run.id)
    assert call.error_type == "requests.exceptions.ReadTimeout"
    assert call.duration is not None and 0.25 < call.duration < 2


def test_bytes_headers_are_redacted_and_stored_as_text(tmp_path: Path, server: LocalServer) -> None:
    """requests accepts bytes header names and values: they are recognized (and stored) as the
    text they are on the wire, so a bytes ``X-Auth-Token`` is marked like a str one."""
    db = tmp_path / "st.db"
    run = new_run(db)
    proc = run_traced(
        f"""
        import requests, sys
        r = requests.get(sys.argv[1] + "/protected", headers={{b"X-Auth-Token": b"{TOKEN}"}})
        print(r.status_code)
        """,
        db,
        run.id,
        args=(server.url,),
    )
    assert proc.stdout == "200\n", proc.stderr
    [call] = stored_calls(db, run.id)
    assert TOKEN.encode() not in db.read_bytes()
    marked = mark(TOKEN)
    assert ("X-Auth-Token", marked) in call.request_headers
