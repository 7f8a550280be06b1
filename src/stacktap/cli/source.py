"""``stacktap open RUN N...``: the source of call N's call site and of its server-side handler."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess

import click

from stacktap.cli.options import db_option, fail, one_line_errors, open_store
from stacktap.render.source import SourcePlace, all_places, render_source
from stacktap.store import load_trace


def _editor_commands(places: list[SourcePlace]) -> list[list[str]]:
    """How to open ``places``: VS Code's ``code --goto`` when it is on PATH (one window for
    all), else ``$VISUAL`` / ``$EDITOR`` with ``+LINE FILE`` (vi, emacs, nano, ...), one by one."""
    code = shutil.which("code")
    if code:
        return [[code, "--goto", *(f"{p.site.file}:{p.site.line}" for p in places)]]
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not editor:
        fail("no editor to open the source with: put VS Code's `code` on PATH or set $EDITOR")
    return [[*shlex.split(editor or ""), f"+{p.site.line}", p.site.file] for p in places]


@click.command("open")
@click.argument("run")
@click.argument("numbers", nargs=-1, required=True, type=click.IntRange(min=1), metavar="N...")
@click.option(
    "--context",
    "-C",
    default=3,
    show_default=True,
    type=click.IntRange(min=0),
    help="Lines of source around each place.",
)
@click.option(
    "--editor",
    is_flag=True,
    help="Open the places in VS Code (`code --goto`) or $EDITOR instead of printing them.",
)
@db_option
@one_line_errors
def open_source(run: str, numbers: tuple[int, ...], context: int, editor: bool, db: str | None) -> None:
    """Where calls N... of RUN come from: the client code that issued each (its call site)
    and the handler that served it in each traced service (file, line and the code around)."""
    with open_store(db) as store:
        trace = load_trace(store, run)
    if not editor:
        click.echo(render_source(trace, numbers, context), nl=False)
        return
    places = all_places(trace, numbers)
    if not places:
        fail(f"calls {' '.join(map(str, numbers))} of run {trace.run.id} have no recorded source")
    for command in _editor_commands(places):
        subprocess.run(command, check=False)
