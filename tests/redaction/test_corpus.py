# ruff: noqa: E501  (the corpus: one real request/response shape a line)
"""Corpus: real OpenStack and HTTP shapes carrying secrets, sent through requests and
urllib3 under ``stacktap.trace()`` to a local server; no secret marker may reach the
store's bytes (with -wal/-shm). Markers are drawn at random each run; failures are
reported per category."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import stacktap
from stacktap.store import Store

PEM_BODY = "MIIEowIBAAKCAQEA{S}xyz"


def _pem(marker: str) -> str:
    return "-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----\n".format(
        PEM_BODY.replace("{S}", marker)
    )


# (category, method, path, request headers, request body, request type,
#  response headers, response body, response type); "{S}" is a fresh marker each time,
#  "{E}" repeats the last one (an echo).
SHAPES: list[tuple[Any, ...]] = [
    ("keystone", "POST", "/v3/auth/tokens", {}, {"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"id": "default"}, "password": "{S}"}}}}}, "application/json", {"X-Subject-Token": "{S}"}, {"token": {"methods": ["password"], "expires_at": "2030-01-01T00:00:00Z"}}, "application/json"),
    ("keystone", "POST", "/v3/users/u/application_credentials", {}, {"application_credential": {"name": "ac"}}, "application/json", {}, {"application_credential": {"id": "1", "name": "ac", "secret": "{S}"}}, "application/json"),
    ("catalog", "POST", "/v3/auth/tokens", {}, {"auth": {"identity": {"methods": ["token"], "token": {"id": "{S}"}}}}, "application/json", {"X-Subject-Token": "{S}", "X-OpenStack-Request-ID": "req-{E}", "_reason": "Created for {E}"}, {"token": {"catalog": [{"type": "object-store", "name": "swift", "endpoints": [{"interface": "public", "region": "R", "url": "http://svc:{S}@{H}/"}]}]}}, "application/json"),
    ("keystone", "POST", "/v3/users", {}, {"user": {"name": "bob", "password": "{S}", "description": "initial password {E}"}}, "application/json", {}, {"user": {"name": "bob"}}, "application/json"),
    ("nova", "POST", "/v2.1/servers", {}, {"server": {"name": "vm", "adminPass": "{S}", "key_name": "mykey", "metadata": {"db_password": "{S}"}}}, "application/json", {}, {"server": {"id": "x", "adminPass": "{S}"}}, "application/json"),
    ("cinder", "POST", "/v3/p/os-volume-transfer", {}, {"transfer": {"volume_id": "v", "name": "t"}}, "application/json", {}, {"transfer": {"id": "t", "auth_key": "{S}"}}, "application/json"),
    ("cinder", "POST", "/v3/p/os-volume-transfer/t/accept", {}, {"accept": {"auth_key": "{S}"}}, "application/json", {}, {"transfer": {"id": "t"}}, "application/json"),
    ("barbican", "POST", "/v1/secrets", {}, {"name": "s", "payload": "{S}", "payload_content_type": "text/plain"}, "application/json", {}, {"secret_ref": "http://h/v1/secrets/1"}, "application/json"),
    ("barbican", "GET", "/v1/secrets/1/payload", {"Accept": "text/plain"}, None, None, {}, "{S}", "text/plain"),
    ("heat", "POST", "/v1/p/stacks", {}, {"stack_name": "s", "parameters": {"db_password": "{S}", "AdminPassword": "{S}"}, "environment": {"parameters": {"DBPassword": "{S}"}}}, "application/json", {}, {"stack": {"id": "s"}}, "application/json"),
    ("ironic", "PATCH", "/v1/nodes/n", {}, [{"op": "add", "path": "/driver_info/ipmi_password", "value": "{S}"}], "application/json", {}, {"driver_info": {"ipmi_password": "{S}", "redfish_password": "{S}"}}, "application/json"),
    ("ironic", "POST", "/v1/heartbeat/n?agent_token={S}", {}, {"agent_token": "{S}", "callback_url": "http://a:9999"}, "application/json", {}, {}, "application/json"),
    ("manila", "GET", "/v2/share-access-rules/r", {}, None, None, {}, {"access": {"access_to": "alice", "access_key": "{S}"}}, "application/json"),
    ("magnum", "GET", "/v1/certificates/c", {}, None, None, {}, {"pem": "x", "key": _pem("{S}"), "tls_key": "{S}", "kubeconfig": "users:\n- name: admin\n  user:\n    token: {S}\n"}, "application/json"),
    ("octavia", "POST", "/v2/lbaas/listeners", {}, {"listener": {"name": "l", "private_key": _pem("{S}"), "passphrase": "{S}"}}, "application/json", {}, {"listener": {"id": "l"}}, "application/json"),
    ("swift", "POST", "/v1/AUTH_p/c", {"X-Container-Sync-Key": "{S}", "X-Container-Meta-Temp-URL-Key": "{S}"}, None, None, {}, "", "text/plain"),
    ("swift", "GET", "/v1/AUTH_p/c/o?temp_url_sig={S}&temp_url_expires=1", {}, None, None, {}, "ok", "text/plain"),
    ("designate", "POST", "/v2/tsigkeys", {}, {"name": "k", "algorithm": "hmac-sha256", "secret": "{S}"}, "application/json", {}, {"id": "k", "secret": "{S}"}, "application/json"),
    ("zaqar", "POST", "/v2/queues/q/share", {}, {"paths": ["messages"]}, "application/json", {}, {"signature": "{S}", "expires": "2030"}, "application/json"),
    ("oauth2", "POST", "/token", {}, "grant_type=authorization_code&code={S}&code_verifier={S}&client_secret={S}&refresh_token={S}", "application/x-www-form-urlencoded", {}, {"access_token": "{S}", "token_type": "Bearer", "refresh_token": "{S}"}, "application/json"),
    ("oauth1", "POST", "/v3/OS-OAUTH1/access_token?oauth_verifier={S}", {}, None, None, {}, "oauth_token=a&oauth_token_secret={S}", "application/x-www-form-urlencoded"),
    ("generic", "GET", "/x?api_key={S}&sig={S}&passwd={S}", {"X-API-Key": "{S}", "X-Amz-Security-Token": "{S}", "X-Instance-ID-Signature": "{S}", "URL-Signature": "{S}", "Authorization": "Bearer {S}"}, None, None, {"Set-Cookie": "a={S}; Path=/, b={S}; Path=/", "Link": "<http://h/next?token={S}>; rel=next"}, {"config": json.dumps({"password": "{S}"})}, "application/json"),
    ("past the cap", "POST", "/v1/p/stacks", {}, {"stack_name": "s", "parameters": {"db_password": "{S}", "api-key": "{S}"}, "description": "from {E}", "template": "{P}"}, "application/json", {}, {"user": {"password": "{S}", "private-key": "{S}", "description": "{P}"}}, "application/json"),
    ("past the cap", "PUT", "/cap-text", {}, "private-key={S}\nx-api-key: {S}\n<password>{S}</password>\n{P}", "text/plain", {}, "-----BEGIN PRIVATE KEY-----\n{S}\n{P}", "text/plain"),
    ("octavia", "GET", "/v2/lbaas/certs/c", {}, None, None, {}, _pem("{S}"), "application/x-pem-file"),
    ("multipart", "POST", "/upload", {}, '--B\r\nContent-Disposition: form-data; name="user[password]"\r\n\r\n{S}\r\n--B\r\nContent-Disposition: form-data; name="key"; filename="k.pem"\r\n\r\n{S}\r\n--B\r\nContent-Disposition: form-data; name="conf"\r\n\r\nx=1\napi_key={S}\r\n--B--\r\n', "multipart/form-data; boundary=B", {}, "café: ok\nsecret_key: {S}\n", "text/plain; charset=latin-1"),
    ("generic", "POST", "/form", {}, "user%5Bpassword%5D={S}&os_password={S}&name=x", "application/x-www-form-urlencoded", {}, _pem("{S}"), "text/plain"),
]  # fmt: skip


def _fill(value: Any, markers: list[str], host: str = "127.0.0.1:9") -> Any:
    if isinstance(value, str):
        value = value.replace("{H}", host)
        while "{S}" in value:
            marker = "Mk" + secrets.token_hex(8)
            markers.append(marker)
            value = value.replace("{S}", marker, 1)
        value = value.replace("{P}", "lorem ipsum " * 700)  # past the 4 KiB cap of the tests
        return value.replace("{E}", markers[-1]) if markers else value
    if isinstance(value, dict):
        return {k: _fill(v, markers, host) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, markers, host) for v in value]
    return value


class _Handler(BaseHTTPRequestHandler):
    responses: dict[str, tuple[dict[str, str], bytes, str]] = {}

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        headers, body, ctype = self.responses[self.path]
        self.send_response(200, headers.get("_reason"))
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            if not name.startswith("_"):
                self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = do_PUT = _answer


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _encode(body: Any) -> bytes | None:
    if body is None:
        return None
    return (body if isinstance(body, str) else json.dumps(body)).encode()


@pytest.mark.parametrize("client", ["requests", "urllib3"])
def test_no_secret_marker_reaches_the_store(
    tmp_path: Path, server: str, client: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import requests
    import urllib3

    sent: list[tuple[str, list[str]]] = []
    db = tmp_path / "corpus.db"
    pool = urllib3.PoolManager()
    from stacktap.agent.recorder import get_recorder

    # NOTE: the process's recorder may predate this test: its cap, not $STACKTAP_BODY_CAP.
    monkeypatch.setattr(get_recorder(), "body_cap", 4096)
    with stacktap.trace(db=str(db), label="corpus"):
        for index, shape in enumerate(SHAPES):
            markers: list[str] = []
            category, method, path, headers, body, ctype, rheaders, rbody, rctype = _fill(
                list(shape), markers, server.split("//", 1)[1]
            )
            path = f"/{index}{path}"
            rtext = rbody if isinstance(rbody, str) else json.dumps(rbody)
            _Handler.responses[path] = (
                rheaders,
                rtext.encode("latin-1" if "latin-1" in rctype else "utf-8"),
                rctype,
            )
            headers = dict(headers)
            if ctype:
                headers["Content-Type"] = ctype
            if client == "requests":
                requests.request(method, server + path, headers=headers, data=_encode(body))
            else:
                pool.request(method, server + path, headers=headers, body=_encode(body))
            sent.append((category, markers))
    with Store(str(db)) as store:
        [run] = store.runs()
        calls = store.calls(run.id)
        assert len(calls) == len(SHAPES)
    # bodies past the cap are redacted on what was read, not replaced whole
    cut = [b for c in calls for b in (c.request_body, c.response_body) if b.truncated]
    assert len(cut) >= 4 and all(b.kind == "text" and "{SHA256}" in (b.text or "") for b in cut), cut
    data = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("corpus.db"))
    leaks: dict[str, list[str]] = {}
    total: dict[str, int] = {}
    for category, markers in sent:
        total[category] = total.get(category, 0) + len(markers)
        for marker in markers:
            if marker.encode() in data:
                leaks.setdefault(category, []).append(marker)
    report = {c: f"{len(leaks.get(c, []))}/{n} leaked" for c, n in total.items()}
    print(f"corpus ({client}): {report}")
    assert not leaks, report


CHILD = """
import json, sys
import requests
for method, url, headers, body in json.load(open(sys.argv[1])):
    requests.request(method, url, headers=headers, data=body.encode() if body is not None else None)
