"""``stacktap``: the command group. Each command lives in its own module under ``cli/``."""

from __future__ import annotations

import importlib

import click

from stacktap import __version__

#: (module, attribute) of every command, in the order ``--help`` lists them.
COMMANDS = [
    ("stacktap.cli.run", "run"),
    ("stacktap.cli.inspect", "list_runs"),
    ("stacktap.cli.inspect", "show"),
    ("stacktap.cli.inspect", "log"),
    ("stacktap.cli.inspect", "curl"),
    ("stacktap.cli.inspect", "catalog"),
    ("stacktap.cli.pictures", "diagram"),
    ("stacktap.cli.pictures", "report"),
    ("stacktap.cli.exchange", "export"),
    ("stacktap.cli.exchange", "import_"),
    ("stacktap.cli.understand", "api"),
    ("stacktap.cli.understand", "diff"),
    ("stacktap.cli.understand", "which"),
    ("stacktap.cli.paste", "paste"),
    ("stacktap.cli.merge", "merge"),
    ("stacktap.cli.devcloud", "devcloud"),
]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stacktap")
def cli() -> None:
    """See what an OpenStack command really does on the wire."""


for _module, _attr in COMMANDS:
    try:
        cli.add_command(getattr(importlib.import_module(_module), _attr))
    except ModuleNotFoundError as _exc:  # a command whose module is not written yet
        if _exc.name != _module:
            raise


def main() -> None:
    cli(prog_name="stacktap")
