"""The report's RPC and database sections: what the services said to each other over
oslo.messaging, and the SQL they ran, each as one table under the waterfall.

The waterfall has every record in tree order; these tables answer the two questions it makes
hard to see at a glance: which messages went between which services (sender, topic, call or
cast, method and version, outcome, which endpoint handled it and for how long), and where the
database time went (per service, then per call and statement, as ``show --sql`` folds it).
A run without RPC or SQL gets neither section.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from stacktap.model import KIND_RPC_CALL, KIND_RPC_CAST, KIND_RPC_SERVER, Call
from stacktap.render.api_map import rpc_method, rpc_version
from stacktap.render.calls import format_ms, status_text
from stacktap.render.db import DB_COLUMNS, fold_statements, statement_row
from stacktap.store.trace import Trace, service_label

RPC_COLUMNS = (
    "#", "From", "To", "How", "Method", "Version", "Status", "Time (ms)", "Handled by", "Handler (ms)"
)  # fmt: skip
DB_SERVICE_COLUMNS = ("Service", "Statements", "Time (ms)")


def _link(call: Call | None) -> str:
    """The call's number, linked to its row of the waterfall."""
    if call is None or call.seq is None:
        return "-"
    return f'<a href="#call-{call.seq}">{call.seq}</a>'


def _table(table_id: str, columns: Sequence[str], rows: list[list[str]]) -> str:
    """A table of cells already escaped."""
    head = "".join(f"<th>{escape(column)}</th>" for column in columns)
    body = "".join("<tr>{}</tr>".format("".join(f"<td>{cell}</td>" for cell in row)) for row in rows)
    return f'<table class="data" id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _handling(trace: Trace, send: Call) -> Call | None:
    """The record of the endpoint that handled ``send`` (its server-side child), if traced."""
    return next((c for c in trace.children(send) if c.kind == KIND_RPC_SERVER), None)


def rpc_section(trace: Trace) -> str:
    """One row per RPC call, cast or fanout sent, in tree order; empty without any."""
    rows = []
    for send in trace.walk():
        if send.kind not in (KIND_RPC_CALL, KIND_RPC_CAST):
            continue
        handled = _handling(trace, send)
        state = "err" if send.failed else "ok"
        rows.append(
            [
                _link(send),
                escape(send.local_service or send.process_name or "-"),
                escape(service_label(send)),
                escape(rpc_method(send, trace)),
                f"<code>{escape(send.method)}</code>",
                escape(rpc_version(send) or "-"),
                f'<span class="status {state}">{escape(status_text(send))}</span>',
                escape(format_ms(send.duration)),
                f"{_link(handled)} <code>{escape(handled.handler or '?')}</code>" if handled else "-",
                escape(format_ms(handled.duration)) if handled else "-",
            ]
        )
    if not rows:
        return ""
    return (
        '<section id="rpc-section"><h2>RPC messages</h2>'
        f'<p class="lead">{len(rows)} sent over oslo.messaging: a call waits for its reply, a cast'
        " returns once published; the handler's time is the endpoint method's.</p>"
        f"{_table('rpc-table', RPC_COLUMNS, rows)}</section>"
    )


def db_section(trace: Trace) -> str:
    """The SQL per service, then folded per call and statement; empty without any."""
    if not trace.db_calls:
        return ""
    per_service: dict[str, list[float]] = {}
    for statement in trace.db_calls:
        parent = trace.call(statement.parent_span_id) if statement.parent_span_id else None
        service = (parent.local_service if parent else None) or statement.local_service or "-"
        per_service.setdefault(service, []).append(statement.duration or 0.0)
    totals = sorted(per_service.items(), key=lambda item: -sum(item[1]))
    summary = [[escape(name), str(len(times)), escape(format_ms(sum(times)))] for name, times in totals]
    folded = []
    for entry in fold_statements(trace):
        _, *cells, sql = statement_row(entry)
        code = f"<code>{escape(str(sql))}</code>"
        folded.append([_link(entry.parent), *(escape(str(cell)) for cell in cells), code])
    return (
        '<section id="db-section"><h2>Database</h2>'
        f'<p class="lead">{len(trace.db_calls)} SQL statements run while the services served this'
        " command (placeholders only: values are never recorded).</p>"
        f"{_table('db-services', DB_SERVICE_COLUMNS, summary)}"
        f"<details><summary>Statements per call</summary>{_table('db-statements', DB_COLUMNS, folded)}"
        "</details></section>"
    )
