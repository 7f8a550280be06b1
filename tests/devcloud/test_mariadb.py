"""The dev cloud's own MariaDB: starts as the caller in its dir, serves a database, is reused, stops."""

from __future__ import annotations

import socket
import subprocess
import threading
from pathlib import Path

import pytest

from stacktap.devcloud import mariadb
from stacktap.errors import DevcloudError


def _query(url: str, sql: str) -> str:
    """Ask the server over TCP as the services' user (the real ``mariadb`` client)."""
    credentials, rest = url.split("://", 1)[1].split("@", 1)
    user, password = credentials.split(":", 1)
    host_port, database = rest.split("?")[0].split("/", 1)
    host, port = host_port.split(":")
    done = subprocess.run(
        [
            "mariadb",
            "--no-defaults",
            "-h",
            host,
            "-P",
            port,
            "-u",
            user,
            f"-p{password}",
            database,
            "-N",
            "-e",
            sql,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def test_start_serve_reuse_stop(tmp_path: Path) -> None:
    directory = tmp_path / "db"
    [url] = mariadb.start_server(directory, ["neutron"], "s3cret'pw")
    try:
        assert url.startswith("mysql+pymysql://stacktap:") and url.endswith("/neutron?charset=utf8")
        pid = mariadb.running_pid(directory)
        assert pid is not None
        _query(url, "CREATE TABLE t (x INT); INSERT INTO t VALUES (42)")
        assert _query(url, "SELECT x FROM t") == "42"
        # reused: same process, same data, and a second database next to the first
        neutron, other = mariadb.start_server(directory, ["neutron", "other"], "s3cret'pw")
        assert neutron == url
        assert mariadb.running_pid(directory) == pid
        assert _query(other, "SELECT 1") == "1"
        assert (directory.stat().st_mode & 0o777) == 0o700
    finally:
        assert mariadb.stop_server(directory) is True
    assert mariadb.running_pid(directory) is None
    assert not mariadb.answers(directory)
    assert mariadb.stop_server(directory) is False
    # the data survive a restart
    mariadb.start_server(directory, ["neutron"], "s3cret'pw")
    try:
        assert _query(url, "SELECT x FROM t") == "42"
    finally:
        mariadb.stop_server(directory)


def test_a_taken_port_is_one_line(tmp_path: Path) -> None:
    directory = tmp_path / "db"
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        directory.mkdir(mode=0o700)
        (directory / "server.json").write_text(f'{{"port": {port}}}\n')
        # NOTE: a listener that greets like a server: the port is someone else's.
        accepted: list[socket.socket] = []

        def greet() -> None:
            conn, _ = squatter.accept()
            conn.sendall(b"\x00\x00\x00\x0a")
            accepted.append(conn)

        threading.Thread(target=greet, daemon=True).start()
        with pytest.raises(DevcloudError) as info:
            mariadb.start_server(directory, ["neutron"], "pw")
    assert f"port 127.0.0.1:{port} kept for mariadb is taken" in str(info.value)
    assert mariadb.running_pid(directory) is None


def test_missing_mariadb_is_one_line_naming_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mariadb, "SERVER", "no-such-mariadbd")
    with pytest.raises(DevcloudError) as info:
        mariadb.start_server(tmp_path / "db", ["neutron"], "pw")
    assert "apt-get install mariadb-server" in str(info.value)
    assert "\n" not in str(info.value)
