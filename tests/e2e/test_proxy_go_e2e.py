"""A Go program using gophercloud (Debian's) under ``stacktap run --proxy``: a client in
another language, traced with services named and secrets redacted."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from stacktap.store import Store, load_trace

pytestmark = pytest.mark.e2e

SOURCE = Path(__file__).parent / "go" / "gophercloud_list" / "main.go"
#: Where Debian's golang-github-gophercloud-gophercloud-dev puts its sources (GOPATH layout).
GOCODE = Path("/usr/share/gocode")


@pytest.fixture(scope="module")
def go_program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The program, built offline (GOPATH mode on Debian's Go sources, no module proxy)."""
    go = shutil.which("go")
    if go is None or not (GOCODE / "src/github.com/gophercloud/gophercloud").is_dir():
        pytest.fail(
            "needs golang-go and golang-github-gophercloud-gophercloud-dev (tools/install-test-tools.sh)"
        )
    out = tmp_path_factory.mktemp("go")
    env = {
        **os.environ,
        "GO111MODULE": "off",
        "GOPATH": str(GOCODE),
        "GOPROXY": "off",
        "GOFLAGS": "",
        "GOCACHE": str(out / "cache"),
    }
    binary = out / "gophercloud_list"
    result = subprocess.run(
        [go, "build", "-o", str(binary), str(SOURCE)], env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    return binary


def test_gophercloud_same_output_every_call_named_secrets_redacted(
    devcloud: Any, go_program: Path, tmp_path: Path
) -> None:
    db = tmp_path / "st.db"
    run = [*devcloud.stacktap, "run", "--db", str(db), "--proxy", "--", str(go_program)]
    plain = subprocess.run([str(go_program)], env=devcloud.env, capture_output=True, text=True, timeout=300)
    traced = subprocess.run(run, env=devcloud.env, capture_output=True, text=True, timeout=300)
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.startswith("images: ") and "\nflavors: m1." in plain.stdout
    assert (traced.returncode, traced.stdout) == (plain.returncode, plain.stdout)
    with Store(str(db)) as store:
        calls = load_trace(store, "last", with_traces=False).calls
    assert [(c.peer.label, c.method, c.path_template, c.status) for c in calls] == [
        ("keystone", "POST", "/v3/auth/tokens", 201),
        ("glance", "GET", "/v2/images", 200),
        ("nova", "GET", "/v2.1/flavors/detail", 200),
    ]
    token = dict((k.lower(), v) for k, v in calls[0].response_headers)["x-subject-token"]
    assert token.startswith("{SHA256}")
    for call in calls[1:]:
        assert dict((k.lower(), v) for k, v in call.request_headers)["x-auth-token"] == token
    data = db.read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("st.db-wal"))
    assert devcloud.password.encode() not in data
    assert b"gAAAAA" not in data  # NOTE: every keystone Fernet token starts so