"""

#: Every output of a run: each ``show``/``catalog``/``api``/``list`` format, every diagram
#: language, the HTML report, every export format (OTLP sent to a local receiver).
FORMATS = ["table", "json", "yaml", "value"]
OUTPUTS = [
    ["log", "last"],
    ["curl", "last"],
    *(["show", "last", "-f", f] for f in FORMATS),
    *(["show", "last", "--all", "-f", f] for f in FORMATS),
    *(["catalog", "last", "-f", f] for f in FORMATS),
    *(["api", "-f", f] for f in FORMATS),
    *(["list", "-f", f] for f in FORMATS),
    ["policy", "last"],
    ["diagram", "last", "-f", "mermaid"],
    ["diagram", "last", "-f", "plantuml"],
    ["report", "last", "-o", "-"],
    ["export", "--format", "har", "last"],
    ["export", "--format", "json", "last"],
    ["export", "--format", "markdown", "last"],
]


def test_no_secret_marker_reaches_the_store_or_outputs_under_stacktap_run(
    tmp_path: Path, server: str
) -> None:
    import os
    import subprocess
    import sys

    from tests.fixtures.otlp_receiver import Receiver

    sent: list[tuple[str, list[str]]] = []
    plan = []
    for index, shape in enumerate(SHAPES):
        markers: list[str] = []
        category, method, path, headers, body, ctype, rheaders, rbody, rctype = _fill(
            list(shape), markers, server.split("//", 1)[1]
        )
        path = f"/run{index}{path}"
        rtext = rbody if isinstance(rbody, str) else json.dumps(rbody)
        _Handler.responses[path] = (
            rheaders,
            rtext.encode("latin-1" if "latin-1" in rctype else "utf-8"),
            rctype,
        )
        headers = dict(headers)
        if ctype:
            headers["Content-Type"] = ctype
        encoded = _encode(body)
        plan.append((method, server + path, headers, encoded.decode() if encoded else None))
        sent.append((category, markers))
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    (tmp_path / "child.py").write_text(CHILD)
    argv_markers: list[str] = []
    argv = _fill(
        ["--os-password", "{S}", "--os-auth-url", "http://u:{S}@h/v3", "--property", "db_password={S}"],
        argv_markers,
    )
    sent.append(("argv", argv_markers))
    db = tmp_path / "corpus.db"
    env = dict(os.environ, STACKTAP_DB=str(db), STACKTAP_BODY_CAP="4k")
    stacktap = [str(Path(sys.executable).with_name("stacktap"))]
    child = [sys.executable, str(tmp_path / "child.py"), str(tmp_path / "plan.json"), *argv]
    proc = subprocess.run(
        [*stacktap, "run", "--", *child], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    data = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("corpus.db"))
    texts = {"store": data.decode("latin-1") + proc.stdout + proc.stderr}
    for args in OUTPUTS:
        out = subprocess.run([*stacktap, *args], env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, (args, out.stderr)
        texts[" ".join(args)] = out.stdout + out.stderr
    with Receiver() as rx:
        otlp = ["export", "--format", "otlp", "--bodies", "--endpoint", rx.base_url, "last"]
        out = subprocess.run([*stacktap, *otlp], env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        texts["export --format otlp"] = out.stdout + out.stderr + b"".join(rx.bodies()).decode("latin-1")
    for where in (
        "log last",
        "curl last",
        "export --format har last",
        "report last -o -",
        "diagram last -f mermaid",
    ):
        assert f"/run{len(SHAPES) - 1}/" in texts[where] or f"run{len(SHAPES) - 1}" in texts[where], (
            where,
            texts[where][-2000:],
        )
    assert "swift" in texts["catalog last -f json"], texts["catalog last -f json"]
    leaks: dict[str, list[str]] = {}
    total: dict[str, int] = {}
    for category, markers in sent:
        total[category] = total.get(category, 0) + len(markers)
        for marker in markers:
            for where, text in texts.items():
                if marker in text:
                    leaks.setdefault(category, []).append(f"{marker} in {where}")
    report = {
        c: f"{len({w.split(' in ')[0] for w in leaks.get(c, [])})}/{n} leaked" for c, n in total.items()
    }
    print("corpus (stacktap run):", report)
    assert not leaks, (report, leaks)
