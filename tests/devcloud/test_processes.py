"""Pid files: stale ones are detected and removed; a stranger's pid is never signalled."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from stacktap.devcloud import processes
from stacktap.devcloud.layout import Layout
from stacktap.devcloud.services import GLANCE


def _layout(tmp_path: Path) -> Layout:
    layout = Layout(tmp_path / "cloud")
    layout.make_dirs()
    return layout


def test_a_dead_pid_is_stale_and_forgotten(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    pid_file = layout.run / "glance.pid"
    pid_file.write_text(done.stdout)
    (layout.run / "glance.fingerprint").write_text("abc\n")
    assert processes.running(layout, "glance") is None
    assert not pid_file.exists() and processes.started_fingerprint(layout, "glance") is None


def test_a_strangers_pid_is_not_ours_and_not_signalled(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (layout.run / "glance.pid").write_text(f"{stranger.pid}\n")
        assert processes.running(layout, "glance") is None
        (layout.run / "glance.pid").write_text(f"{stranger.pid}\n")
        assert processes.stop(layout, "glance") is False
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


def test_junk_pid_file_is_stale(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    (layout.run / "glance.pid").write_text("not a pid")
    assert processes.running(layout, "glance") is None
    assert not (layout.run / "glance.pid").exists()


def test_fingerprint_follows_config_files_and_tracing_env(tmp_path: Path) -> None:
    conf = tmp_path / "glance-api.conf"
    conf.write_text("[DEFAULT]\n")
    argv = ["gunicorn", "-c", "x"]
    base = processes.fingerprint(argv, {"HOME": "/root"}, [conf])
    assert processes.fingerprint(argv, {"HOME": "/elsewhere"}, [conf]) == base  # unrelated variable
    assert processes.fingerprint(argv, {"STACKTAP_DB": "/x.db"}, [conf]) != base
    conf.write_text("[DEFAULT]\ndebug = true\n")
    assert processes.fingerprint(argv, {"HOME": "/root"}, [conf]) != base


def test_gunicorn_conf_hides_argv_and_keeps_the_control_socket_in_the_dir(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    text = processes.gunicorn_conf(layout, GLANCE, 9292, GLANCE.wsgi_app)
    namespace: dict[str, object] = {}
    saved = sys.argv[:]
    try:
        sys.argv[:] = ["gunicorn", "-c", "conf.py"]
        exec(compile(text, "conf.py", "exec"), namespace)
        assert sys.argv == ["gunicorn"]
    finally:
        sys.argv[:] = saved
    assert namespace["bind"] == ["127.0.0.1:9292"] and namespace["wsgi_app"] == GLANCE.wsgi_app
    assert namespace["control_socket"] == str(layout.run / "glance.ctl")
    deep = _layout(tmp_path / ("d" * 120))
    assert "control_socket_disable = True" in processes.gunicorn_conf(deep, GLANCE, 9292, GLANCE.wsgi_app)
