"""``stacktap run`` around the dev cloud's real ``openstack``: same output, calls named, no secrets."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from stacktap.store import Store, load_trace

pytestmark = pytest.mark.e2e


def _run(
    devcloud: Any, args: list[str], db: Path | None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    command = [str(devcloud.openstack), *args]
    if db is not None:
        command = [*devcloud.stacktap, "run", "--db", str(db), "--", *command]
    return subprocess.run(
        command,
        env=env or devcloud.env,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )


def _last_trace(db: Path) -> Any:
    with Store(str(db)) as store:
        return load_trace(store, "last", with_traces=False)


def _assert_no_secrets(devcloud: Any, db: Path, *outputs: str) -> None:
    data = db.read_bytes()
    for wal in db.parent.glob(db.name + "-wal"):
        data += wal.read_bytes()
    assert devcloud.password.encode() not in data
    for text in outputs:
        assert devcloud.password not in text


@pytest.mark.parametrize(
    "args",
    [["flavor", "list", "-f", "value", "-c", "Name"], ["image", "list", "-f", "value", "-c", "Name"]],
)
def test_output_and_exit_code_identical_and_calls_named(
    devcloud: Any, tmp_path: Path, args: list[str]
) -> None:
    db = tmp_path / "st.db"
    plain = _run(devcloud, args, None)
    traced = _run(devcloud, args, db)
    assert (traced.returncode, traced.stdout) == (plain.returncode, plain.stdout)
    assert traced.stderr.splitlines()[-1].startswith("stacktap: recorded ")
    trace = _last_trace(db)
    assert "keystone" in trace.services
    assert ("nova" if args[0] == "flavor" else "glance") in trace.services
    sites = [c.call_site.label for c in trace.client_calls if c.call_site]
    assert any(label.startswith("openstackclient/") for label in sites), sites
    _assert_no_secrets(devcloud, db, traced.stdout, traced.stderr)


def test_token_issue_keeps_no_token(devcloud: Any, tmp_path: Path) -> None:
    db = tmp_path / "st.db"
    traced = _run(devcloud, ["token", "issue", "-f", "value", "-c", "id"], db)
    assert traced.returncode == 0, traced.stderr
    token = traced.stdout.strip()
    assert token and token.encode() not in db.read_bytes()
    trace = _last_trace(db)
    assert any(c.url.endswith("/v3/auth/tokens") and c.status == 201 for c in trace.client_calls)
    _assert_no_secrets(devcloud, db, traced.stderr)


def test_image_create_save_delete_stream_bodies(devcloud: Any, tmp_path: Path) -> None:
    db = tmp_path / "st.db"
    image = tmp_path / "big.img"
    with open(image, "wb") as out:
        out.write(b"\x01" * (50 * 1024 * 1024 + 3))
    name = f"stacktap-e2e-{tmp_path.name[-8:]}"
    created = _run(devcloud, ["image", "create", "--file", str(image), "--disk-format", "raw", name], db)
    assert created.returncode == 0, created.stderr
    upload = [c for c in _last_trace(db).client_calls if c.method == "PUT" and c.url.endswith("/file")]
    assert upload and upload[0].request_body.size == image.stat().st_size
    assert upload[0].request_body.kind == "stream"
    saved = tmp_path / "saved.img"
    got = _run(devcloud, ["image", "save", "--file", str(saved), name], db)
    assert got.returncode == 0, got.stderr
    assert saved.read_bytes() == image.read_bytes()
    download = [c for c in _last_trace(db).client_calls if c.method == "GET" and c.url.endswith("/file")]
    assert download and download[0].response_body.size == image.stat().st_size
    deleted = _run(devcloud, ["image", "delete", name], db)
    assert deleted.returncode == 0, deleted.stderr
    assert any(c.method == "DELETE" for c in _last_trace(db).client_calls)


def test_server_list_and_sdk_script(devcloud: Any, tmp_path: Path) -> None:
    db = tmp_path / "st.db"
    plain = _run(devcloud, ["server", "list", "-f", "value"], None)
    traced = _run(devcloud, ["server", "list", "-f", "value"], db)
    assert (traced.returncode, traced.stdout) == (plain.returncode, plain.stdout)
    script = tmp_path / "sdk_script.py"
    script.write_text("import openstack\nconn = openstack.connect()\nprint(len(list(conn.image.images())))\n")
    sdk = subprocess.run(
        [*devcloud.stacktap, "run", "--db", str(db), "--", str(devcloud.python), str(script)],
        env=devcloud.env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert sdk.returncode == 0, sdk.stderr
    sites = [c.call_site for c in _last_trace(db).client_calls if c.call_site]
    assert any(site.file == str(script) and site.line == 3 for site in sites)


def test_keystone_down_and_wrong_password(devcloud: Any, tmp_path: Path) -> None:
    db = tmp_path / "st.db"
    env = dict(devcloud.env)
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env["OS_AUTH_URL"] = f"http://127.0.0.1:{port}/v3"
    plain = _run(devcloud, ["image", "list"], None, env)
    traced = _run(devcloud, ["image", "list"], db, env)
    assert traced.returncode == plain.returncode != 0
    assert any(c.failed for c in _last_trace(db).client_calls)
    env = dict(devcloud.env, OS_PASSWORD="wrong-password-123")
    traced = _run(devcloud, ["image", "list"], db, env)
    assert traced.returncode != 0
    assert any(c.status == 401 for c in _last_trace(db).client_calls)
    assert b"wrong-password-123" not in db.read_bytes()


def test_unwritable_store_command_still_works(devcloud: Any, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    plain = _run(devcloud, ["flavor", "list", "-f", "value", "-c", "Name"], None)
    traced = _run(devcloud, ["flavor", "list", "-f", "value", "-c", "Name"], tmp_path / "file" / "st.db")
    assert (traced.returncode, traced.stdout) == (plain.returncode, plain.stdout)
    assert traced.stderr.count("stacktap: warning:") == 1
