"""Options and helpers shared by the commands: the store, output formats, one-line errors."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import click

from stacktap import settings
from stacktap.errors import StacktapError
from stacktap.store import Store, StoreError, default_db_path

F = TypeVar("F", bound=Callable[..., Any])

db_option = click.option(
    "--db",
    "db",
    envvar=settings.DB,
    default=None,
    metavar="PATH",
    help="Store file (default: $STACKTAP_DB or the user data dir).",
)

format_option = click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "yaml", "value"]),
    default="table",
    show_default=True,
    help="Output format, as in the OpenStack CLI.",
)


def fail(message: str, code: int = 1) -> None:
    """Print ``stacktap: <message>`` on stderr and exit ``code``: the one-line error."""
    click.echo(f"stacktap: {message}", err=True)
    sys.exit(code)


@contextmanager
def open_store(db: str | None, create: bool = False) -> Iterator[Store]:
    """Open the store for a command; a missing or broken store is a one-line error."""
    try:
        store = Store(db or default_db_path(), create=create)
    except StoreError as exc:
        fail(str(exc))
        raise  # unreachable: fail() exits
    try:
        yield store
    finally:
        store.close()


def one_line_errors(func: F) -> F:
    """Turn StacktapError (the one error base class), OSError and ValueError escaping a
    command into a one-line error."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except StacktapError as exc:
            fail(str(exc))
        except (OSError, ValueError) as exc:
            fail(str(exc) or type(exc).__name__)
        return None

    return wrapper  # type: ignore[return-value]


def emit_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str) -> None:
    """Print rows as an OpenStack-CLI-style table, JSON, YAML, or bare values."""
    records = [dict(zip(columns, row, strict=True)) for row in rows]
    if fmt == "json":
        click.echo(json.dumps(records, indent=2, default=str))
    elif fmt == "yaml":
        import yaml

        click.echo(
            yaml.safe_dump(records, sort_keys=False, default_flow_style=False),
            nl=False,
        )
    elif fmt == "value":
        for row in rows:
            click.echo(" ".join("" if v is None else str(v) for v in row))
    else:
        click.echo(format_table(columns, rows))


def format_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A ``+---+`` table like the OpenStack CLI prints."""
    text_rows = [["" if v is None else str(v) for v in row] for row in rows]
    widths = [len(c) for c in columns]
    for row in text_rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(cells)) + " |"

    out = [rule, line(list(columns)), rule]
    out.extend(line(row) for row in text_rows)
    out.append(rule)
    return "\n".join(out)
