"""The compute side's pieces that need no cloud: the image, the daemons' processes, their errors."""

from __future__ import annotations

import struct
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from oslo_utils.imageutils import format_inspector

from stacktap.devcloud import compute, daemons
from stacktap.devcloud.layout import Layout
from stacktap.devcloud.services import COMPUTE, CONDUCTOR, SCHEDULER


def test_image_passes_glances_format_inspection(tmp_path: Path) -> None:
    # NOTE: the inspector glance runs on every upload; a boot signature without a partition
    # table fails its MBR safety check (HTTP 415 from glance), which is what this guards.
    image = tmp_path / "devcloud.raw"
    image.write_bytes(compute.raw_image())
    found = format_inspector.detect_file_format(str(image))
    found.safety_check()  # raises SafetyCheckFailed when glance would refuse it
    data = image.read_bytes()
    assert data[510:512] == b"\x55\xaa" and data[446] == 0x80 and data[450] == 0x83
    first, count = struct.unpack("<II", data[454:462])
    assert first == 2048 and first + count == len(data) // 512


def _fake_daemon(layout: Layout, script: str) -> None:
    """A stand-in console script in the layout's venv bin: a real process that sleeps."""
    layout.bin.mkdir(parents=True, exist_ok=True)
    (layout.bin / script).write_text("import time\nwhile True:\n    time.sleep(1)\n")
    layout.python.symlink_to(sys.executable)


def test_daemon_start_running_stop(tmp_path: Path) -> None:
    layout = Layout.at(tmp_path / "cloud")
    layout.make_dirs()
    _fake_daemon(layout, CONDUCTOR.process)
    argv = daemons.command(layout, CONDUCTOR, [tmp_path / "nova.conf"])
    assert argv[1:] == [str(layout.bin / "nova-conductor"), "--config-file", str(tmp_path / "nova.conf")]
    proc = daemons.start(layout, CONDUCTOR, argv, {"PATH": "/usr/bin:/bin"}, "fp1")
    try:
        deadline = time.monotonic() + 10
        while daemons.running(layout, CONDUCTOR) is None and time.monotonic() < deadline:
            time.sleep(0.1)
        current = daemons.running(layout, CONDUCTOR)
        assert current is not None and current.pid == proc.pid
        assert daemons.started_fingerprint(layout, CONDUCTOR) == "fp1"
        assert daemons.running(layout, SCHEDULER) is None  # another daemon's files are not its
        assert "starting nova-conductor" in layout.log("conductor").read_text()
    finally:
        assert daemons.stop(layout, CONDUCTOR, timeout=5) is True
    assert proc.wait(timeout=5) is not None
    assert daemons.running(layout, CONDUCTOR) is None
    assert daemons.stop(layout, CONDUCTOR) is False


def test_a_stale_pid_file_is_never_signalled(tmp_path: Path) -> None:
    layout = Layout.at(tmp_path / "cloud")
    layout.make_dirs()
    # NOTE: pid 1 is alive but is not this dev cloud's conductor.
    (layout.run / "conductor.pid").write_text("1\n")
    assert daemons.running(layout, CONDUCTOR) is None
    assert not (layout.run / "conductor.pid").exists()
    assert daemons.stop(layout, CONDUCTOR) is False


def test_log_tail_names_the_exception_of_an_oslo_traceback(tmp_path: Path) -> None:
    layout = Layout.at(tmp_path / "cloud")
    layout.make_dirs()
    layout.log("compute").write_text(
        "2026-12-03 14:07:09.816 17637 INFO nova.service [-] Starting compute node\n"
        "2026-12-03 14:07:09.816 17637 ERROR nova Traceback (most recent call last):\n"
        '2026-12-03 14:07:09.816 17637 ERROR nova   File "manager.py", line 1495, in _ensure\n'
        "2026-12-03 14:07:09.816 17637 ERROR nova     raise exception.InvalidConfiguration(\n"
        "2026-12-03 14:07:09.816 17637 ERROR nova nova.exception.InvalidConfiguration: No local node\n"
        "2026-12-03 14:07:09.816 17637 ERROR nova \n"
    )
    assert daemons.log_tail(layout, CONDUCTOR) == ""
    assert daemons.log_tail(layout, COMPUTE) == "nova.exception.InvalidConfiguration: No local node"


