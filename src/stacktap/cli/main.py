"""``stacktap``: the command group. Each command lives in its own module under ``cli/``."""

from __future__ import annotations

import importlib

import click

from stacktap import __version__

#: name -> (module, attribute) of every command, in the order ``--help`` lists them.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("stacktap.cli.run", "run"),
    "list": ("stacktap.cli.inspect", "list_runs"),
    "show": ("stacktap.cli.inspect", "show"),
    "log": ("stacktap.cli.inspect", "log"),
    "curl": ("stacktap.cli.inspect", "curl"),
    "catalog": ("stacktap.cli.inspect", "catalog"),
    "diagram": ("stacktap.cli.pictures", "diagram"),
    "report": ("stacktap.cli.pictures", "report"),
    "export": ("stacktap.cli.exchange", "export"),
    "import": ("stacktap.cli.exchange", "import_"),
    "api": ("stacktap.cli.understand", "api"),
    "diff": ("stacktap.cli.understand", "diff"),
    "which": ("stacktap.cli.understand", "which"),
    "paste": ("stacktap.cli.paste", "paste"),
    "merge": ("stacktap.cli.merge", "merge"),
    "devcloud": ("stacktap.cli.devcloud", "devcloud"),
}


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


def main() -> None:
    cli(prog_name="stacktap")
