"""``stacktap list``, ``show``, ``log``, ``curl`` and ``catalog``: read what a run recorded.

Thin commands: each loads a :class:`~stacktap.store.Trace` and hands it to a renderer
(``render.table``, ``render.log``, ``render.curl``).
"""

from __future__ import annotations

import click

from stacktap.catalog import name_calls
from stacktap.cli.options import db_option, emit_rows, format_option, one_line_errors, open_store
from stacktap.model import CLIENT, SERVER, Call
from stacktap.render.table import (
    CALL_COLUMNS,
    CALL_TREE_COLUMNS,
    CATALOG_COLUMNS,
    RUN_COLUMNS,
    call_rows,
    catalog_rows,
    run_rows,
)
from stacktap.store import Store, Trace, load_trace

_numbers_argument = click.argument("numbers", nargs=-1, type=click.IntRange(min=1), metavar="[N]...")


@click.command("list")
@db_option
@format_option
@click.option(
    "--limit", type=click.IntRange(min=1), default=None, metavar="N", help="Show the N newest runs."
)
@one_line_errors
def list_runs(db: str | None, fmt: str, limit: int | None) -> None:
    """Recorded runs, newest first."""
    with open_store(db) as store:
        rows = run_rows(store.runs(limit=limit), store.call_counts())
    emit_rows(RUN_COLUMNS, rows, fmt)


def with_request_id_links(store: Store, trace: Trace) -> Trace:
    """``trace`` plus the records that share only an ``x-openstack-request-id`` with it.

    NOTE: a service that got no ``traceparent`` (propagation off, or a proxy stripped it)
    records its side of a call in a trace of its own; the request id still links them. Such a
    server record is nested under the client call with the same request id (in memory only),
    and numbered after the run's own calls.
    """
    known = {call.span_id for call in trace.calls}
    request_ids = sorted({call.request_id for call in trace.calls if call.request_id})
    extra = [call for call in store.calls_by_request_id(request_ids) if call.span_id not in known]
    if not extra:
        return trace
    client_by_request_id: dict[str, Call] = {}
    for call in trace.calls:
        if call.side == CLIENT and call.request_id:
            client_by_request_id.setdefault(call.request_id, call)
    for call in extra:
        parent = client_by_request_id.get(call.request_id or "")
        if call.side == SERVER and parent is not None and call.parent_span_id not in known:
            call.parent_span_id = parent.span_id
    name_calls(extra, trace.catalog)
    number = max((call.seq or 0 for call in trace.calls), default=0)
    for call in sorted(extra, key=lambda c: c.start):
        number += 1
        call.seq = number
    calls = sorted(trace.calls + extra, key=lambda c: c.start)
    return Trace(run=trace.run, calls=calls, catalog=trace.catalog, db_calls=trace.db_calls)


@click.command("show")
@click.argument("run", default="last")
@db_option
@format_option
@click.option(
    "--all",
    "linked",
    is_flag=True,
    help="Also show records linked only by x-openstack-request-id (services that got no traceparent).",
)
@click.option(
    "--db-statements",
    "--sql",
    "sql",
    is_flag=True,
    help="Instead of the calls, the SQL the services ran while serving them, folded per call "
    "(count, time, rows; placeholders only).",
)
@click.option(
    "--no-fold",
    "no_fold",
    is_flag=True,
    help="One row per call, repeats too (the table folds a run of identical sibling calls, "
    "such as --wait polling, into one row).",
)
@one_line_errors
def show(run: str, db: str | None, fmt: str, linked: bool, sql: bool, no_fold: bool) -> None:
    """The calls of RUN (id, unique prefix or 'last'), in tree order.

    What a service did while serving a call (its server-side record, with the handler and
    middleware layer count, and the calls it made) is indented under that call. In the table,
    consecutive identical calls under one parent (polling) fold into one row: # FIRST-LAST,
    status xN, total duration, the first one's inner calls. json/yaml/value never fold.
    """
    with open_store(db) as store:
        trace = load_trace(store, run)
        if linked:
            trace = with_request_id_links(store, trace)
    if sql:
        from stacktap.render.db import DB_COLUMNS, db_rows

        emit_rows(DB_COLUMNS, db_rows(trace), fmt)
        return
    if fmt == "table":
        emit_rows(CALL_COLUMNS, call_rows(trace, indent=True, fold=not no_fold), fmt)
    else:
        emit_rows(CALL_COLUMNS + CALL_TREE_COLUMNS, call_rows(trace, indent=False), fmt)


@click.command("log")
@click.argument("run")
@_numbers_argument
@db_option
@one_line_errors
def log(run: str, numbers: tuple[int, ...], db: str | None) -> None:
    """The classic request/response dump of RUN: every client call, or calls N... (as numbered
    by 'stacktap show')."""
    from stacktap.render.log import render_log

    with open_store(db) as store:
        trace = load_trace(store, run)
    click.echo(render_log(trace, numbers), nl=False)


@click.command("curl")
@click.argument("run")
@_numbers_argument
@db_option
@one_line_errors
def curl(run: str, numbers: tuple[int, ...], db: str | None) -> None:
    """Runnable curl command lines for RUN's client calls (or calls N...); redacted secrets
    become shell variables ($OS_TOKEN, $OS_PASSWORD...)."""
    from stacktap.render.curl import render_curl

    with open_store(db) as store:
        trace = load_trace(store, run)
    click.echo(render_curl(trace, numbers), nl=False)


@click.command("catalog")
@click.argument("run", default="last")
@db_option
@format_option
@one_line_errors
def catalog(run: str, db: str | None, fmt: str) -> None:
    """The service catalog endpoints RUN saw (type, name, interface, region, URL)."""
    with open_store(db) as store:
        trace = load_trace(store, run)
    if not trace.catalog:
        click.echo(f"stacktap: no catalog seen in run {trace.run.id}", err=True)
    emit_rows(CATALOG_COLUMNS, catalog_rows(trace.catalog), fmt)
