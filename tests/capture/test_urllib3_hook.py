from __future__ import annotations

from pathlib import Path

from capture_helpers import LocalServer, new_run, run_traced, stored_calls

from stacktap.model import BODY_JSON, BODY_STREAM


def test_urllib3_direct_is_recorded_once_and_requests_on_top_once(
    tmp_path: Path, server: LocalServer
) -> None:
    db = tmp_path / "st.db"
    run = new_run(db)
    proc = run_traced(
        """
        import sys, urllib3, requests

        class ClosingHttp(urllib3.PoolManager):  # as Tempest's RestClient does
            def request(self, method, url, fields=None, headers=None, **kw):
                return super().request(method, url, fields=fields, headers=headers, **kw)

        http = ClosingHttp()
        r = http.request("GET", sys.argv[1] + "/json", headers={"X-Auth-Token": "abc"})
        print(r.status, r.json()["hello"])
        r = http.request("GET", sys.argv[1] + "/bytes?size=100000", preload_content=False)
        print(len(r.read()))
        print(requests.get(sys.argv[1] + "/json").status_code)
        """,
        db,
        run.id,
        args=(server.url,),
    )
    assert proc.stdout == "200 world\n100000\n200\n", proc.stderr
    direct, streamed, via_requests = stored_calls(db, run.id)
    assert direct.url == server.url + "/json" and direct.response_body.kind == BODY_JSON
    assert direct.call_site is not None and direct.call_site.cls == "ClosingHttp"
    assert streamed.response_body.kind == BODY_STREAM and streamed.response_body.size == 100000
    assert via_requests.request_headers[0][0] == "User-Agent"  # recorded by the requests hook


def test_urllib3_connection_error_is_recorded_and_reraised(tmp_path: Path) -> None:
    db = tmp_path / "st.db"
    run = new_run(db)
    from capture_helpers import free_port

    proc = run_traced(
        """
        import urllib3
        try:
            urllib3.PoolManager(retries=False).request("GET", "http://127.0.0.1:PORT/")
        except urllib3.exceptions.NewConnectionError as exc:
            print("refused")
        """.replace("PORT", str(free_port())),
        db,
        run.id,
    )
    assert proc.stdout.strip() == "refused", proc.stderr
    [call] = stored_calls(db, run.id)
    assert call.error_type == "urllib3.exceptions.NewConnectionError"
