"""``stacktap run --proxy`` around real clients of the dev cloud (curl, the real OSC)."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from stacktap.store import Store, load_trace

pytestmark = pytest.mark.e2e

CURL_SCRIPT = Path(__file__).parent / "scripts" / "curl_catalog.sh"


def _run(devcloud: Any, cmd: list[str], db: Path | None, *run_args: str) -> subprocess.CompletedProcess:
    if db is not None:
        cmd = [*devcloud.stacktap, "run", "--db", str(db), *run_args, "--", *cmd]
    return subprocess.run(
        cmd, env=devcloud.env, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL
    )


def _sequence(db: Path) -> list[tuple[Any, ...]]:
    with Store(str(db)) as store:
        trace = load_trace(store, "last", with_traces=False)
    return [(c.peer.label, c.method, c.path_template, c.status) for c in trace.calls]


def _stored_bytes(db: Path) -> bytes:
    data = db.read_bytes()
    for wal in db.parent.glob(db.name + "-wal"):
        data += wal.read_bytes()
    return data


def test_curl_script_same_output_every_call_named_secrets_redacted(devcloud: Any, tmp_path: Path) -> None:
    db = tmp_path / "st.db"
    plain = _run(devcloud, ["sh", str(CURL_SCRIPT)], None)
    traced = _run(devcloud, ["sh", str(CURL_SCRIPT)], db, "--proxy")
    assert plain.returncode == 0, plain.stderr
    assert (traced.returncode, traced.stdout) == (plain.returncode, plain.stdout)
    assert "the Python hooks are off" in traced.stderr
    sequence = _sequence(db)
    assert [(s, m, st) for s, m, _, st in sequence] == [
        ("keystone", "POST", 201),
        ("glance", "GET", 200),
        ("nova", "GET", 200),
    ]
    data = _stored_bytes(db)
    assert devcloud.password.encode() not in data
    with Store(str(db)) as store:
        calls = load_trace(store, "last", with_traces=False).calls
    token = dict((k.lower(), v) for k, v in calls[0].response_headers)["x-subject-token"]
    assert token.startswith("{SHA256}")  # the redaction mark, not the token
    for call in calls[1:]:
        sent = dict((k.lower(), v) for k, v in call.request_headers)["x-auth-token"]
        assert sent == token


@pytest.mark.parametrize(
    "args",
    [
        ["flavor", "list", "-f", "value", "-c", "Name"],
        ["image", "list", "-f", "value", "-c", "Name"],
        ["server", "list", "-f", "value", "-c", "Name"],
        ["flavor", "show", "m1.tiny", "-f", "value", "-c", "ram"],
    ],
    ids=lambda args: "-".join(args[:2]),
)
def test_osc_records_the_same_sequence_as_the_hooks(devcloud: Any, tmp_path: Path, args: list[str]) -> None:
    osc = [str(devcloud.openstack), *args]
    hooks, proxied = tmp_path / "hooks.db", tmp_path / "proxy.db"
    by_hooks = _run(devcloud, osc, hooks)
    by_proxy = _run(devcloud, osc, proxied, "--proxy")
    assert by_hooks.returncode == 0, by_hooks.stderr
    assert (by_proxy.returncode, by_proxy.stdout) == (by_hooks.returncode, by_hooks.stdout)
    # NOTE: (service, method, path template, status), in order: what each view is built on.
    assert _sequence(proxied) == _sequence(hooks)
    assert len(_sequence(proxied)) >= 2


def _run_true_through_proxy(devcloud: Any, tmp_path: Path, auth_url: str) -> subprocess.CompletedProcess:
    """``stacktap run --proxy -- true`` with ``OS_AUTH_URL`` set to ``auth_url``."""
    return subprocess.run(
        [*devcloud.stacktap, "run", "--db", str(tmp_path / "st.db"), "--proxy", "--", "true"],
        env={**devcloud.env, "OS_AUTH_URL": auth_url},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_unreachable_auth_url_is_one_line_error(devcloud: Any, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = _run_true_through_proxy(devcloud, tmp_path, f"http://127.0.0.1:{port}/v3")
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0
    assert "cannot reach the auth URL" in result.stderr


def test_non_keystone_auth_url_is_one_line_error(devcloud: Any, tmp_path: Path) -> None:
    result = _run_true_through_proxy(devcloud, tmp_path, devcloud.urls["nova"] + "/healthcheck-not-here")
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0
    assert "stacktap:" in result.stderr and "Traceback" not in result.stderr


def _ignore_sigint() -> None:
    # NOTE: what a shell does to a background job (``stacktap proxy &``): the proxy must
    # still end cleanly on SIGINT.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_standalone_proxy_stores_every_call_when_stopped(devcloud: Any, tmp_path: Path, signum: int) -> None:
    db = tmp_path / "st.db"
    command = [*devcloud.stacktap, "proxy", "--db", str(db), "--auth-url", devcloud.env["OS_AUTH_URL"]]
    server = subprocess.Popen(
        command,
        env=devcloud.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
        preexec_fn=_ignore_sigint,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        match = re.search(r"OS_AUTH_URL=(\S+) \(run (\w+);", line)
        assert match, line
        auth_url, run_id = match.groups()
        client = subprocess.run(
            ["sh", str(CURL_SCRIPT)],
            env={**devcloud.env, "OS_AUTH_URL": auth_url},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert client.returncode == 0, client.stderr
        server.send_signal(signum)
        _, err = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert server.returncode == 0, err
    assert "Traceback" not in err and f"stacktap show {run_id}" in err
    with Store(str(db)) as store:
        trace = load_trace(store, run_id, with_traces=False)
    assert trace.run.ended is not None
    assert [(c.peer.label, c.method, c.status) for c in trace.calls] == [
        ("keystone", "POST", 201),
        ("glance", "GET", 200),
        ("nova", "GET", 200),
    ]
    assert devcloud.password.encode() not in _stored_bytes(db)
