"""Keyed marks: HMAC under a per-installation key, 0600 file, $STACKTAP_MARK_KEY."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from stacktap import redact_marks
from stacktap.redact import mark


@pytest.fixture(autouse=True)
def _fresh_key():
    redact_marks.reset_mark_key()
    yield
    redact_marks.reset_mark_key()


def test_a_guessed_password_cannot_be_confirmed_by_a_plain_hash() -> None:
    assert mark("password") != "{SHA256}" + hashlib.sha256(b"password").hexdigest()[:16]


def test_env_key_links_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STACKTAP_MARK_KEY", "fleet-key")
    first = mark("S3cret-value")
    redact_marks.reset_mark_key()
    assert mark("S3cret-value") == first
    monkeypatch.setenv("STACKTAP_MARK_KEY", "other-key")
    redact_marks.reset_mark_key()
    assert mark("S3cret-value") != first


def test_key_file_is_created_0600_and_reused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("STACKTAP_MARK_KEY", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.delenv("STACKTAP_MARK_KEY_FILE", raising=False)
    first = mark("S3cret-value")
    path = tmp_path / "stacktap" / "mark.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    redact_marks.reset_mark_key()
    assert mark("S3cret-value") == first
