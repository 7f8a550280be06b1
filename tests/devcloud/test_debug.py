"""``up --debug SERVICE[:PORT]``: the flag's values, the ports picked and refused, the gunicorn
settings; faults through the CLI that need no running cloud."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from stacktap.cli.devcloud import devcloud
from stacktap.devcloud import debug, ports, processes
from stacktap.devcloud import state as state_file
from stacktap.devcloud.layout import Layout
from stacktap.devcloud.services import GLANCE
from stacktap.devcloud.state import State
from stacktap.errors import DevcloudError


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port some other process listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _cloud(tmp_path: Path, **kw: object) -> tuple[Layout, State]:
    layout = Layout(tmp_path / "cloud")
    layout.make_dirs()
    state = State(ports={"keystone": 1, "glance": 2, "nova": 3, "placement": 4}, **kw)  # type: ignore[arg-type]
    state_file.save(layout.state_file, state)
    return layout, state


def test_parse_takes_services_with_or_without_a_port() -> None:
    assert debug.parse(["glance", "keystone:5678", "glance"]) == {"glance": None, "keystone": 5678}
    assert debug.parse([]) == {}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["swift"], "unknown service 'swift' (one of: keystone, glance, nova, placement, neutron)"),
        (["glance:abc"], "the port must be a number from 1 to 65535"),
        (["glance:0"], "the port must be a number from 1 to 65535"),
        (["glance:70000"], "the port must be a number from 1 to 65535"),
        (["glance:5678", "glance:5679"], "given twice with different ports"),
        (["glance:5678", "nova:5678"], "two services cannot share one debug port"),
    ],
)
def test_parse_refuses_bad_values(values: list[str], message: str) -> None:
    with pytest.raises(DevcloudError, match=message.replace("(", r"\(").replace(")", r"\)")):
        debug.parse(values)


def test_resolve_keeps_an_asked_port_and_picks_free_ones(tmp_path: Path) -> None:
    layout, state = _cloud(tmp_path)
    asked = ports.pick_free_port()
    chosen = debug.resolve(layout, state, {"glance": asked, "keystone": None})
    assert chosen["glance"] == asked
    assert chosen["keystone"] not in (asked, *state.ports.values()) and ports.is_free(chosen["keystone"])


def test_resolve_reuses_the_port_a_service_had(tmp_path: Path) -> None:
    before = ports.pick_free_port()
    layout, state = _cloud(tmp_path, debug={"glance": before})
    assert debug.resolve(layout, state, {"glance": None}) == {"glance": before}


def test_resolve_moves_off_a_remembered_port_now_taken(tmp_path: Path, held_port: int) -> None:
    layout, state = _cloud(tmp_path, debug={"glance": held_port})
    chosen = debug.resolve(layout, state, {"glance": None})["glance"]
    assert chosen != held_port and ports.is_free(chosen)


def test_resolve_refuses_a_port_in_use(tmp_path: Path, held_port: int) -> None:
    layout, state = _cloud(tmp_path)
    with pytest.raises(DevcloudError, match=f"port 127.0.0.1:{held_port} is in use"):
        debug.resolve(layout, state, {"glance": held_port})


def test_resolve_refuses_a_service_port_and_nova_without_nova(tmp_path: Path) -> None:
    layout, state = _cloud(tmp_path)
    with pytest.raises(DevcloudError, match="that port serves a dev cloud service"):
        debug.resolve(layout, state, {"glance": state.ports["keystone"]})
    layout, state = _cloud(tmp_path, with_nova=False)
    with pytest.raises(DevcloudError, match="--debug nova: this dev cloud runs --without-nova"):
        debug.resolve(layout, state, {"nova": None})


def test_gunicorn_settings_are_empty_in_normal_mode_and_valid_python_in_debug_mode() -> None:
    assert debug.gunicorn_settings(None) == ""
    settings: dict[str, object] = {}
    exec(compile(debug.gunicorn_settings(5678), "gunicorn.conf.py", "exec"), settings)
    assert settings["timeout"] == 0 and callable(settings["post_worker_init"])
    assert "debugpy.listen(('127.0.0.1', 5678))" in debug.gunicorn_settings(5678)


def test_serving_port_reads_the_config_the_running_service_was_started_with(tmp_path: Path) -> None:
    layout, _ = _cloud(tmp_path, debug={"glance": 5678})
    conf = processes.conf_path(layout, "glance")
    conf.write_text(
        processes.gunicorn_conf(layout, GLANCE, 9292, GLANCE.wsgi_app, debug.gunicorn_settings(5678))
    )
    assert debug.serving_port(layout, "glance") is None  # not running
    # NOTE: a process that counts as the service: its command line names the config, its cwd is the dir.
    stand_in = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", str(conf)], cwd=layout.root
    )
    try:
        (layout.run / "glance.pid").write_text(f"{stand_in.pid}\n")
        assert debug.serving_port(layout, "glance") == 5678
        conf.write_text(processes.gunicorn_conf(layout, GLANCE, 9292, GLANCE.wsgi_app))
        assert debug.serving_port(layout, "glance") is None  # normal mode, whatever the state says
    finally:
        stand_in.kill()
        stand_in.wait()


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("stacktap: ")]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_up_with_an_unknown_debug_service_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(devcloud, ["up", "--dir", str(tmp_path / "c"), "--debug", "swift"])
    assert result.exit_code == 1
    assert "--debug swift: unknown service 'swift'" in _one_error_line(result.stderr)
    assert not (tmp_path / "c").exists()  # refused before anything was made


def test_up_with_a_debug_port_in_use_is_one_line_and_starts_nothing(tmp_path: Path, held_port: int) -> None:
    layout, _ = _cloud(tmp_path)
    args = ["up", "--dir", str(layout.root), "--debug", f"glance:{held_port}"]
    result = CliRunner().invoke(devcloud, args)
    assert result.exit_code == 1
    assert f"port 127.0.0.1:{held_port} is in use" in _one_error_line(result.stderr)
    assert not layout.venv.exists() and not list(layout.run.iterdir())
    saved = state_file.load(layout.state_file)
    assert saved is not None and saved.debug == {}
