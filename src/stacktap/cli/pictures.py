"""``stacktap diagram`` and ``stacktap report``: a run as a sequence diagram or an HTML report."""

from __future__ import annotations

from pathlib import Path

import click

from stacktap.cli.options import db_option, fail, one_line_errors, open_store
from stacktap.store import load_trace

_limit_option = click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Draw at most N calls (the rest are summed up in a note).",
)


def _write(text: str, output: str | None) -> None:
    if output is None or output == "-":
        click.echo(text, nl=False)
        return
    path = Path(output)
    if path.is_dir():
        fail(f"{output} is a directory: give a file name")
    path.write_text(text, encoding="utf-8")


@click.command("diagram")
@click.argument("run", default="last")
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "plantuml"]),
    default="mermaid",
    show_default=True,
    help="Diagram language.",
)
@click.option("-o", "--output", default=None, metavar="FILE", help="Write to FILE instead of stdout.")
@_limit_option
@db_option
@one_line_errors
def diagram(run: str, fmt: str, output: str | None, limit: int | None, db: str | None) -> None:
    """Sequence diagram of RUN (id, prefix or 'last'): who called whom, in order."""
    with open_store(db) as store:
        trace = load_trace(store, run)
    if fmt == "plantuml":
        from stacktap.render.plantuml import render_plantuml

        text = render_plantuml(trace, limit=limit)
    else:
        from stacktap.render.mermaid import render_mermaid

        text = render_mermaid(trace, limit=limit)
    _write(text, output)


@click.command("report")
@click.argument("run", default="last")
@click.option(
    "-o",
    "--output",
    default=None,
    metavar="FILE",
    help="The HTML file to write (default: stacktap-<run id>.html; '-' for stdout).",
)
@click.option(
    "--diagram-limit",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Calls drawn in the report's sequence diagram (default 200).",
)
@db_option
@one_line_errors
def report(run: str, output: str | None, diagram_limit: int | None, db: str | None) -> None:
    """One self-contained HTML file for RUN: summary, sequence diagram, every call in detail.

    The file opens offline: nothing is fetched, bodies are shown as stored (redacted).
    """
    from stacktap.render.html import DIAGRAM_LIMIT, render_report

    with open_store(db) as store:
        trace = load_trace(store, run)
    html = render_report(trace, diagram_limit=diagram_limit or DIAGRAM_LIMIT)
    target = output or f"stacktap-{trace.run.id}.html"
    _write(html, target)
    if target != "-":
        click.echo(f"{target} ({len(trace.calls)} calls)", err=True)
