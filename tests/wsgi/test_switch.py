from __future__ import annotations

from pathlib import Path

from stacktap.agent.server.switch import Switch, control_files


def test_control_files_sit_next_to_the_store(tmp_path: Path) -> None:
    db = str(tmp_path / "stacktap.db")
    assert control_files(db, "keystone") == [
        str(tmp_path / "stacktap.disabled"),
        str(tmp_path / "stacktap.keystone.disabled"),
    ]


def test_the_switch_looks_at_most_once_per_interval(tmp_path: Path) -> None:
    switch = Switch(str(tmp_path / "stacktap.db"), "nova-api", interval=3600)
    assert switch.on()
    (tmp_path / "stacktap.disabled").touch()
    assert switch.on()  # cached until the interval is over
    assert not Switch(str(tmp_path / "stacktap.db"), "nova-api", interval=3600).on()


def test_enabled_false_is_off_for_good(tmp_path: Path) -> None:
    assert not Switch(str(tmp_path / "stacktap.db"), enabled=False).on()