def test_the_driver_is_copied_into_novas_virt_package_once(tmp_path: Path) -> None:
    layout = Layout.at(tmp_path)
    virt = layout.venv / "lib" / "python3.11" / "site-packages" / "nova" / "virt"
    virt.mkdir(parents=True)
    path = compute.install_driver(layout)
    assert path == virt / f"{compute.DRIVER_MODULE}.py"
    assert "class ImageFetchingFakeDriver(fake.FakeDriverWithoutFakeNodes)" in path.read_text()
    assert f"{compute.DRIVER_MODULE}.ImageFetchingFakeDriver" == compute.DRIVER
    written = path.stat().st_mtime_ns
    assert compute.install_driver(layout) == path and path.stat().st_mtime_ns == written
    path.write_text("# an older driver\n")
    compute.install_driver(layout)
    assert "ImageFetchingFakeDriver" in path.read_text()


def test_a_changed_driver_changes_the_daemons_fingerprint(tmp_path: Path) -> None:
    layout = Layout.at(tmp_path)
    (layout.etc("nova")).mkdir(parents=True)
    (layout.etc("nova") / "nova.conf").write_text("[DEFAULT]\n")
    driver = tmp_path / "driver.py"
    driver.write_text("one\n")
    first = compute._plan(layout, COMPUTE, driver, None).fingerprint
    driver.write_text("two\n")
    assert compute._plan(layout, COMPUTE, driver, None).fingerprint != first


def _row(
    binary: str, updated_at: str | None, state: str = "up", status: str = "enabled"
) -> dict[str, object]:
    """One os-services row as nova-api answers it (``updated_at`` in UTC, no zone)."""
    row: dict[str, object] = {"binary": binary, "host": compute.HOST_NAME, "state": state, "status": status}
    return {**row, "updated_at": updated_at}


_LAUNCHED = datetime(2026, 12, 3, 17, 6, 30, 400000, tzinfo=timezone.utc)
_BINARIES = ["nova-conductor", "nova-scheduler", "nova-compute"]


def test_a_daemon_this_up_started_needs_a_heartbeat_newer_than_its_start() -> None:
    # the rows right after `up --without compute; up --with compute`: nova still says "up"
    # from the stopped daemons' last heartbeats (fresher than service_down_time)
    old = [_row(binary, "2026-12-03T17:06:09.000000") for binary in _BINARIES]
    started = {binary: _LAUNCHED for binary in _BINARIES}
    assert compute.not_up_yet(old, started) == _BINARIES
    # a heartbeat in the launch's own second is not newer (MariaDB keeps whole seconds)
    same_second = [_row(binary, "2026-12-03T17:06:30.000000") for binary in _BINARIES]
    assert compute.not_up_yet(same_second, started) == _BINARIES
    fresh = [_row("nova-conductor", "2026-12-03T17:06:31.000000"), *old[1:]]
    assert compute.not_up_yet(fresh, started) == ["nova-scheduler", "nova-compute"]
    all_fresh = [_row(binary, "2026-12-03T17:06:41.000000") for binary in _BINARIES]
    assert compute.not_up_yet(all_fresh, started) == []


def test_reused_daemons_are_taken_at_novas_word_and_down_ones_wait() -> None:
    old = [_row(binary, "2026-12-03T17:06:09.000000") for binary in _BINARIES]
    assert compute.not_up_yet(old, {}) == []  # all reused: as before the fix
    assert compute.not_up_yet(old, {"nova-compute": _LAUNCHED}) == ["nova-compute"]
    rows = [
        _row("nova-conductor", "2026-12-03T17:06:41.000000", state="down"),
        _row("nova-scheduler", "2026-12-03T17:06:41.000000", status="disabled"),
    ]
    assert compute.not_up_yet(rows, {}) == _BINARIES  # down, disabled, and compute not listed at all
    assert compute.not_up_yet([_row("nova-compute", None), *old[:2]], {"nova-compute": _LAUNCHED}) == [
        "nova-compute"
    ]


def test_heartbeat_reads_novas_utc_timestamps() -> None:
    assert compute.heartbeat(_row("nova-compute", "2026-12-03T17:06:09.000000")) == datetime(
        2026, 12, 3, 17, 6, 9, tzinfo=timezone.utc
    )
    assert compute.heartbeat(_row("nova-compute", "2026-12-03T17:06:09Z")) == datetime(
        2026, 12, 3, 17, 6, 9, tzinfo=timezone.utc
    )
    assert compute.heartbeat(_row("nova-compute", None)) is None
    assert compute.heartbeat(_row("nova-compute", "yesterday")) is None
