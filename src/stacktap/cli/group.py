"""The click group of ``stacktap``: each command is loaded from its module when it runs."""

from __future__ import annotations

import importlib

import click

from stacktap import __version__
from stacktap.cli.commands import COMMANDS


class _LazyGroup(click.Group):
    """Imports a command's module only when that command runs (or ``--help`` lists it).

    NOTE: ``stacktap run`` sits in front of the traced command: it must not pay for importing
    the renderers, the WSGI inspector and the dev cloud on every start.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attr = COMMANDS[cmd_name]
        command: click.Command = getattr(importlib.import_module(module), attr)
        return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stacktap")
def cli() -> None:
    """See what an OpenStack command really does on the wire."""
