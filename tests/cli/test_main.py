"""The command group: every listed command loads, under the name ``--help`` shows."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from stacktap.cli.main import COMMANDS, cli


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_command_loads_under_its_name(name: str) -> None:
    command = cli.get_command(click.Context(cli), name)
    assert command is not None and command.name == name


def test_unknown_command_is_one_line_error() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "from stacktap.cli.main import main; main()", "shwo"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2
    assert "No such command 'shwo'" in out.stderr and "Traceback" not in out.stderr


def test_run_does_not_import_the_renderers() -> None:
    """``stacktap run`` starts in front of the traced command: the other commands stay unloaded."""
    probe = (
        "import sys; from stacktap.cli.main import cli; import click;"
        "cli.get_command(click.Context(cli), 'run');"
        "print(sorted(m for m in sys.modules if m.startswith(('stacktap.render', 'stacktap.devcloud'))))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
