"""The state file: kept choices survive a reload; it is private; junk is a clear error."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from stacktap.devcloud import state as state_file
from stacktap.devcloud.state import State
from stacktap.errors import DevcloudError


def test_round_trip_and_private(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    saved = State(python="/usr/bin/python3", trace_servers=True, db="/x.db", ports={"keystone": 5000})
    saved.mark_done("keystone")
    saved.mark_done("keystone")
    state_file.save(path, saved)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = state_file.load(path)
    assert loaded == saved and loaded.done == ["keystone"]


def test_each_cloud_gets_its_own_password() -> None:
    assert State().password != State().password and len(State().password) >= 20


def test_missing_is_none_and_junk_is_an_error(tmp_path: Path) -> None:
    assert state_file.load(tmp_path / "absent.json") is None
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(DevcloudError, match="cannot read"):
        state_file.load(tmp_path / "junk.json")
    (tmp_path / "other.json").write_text('{"version": 99}')
    with pytest.raises(DevcloudError, match="not a stacktap dev cloud state file"):
        state_file.load(tmp_path / "other.json")
