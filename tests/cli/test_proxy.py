"""``stacktap proxy`` as a command, against a keystone-like upstream on 127.0.0.1: bad input is
one line, and a signal (SIGINT even when inherited as ignored, SIGTERM, SIGHUP) ends it with
every call stored and the run finished."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from stacktap.store import Store

STACKTAP = str(Path(sys.executable).parent / "stacktap")


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # NOTE: as a shell starts `stacktap proxy &`


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_ends_it_with_every_call_stored(tmp_path: Path, keystone: str, signum: int) -> None:
    db = tmp_path / "st.db"
    proc = subprocess.Popen(
        [STACKTAP, "proxy", "--db", str(db), "--auth-url", keystone],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_ignore_sigint,
    )
    try:
        assert proc.stdout is not None
        auth_url = proc.stdout.readline().split("OS_AUTH_URL=")[1].split()[0]
        for number in range(3):
            with urllib.request.urlopen(f"{auth_url[: -len('/v3')]}/call/{number}") as answer:
                assert json.load(answer) == {"path": f"/call/{number}"}
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert err.startswith("stacktap proxy: stopped; stacktap show ") and err.count("\n") == 1
    with Store(str(db)) as store:
        run = store.get_run("last")
        assert run.ended is not None and run.exit_code == 0
        paths = [c.url.rsplit("/", 2)[-2:] for c in store.calls(run.id, with_traces=False)]
    assert paths == [["call", str(n)] for n in range(3)]


def _one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    return result.stderr


def test_busy_listen_port_is_one_line(tmp_path: Path, keystone: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        command = [STACKTAP, "proxy", "--db", str(tmp_path / "st.db"), "--auth-url", keystone]
        result = subprocess.run(
            [*command, "--listen", f"127.0.0.1:{port}"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert "cannot listen on 127.0.0.1:" in _one_line_error(result)


@pytest.mark.parametrize("listen", ["0.0.0.0:8080", "127.0.0.1:http", "nonsense"])
def test_listen_elsewhere_than_this_machine_is_refused(tmp_path: Path, keystone: str, listen: str) -> None:
    result = subprocess.run(
        [STACKTAP, "proxy", "--db", str(tmp_path / "st.db"), "--auth-url", keystone, "--listen", listen],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "127.0.0.1:PORT" in result.stderr and "Traceback" not in result.stderr


def test_non_keystone_auth_url_is_one_line(tmp_path: Path, keystone: str) -> None:
    result = subprocess.run(
        [STACKTAP, "proxy", "--db", str(tmp_path / "st.db"), "--auth-url", keystone + "/not-here"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "not a keystone endpoint" in _one_line_error(result)
