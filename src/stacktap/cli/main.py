"""``stacktap``: the entry point. Each command lives in its own module under ``cli/``.

NOTE: start-up cost. ``stacktap run`` sits in front of the traced command, so this module
imports neither click nor any command: ``main()`` gives ``stacktap run ...`` to
``stacktap.cli.run.main_fast`` first, which runs the usual command lines without click
(importing it and parsing with it cost ~13 ms, a fifth of the wrapper's own start-up).
The click group, ``cli``, lives in ``stacktap.cli.group`` and is loaded for everything else.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import click

#: name -> (module, attribute) of every command, in the order ``--help`` lists them.
from stacktap.cli.commands import COMMANDS

__all__ = ["COMMANDS", "main"]


def main() -> None:
    """The ``stacktap`` console script."""
    args = sys.argv[1:]
    if args[:1] == ["run"]:
        from stacktap.cli.run import main_fast

        main_fast(args[1:])  # exits, unless the arguments need click's parser
    from stacktap.cli.group import cli

    cli(prog_name="stacktap")


def __getattr__(name: str) -> click.Group:
    # NOTE: `from stacktap.cli.main import cli` goes on working, loading click only then.
    if name == "cli":
        from stacktap.cli.group import cli

        return cli
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
