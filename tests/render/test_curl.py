"""curl lines: shell quoting, marks as shell variables, files for bodies not kept; and they run."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from inspect_traces import PASSWORD, USER_TOKEN, write_sample

from stacktap.model import BODY_JSON, BODY_REDACTED, BODY_TEXT, Body, Call, Run
from stacktap.redact import Redactor
from stacktap.render.curl import ShellVariables, curl_command, render_curl, shell_word
from stacktap.store import Store, load_trace


def test_sample_run_lines(tmp_path: Path) -> None:
    lines = render_curl(write_sample(tmp_path / "s.db")).splitlines()
    assert lines[0] == "# secrets were redacted: export OS_PASSWORD, OS_TOKEN, OS_TOKEN_2 first"
    assert lines[1:3] == [
        "# [1] keystone",
        "curl -g -i -X GET http://127.0.0.1:5000/ -H 'User-Agent: python-openstackclient keystoneauth1/5.0'"
        " -H 'Accept: application/json' --compressed",
    ]
    token_call = lines[4]
    assert token_call.endswith(
        """-d '{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin","""
        """ "domain": {"id": "default"}, "password": "'"$OS_PASSWORD"'"}}}}}'"""
    )
    assert '-H "X-Auth-Token: $OS_TOKEN"' in lines[6]
    assert lines[7] == "# [5] keystone (called by glance-api)"
    assert '-H "X-Auth-Token: $OS_TOKEN_2" -H "X-Subject-Token: $OS_TOKEN"' in lines[8]
    assert lines[10].startswith("# the request body (13631488 bytes sha256=abab")
    assert lines[10].endswith("was application/octet-stream data, not kept: put it in request-6.bin")
    assert lines[11].endswith("--data-binary @request-6.bin")
    assert "Content-Length" not in "\n".join(lines) and "traceparent" not in "\n".join(lines)


def test_shell_words() -> None:
    variables = ShellVariables()
    mark = "{SHA256}0123456789abcdef"
    assert shell_word(variables.split("plain it's")) == "'plain it'\"'\"'s'"
    assert shell_word(variables.split("Token: " + mark, "OS_TOKEN")) == '"Token: $OS_TOKEN"'
    assert shell_word(variables.split(mark + "abc")) == '"${OS_TOKEN}abc"'
    assert shell_word(variables.split(f'{{"p": "{mark}"}}')) == """'{"p": "'"$OS_TOKEN"'"}'"""
    assert shell_word(variables.split("")) == "''"


def test_head_withheld_and_truncated_bodies() -> None:
    head = Call(run_id="r", method="HEAD", url="http://h/x", start=0.0)
    assert curl_command(head) == "curl -g -I http://h/x"
    withheld = Call(
        run_id="r",
        method="POST",
        url="http://h/x",
        start=0.0,
        seq=4,
        request_body=Body(kind=BODY_REDACTED, text="<redacted: ...>", size=20),
    )
    assert curl_command(withheld).endswith("--data-binary @request-4.txt")
    capped = Call(
        run_id="r",
        method="POST",
        url="http://h/x",
        start=0.0,
        seq=5,
        request_body=Body(kind=BODY_JSON, text='{"a": ', truncated=True, size=9),
    )
    assert curl_command(capped).endswith("--data-binary @request-5.txt")
    at_sign = Call(
        run_id="r",
        method="POST",
        url="http://h/x",
        start=0.0,
        request_body=Body(kind=BODY_TEXT, text="@etc/passwd"),
    )
    assert curl_command(at_sign).endswith("--data-raw @etc/passwd")


# -- the lines run ------------------------------------------------------------------------------


class _Recorder(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        type(self).seen.append(
            {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
        )
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def echo_server() -> Iterator[str]:
    _Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_curl_lines_run_with_secrets_from_the_environment(tmp_path: Path, echo_server: str) -> None:
    redactor = Redactor()
    auth = json.dumps(
        {"auth": {"identity": {"password": {"user": {"name": "adm'n $HOME", "password": PASSWORD}}}}}
    )
    kind, text = redactor.body_text(auth, "application/json")
    with Store(str(tmp_path / "s.db")) as store:
        run = Run(started=1.0)
        store.add_run(run)
        store.add_calls(
            [
                Call(
                    run_id=run.id,
                    method="POST",
                    url=echo_server + "/v3/auth/tokens",
                    start=1.0,
                    request_headers=[("Content-Type", "application/json")],
                    request_body=Body(kind=kind, text=text),
                ),
                Call(
                    run_id=run.id,
                    method="GET",
                    url=redactor.url(echo_server + "/v2/images?token=" + USER_TOKEN),
                    start=2.0,
                    request_headers=redactor.headers([("X-Auth-Token", USER_TOKEN)]),
                ),
            ]
        )
        script = render_curl(load_trace(store, run.id))
    assert PASSWORD not in script and USER_TOKEN not in script
    env = dict(os.environ, OS_PASSWORD=PASSWORD, OS_TOKEN=USER_TOKEN)
    result = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    post, get = _Recorder.seen
    assert json.loads(post["body"]) == json.loads(auth)
    assert get["headers"]["X-Auth-Token"] == USER_TOKEN
    assert get["path"] == "/v2/images?token=" + USER_TOKEN
    assert shlex.split(script.splitlines()[-1])[0] == "curl"
