"""Finding the Python of an ``openstack`` script from its shebang."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from stacktap.which.interpreter import WhichError, find_openstack, script_python


def _script(tmp_path: Path, text: str, name: str = "openstack") -> str:
    path = tmp_path / name
    path.write_text(text)
    path.chmod(0o755)
    return str(path)


def test_plain_shebang(tmp_path: Path) -> None:
    assert script_python(_script(tmp_path, f"#!{sys.executable}\nimport x\n")) == sys.executable


def test_env_shebang_resolves_on_the_given_path(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    python = bin_dir / "python3"
    python.symlink_to(sys.executable)
    script = _script(tmp_path, "#!/usr/bin/env -S python3\n")
    assert script_python(script, path=str(bin_dir)) == str(python)


def test_pip_sh_trampoline_for_long_paths(tmp_path: Path) -> None:
    text = f"#!/bin/sh\n'''exec' \"{sys.executable}\" \"$0\" \"$@\"\n' '''\nimport sys\n"
    assert script_python(_script(tmp_path, text)) == sys.executable


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("\x7fELF binary", "not a Python script"),
        ("#!/bin/sh\necho hi\n", "shell script, not a Python entry point"),
        ("#!/nowhere/python3\n", "is not there"),
        ("#!/bin/true\n", "not Python"),
    ],
)
def test_unusable_scripts_give_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(WhichError, match=message):
        script_python(_script(tmp_path, text))


def test_find_openstack_on_path_or_explicit(tmp_path: Path) -> None:
    script = _script(tmp_path, f"#!{sys.executable}\n")
    assert find_openstack(None, path=str(tmp_path)) == script
    assert find_openstack(script) == os.path.abspath(script)
    with pytest.raises(WhichError, match="no openstack on PATH"):
        find_openstack(None, path=str(tmp_path / "empty"))
    with pytest.raises(WhichError, match="no such file"):
        find_openstack(str(tmp_path / "missing"))
