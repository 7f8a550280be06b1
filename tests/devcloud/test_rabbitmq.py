"""The dev cloud's own RabbitMQ node: starts as the caller, speaks AMQP, is reused, stops."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import pytest
from tests.fixtures.rabbitmq import rabbitmq_url  # noqa: F401  (the fixture)

from stacktap.devcloud import rabbitmq
from stacktap.errors import DevcloudError


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].rstrip("/"))


def test_broker_answers_amqp_connection_start(rabbitmq_url: str) -> None:  # noqa: F811
    assert rabbitmq_url.startswith("rabbit://guest:guest@127.0.0.1:")
    with socket.create_connection(("127.0.0.1", _port(rabbitmq_url)), timeout=5) as sock:
        sock.sendall(b"AMQP\x00\x00\x09\x01")
        frame = sock.recv(7)
    # NOTE: a method frame (type 1) on channel 0: Connection.Start, the broker's first word.
    assert frame[:3] == b"\x01\x00\x00"


def test_start_stop_reuse_in_a_dir(tmp_path: Path) -> None:
    url = rabbitmq.start_broker(tmp_path)
    try:
        pid = rabbitmq.running_pid(tmp_path)
        assert pid is not None
        assert rabbitmq.start_broker(tmp_path) == url  # reused, not restarted
        assert rabbitmq.running_pid(tmp_path) == pid
        assert (tmp_path / "mnesia").is_dir() and (tmp_path / ".erlang.cookie").exists()
    finally:
        assert rabbitmq.stop_broker(tmp_path) is True
    assert rabbitmq.running_pid(tmp_path) is None
    assert not rabbitmq.accepts_amqp(_port(url), timeout=1)
    assert rabbitmq.stop_broker(tmp_path) is False


def test_missing_rabbitmq_is_one_line_naming_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rabbitmq, "SERVER", tmp_path / "no-such-rabbitmq-server")
    with pytest.raises(DevcloudError) as info:
        rabbitmq.start_broker(tmp_path / "broker")
    message = str(info.value)
    assert "apt-get install rabbitmq-server" in message and "\n" not in message


def test_a_crashed_broker_is_restarted_on_the_same_port(tmp_path: Path) -> None:
    url = rabbitmq.start_broker(tmp_path)
    try:
        pid = rabbitmq.running_pid(tmp_path)
        assert pid is not None
        os.killpg(pid, signal.SIGKILL)  # a crash: the pid file stays behind
        again = rabbitmq.start_broker(tmp_path)
        assert again == url
        assert rabbitmq.running_pid(tmp_path) not in (None, pid)
        assert rabbitmq.accepts_amqp(_port(url))
    finally:
        rabbitmq.stop_broker(tmp_path)


def test_a_broker_that_dies_while_starting_names_its_log(tmp_path: Path) -> None:
    rabbitmq.start_broker(tmp_path)
    rabbitmq.stop_broker(tmp_path)
    (tmp_path / ".erlang.cookie").chmod(0o644)  # erlang refuses a cookie others can read
    with pytest.raises(DevcloudError) as info:
        rabbitmq.start_broker(tmp_path, timeout=60)
    message = str(info.value)
    assert "rabbitmq exited" in message and str(tmp_path / "log" / "rabbitmq-server.out") in message
    assert rabbitmq.running_pid(tmp_path) is None
