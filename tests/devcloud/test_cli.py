"""``stacktap devcloud`` faults that need no running cloud: one-line errors and exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from stacktap.cli.devcloud import devcloud
from stacktap.devcloud import state as state_file
from stacktap.devcloud.layout import Layout
from stacktap.devcloud.state import State


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(devcloud, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("stacktap: ")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def _saved_state(tmp_path: Path, **kw: object) -> Layout:
    layout = Layout(tmp_path / "cloud")
    layout.make_dirs()
    state_file.save(layout.state_file, State(ports={"keystone": 1, "glance": 2, "nova": 3}, **kw))  # type: ignore[arg-type]
    return layout


def test_up_with_a_missing_python_is_one_line(tmp_path: Path) -> None:
    code, _, err = _run("up", "--dir", str(tmp_path / "c"), "--python", str(tmp_path / "no-python"))
    assert code == 1
    assert "no such interpreter" in _one_error_line(err)


def test_up_with_a_python_too_old(tmp_path: Path) -> None:
    old = "/root/.pyenv/versions/3.8.18/bin/python"
    if not os.path.exists(old):
        pytest.fail("the Python 3.8 used for compat tests is missing: " + old)
    code, _, err = _run("up", "--dir", str(tmp_path / "c"), "--python", old)
    assert code == 1
    assert "is Python 3.8" in _one_error_line(err)


def test_up_with_a_program_that_is_not_python(tmp_path: Path) -> None:
    code, _, err = _run("up", "--dir", str(tmp_path / "c"), "--python", "/bin/true")
    assert code == 1
    assert "not a Python interpreter" in _one_error_line(err)


def test_failed_pip_install_names_the_log(tmp_path: Path) -> None:
    # NOTE: a real venv and a real pip, offered no index and an empty wheel dir: it must fail.
    empty = tmp_path / "no-wheels"
    empty.mkdir()
    env = {"PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(empty)}
    directory = tmp_path / "c"
    code, _, err = _run("up", "--dir", str(directory), "--python", sys.executable, env=env)
    line = _one_error_line(err)
    assert code == 1
    assert "pip install" in line and "read %s" % (directory / "logs" / "pip.log") in line
    assert "keystone" in (directory / "logs" / "pip.log").read_text()
    assert "installing" in err  # the progress line came first


def test_down_without_a_cloud_is_an_error(tmp_path: Path) -> None:
    code, _, err = _run("down", "--dir", str(tmp_path / "nothing-here"))
    assert code == 1
    assert "no dev cloud in" in _one_error_line(err)


def test_down_when_nothing_runs_says_so_and_succeeds(tmp_path: Path) -> None:
    layout = _saved_state(tmp_path)
    code, _, err = _run("down", "--dir", str(layout.root))
    assert code == 0
    assert "nothing was running" in err


def test_status_when_nothing_runs_exits_1(tmp_path: Path) -> None:
    layout = _saved_state(tmp_path)
    code, out, _ = _run("status", "--dir", str(layout.root))
    assert code == 1
    assert out.count("stopped") == 4 and str(layout.log("glance")) in out
    assert "up --with compute" in out


def test_status_with_compute_lists_the_compute_side(tmp_path: Path) -> None:
    layout = _saved_state(tmp_path, with_compute=True)
    code, out, _ = _run("status", "--dir", str(layout.root), "-f", "value")
    assert code == 1
    rows = [line.split() for line in out.splitlines()]
    assert [row[0] for row in rows] == [
        "keystone", "glance", "nova", "placement", "neutron", "rabbitmq", "mariadb",
        "conductor", "scheduler", "compute",
    ]  # fmt: skip
    assert all("stopped" in row for row in rows)
    assert [row[1] for row in rows[-3:]] == ["rpc:nova-conductor", "rpc:nova-scheduler", "rpc:nova-compute"]


def test_with_compute_without_nova_is_one_line(tmp_path: Path) -> None:
    code, _, err = _run("up", "--dir", str(tmp_path / "c"), "--with", "compute", "--without", "nova")
    assert code == 1
    assert "--with compute needs nova" in _one_error_line(err)
    assert not (tmp_path / "c").exists()


def test_with_and_without_compute_together_is_one_line(tmp_path: Path) -> None:
    code, _, err = _run("up", "--dir", str(tmp_path / "c"), "--with", "compute", "--without", "compute")
    assert code == 1
    assert "--with compute and --without compute contradict" in _one_error_line(err)


def test_status_without_nova_lists_two_services(tmp_path: Path) -> None:
    layout = _saved_state(tmp_path, with_nova=False)
    _, out, _ = _run("status", "--dir", str(layout.root), "-f", "value")
    assert [line.split()[0] for line in out.splitlines()] == ["keystone", "glance"]


def test_env_exports_evaluate_in_a_shell(tmp_path: Path) -> None:
    layout = _saved_state(tmp_path / "with space")
    code, out, _ = _run("env", "--dir", str(layout.root))
    assert code == 0
    script = out + '\nprintf "%s\\n" "$OS_AUTH_URL" "$OS_PASSWORD" "$OS_CLIENT_CONFIG_FILE" "$PATH"'
    shown = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}, check=True
    ).stdout.splitlines()
    state = state_file.load(layout.state_file)
    assert state is not None
    assert shown == [
        "http://127.0.0.1:1/v3",
        state.password,
        str(layout.clouds_yaml),
        f"{layout.bin}:/usr/bin:/bin",
    ]


def test_env_without_a_cloud_is_an_error(tmp_path: Path) -> None:
    code, _, err = _run("env", "--dir", str(tmp_path))
    assert code == 1
    assert "stacktap devcloud up --dir" in _one_error_line(err)


def test_with_and_without_nova_together_is_one_line(tmp_path: Path) -> None:
    code, _, err = _run("up", "--dir", str(tmp_path / "c"), "--with", "nova", "--without", "nova")
    assert code == 1
    assert "contradict" in _one_error_line(err)


def test_missing_names_the_packages_compute_lacks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from stacktap.devcloud import mariadb, rabbitmq

    # NOTE: this machine has both (the e2e tests run them): each is taken away where it is looked for
    if not (rabbitmq.installed() and mariadb.installed()):
        pytest.skip("needs rabbitmq-server and mariadb-server installed (tools/install-test-tools.sh)")
    assert _run("missing")[:2] == (0, "")
    monkeypatch.setattr(rabbitmq, "SERVER", tmp_path / "no-such-rabbitmq-server")
    assert _run("missing")[:2] == (1, "rabbitmq-server\n")
    monkeypatch.setattr(mariadb, "INSTALL", "no-such-mariadb-install-db")
    assert _run("missing")[:2] == (1, "rabbitmq-server\nmariadb-server\n")
