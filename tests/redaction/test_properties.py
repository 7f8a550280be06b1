"""Property-based: nested bodies, secret names in any spelling, and encodings (JSON, JSON in
a string, form, query, headers) never let a secret through."""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stacktap.agent.argv_redact import redact_argv
from stacktap.agent.bodies import make_body
from stacktap.redact import Redactor

ENCODINGS = [
    "json", "json-in-string", "json-cut", "latin-1", "form", "query", "header", "yaml", "text",
    "multipart", "argv",
]  # fmt: skip

WORDS = ["password", "passwd", "pwd", "secret", "token", "key", "passphrase", "credential", "pass"]
PREFIXES = ["", "db", "admin", "os", "root", "ipmi", "auth", "access", "client", "api", "private", "x-api"]

secret_values = st.text(alphabet="abcdefghijkmnpqrstuvwxyzABCDEFGH23456789", min_size=10).map(
    lambda s: "Mk" + s
)


@st.composite
def secret_names(draw: st.DrawFn) -> str:
    words = [draw(st.sampled_from(PREFIXES)), draw(st.sampled_from(WORDS))]
    words = [w for w in words if w]
    style = draw(st.sampled_from(["snake", "kebab", "camel", "pascal", "upper", "brackets", "dotted"]))
    words = [p for w in words for p in w.split("-")]
    if style == "brackets":
        return words[0] + "".join(f"[{w}]" for w in words[1:]) if len(words) > 1 else f"user[{words[0]}]"
    if style == "dotted":
        return ".".join(words)
    if style == "snake":
        return "_".join(words)
    if style == "kebab":
        return "-".join(words)
    if style == "upper":
        return "_".join(words).upper()
    head = words[0] if style == "camel" else words[0].capitalize()
    return head + "".join(w.capitalize() for w in words[1:])


plain_keys = st.sampled_from(["name", "id", "description", "status", "metadata", "items"])


def bodies(secrets: list[str]) -> Any:
    leaf = st.one_of(st.integers(), st.sampled_from(["a", "b c", "x/y"]), st.none())
    secret_pair = st.tuples(secret_names(), secret_values).map(
        lambda kv: (secrets.append(kv[1]), {kv[0]: kv[1]})[1]
    )
    return st.recursive(
        st.one_of(leaf, secret_pair),
        lambda children: st.one_of(
            st.lists(children, max_size=3),
            st.dictionaries(plain_keys, children, max_size=3),
        ),
        max_leaves=8,
    )


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_no_secret_survives_any_nesting_or_encoding(data: st.DataObject) -> None:
    secrets: list[str] = []
    body = data.draw(bodies(secrets))
    encoding = data.draw(st.sampled_from(ENCODINGS))
    redactor = Redactor()
    if encoding == "json":
        out = redactor.body_text(json.dumps(body), "application/json")[1]
    elif encoding == "json-in-string":
        out = redactor.body_text(json.dumps({"config": json.dumps(body)}), "application/json")[1]
    elif encoding == "json-cut":
        # NOTE: a body past the cap: cut anywhere; what was read of a secret must not show.
        text = json.dumps(body)
        cut = data.draw(st.integers(min_value=1, max_value=max(1, len(text))))
        out = make_body(text.encode(), "application/json", cut, redactor).text or ""
        secrets = [s[:6] for s in secrets if text.find(s) >= 0 and text.find(s) + 6 <= cut]
    elif encoding == "latin-1":
        text = json.dumps({"note": "café", "body": body}, ensure_ascii=False)
        latin1 = "application/json; charset=latin-1"
        out = make_body(text.encode("latin-1"), latin1, 4096, redactor).text or ""
    else:
        pairs: list[tuple[str, str]] = []

        def collect(value: Any) -> None:
            if isinstance(value, dict):
                for k, v in value.items():
                    if isinstance(v, str):
                        pairs.append((k, v))
                    collect(v)
            elif isinstance(value, list):
                for item in value:
                    collect(item)

        collect(body)
        secrets = [v for _, v in pairs if v.startswith("Mk")]
        if encoding == "form":
            text = "&".join(f"{k}={v}" for k, v in pairs)
            out = redactor.body_text(text, "application/x-www-form-urlencoded")[1]
        elif encoding == "query":
            out = redactor.url("http://h/x?" + "&".join(f"{k}={v}" for k, v in pairs))
        elif encoding == "yaml":
            text = "".join(f"{k}: {v}\n" for k, v in pairs)
            out = redactor.body_text(text, "application/yaml")[1]
        elif encoding == "text":
            text = "\n".join(f"{k}={v}" for k, v in pairs)
            out = make_body(text.encode(), "text/plain", 4096, redactor).text or ""
        elif encoding == "multipart":
            field = '--B\r\nContent-Disposition: form-data; name="{}"\r\n\r\n{}\r\n'
            fields = "".join(field.format(k, v) for k, v in pairs)
            out = redactor.body_text(fields + "--B--\r\n", "multipart/form-data; boundary=B")[1]
        elif encoding == "argv":
            out = " ".join(redact_argv([x for k, v in pairs for x in (f"--{k}", v)], redactor.mark))
        else:
            out = json.dumps(redactor.headers(pairs))
    for secret in secrets:
        assert secret not in out, (encoding, body)


class _Echo(BaseHTTPRequestHandler):
    """Answers every request with the JSON body it was sent (secrets come back too)."""

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", self.headers.get("Content-Type") or "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def echo_server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_secret_reaches_the_store_through_a_real_client(data: st.DataObject, echo_server: str) -> None:
    """The same bodies sent with requests under ``stacktap.trace()`` to a server that echoes
    them: neither the request nor the response leaves a secret in the store's bytes."""
    import requests

    import stacktap

    secrets: list[str] = []
    body = data.draw(bodies(secrets))
    ctype = data.draw(st.sampled_from(["application/json", "text/plain", None]))
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "p.db"
        with stacktap.trace(db=str(db), label="property"):
            headers = {"Content-Type": ctype} if ctype else {}
            requests.post(echo_server + "/x", data=json.dumps(body).encode(), headers=headers)
        stored = b"".join(p.read_bytes() for p in Path(tmp).iterdir() if p.name.startswith("p.db"))
    for secret in secrets:
        assert secret.encode() not in stored, (ctype, body)
