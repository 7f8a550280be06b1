"""The SQL a run's services ran, folded per parent call: ``show --db`` and the report's section.

One row per (parent call, distinct statement): how many times the parent ran it and how long
they took together, the parent named by its call number, the service that ran it and what it
was serving. Statements are shown with their placeholders (values are never recorded) and with
whitespace collapsed; identical texts fold into one row, in the order they were first run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stacktap.model import Call
from stacktap.store import Trace

DB_COLUMNS = ["#", "Service", "Serving", "Count", "Time (ms)", "Rows", "SQL"]
_SPACES = re.compile(r"\s+")
_SQL_WIDTH = 120


@dataclass
class FoldedStatement:
    """One distinct statement under one parent call."""

    parent: Call | None
    sql: str
    count: int = 0
    seconds: float = 0.0
    rows: int = 0


def fold_statements(trace: Trace) -> list[FoldedStatement]:
    """The run's statements folded per (parent, text), parents in call order."""
    folded: dict[tuple[str | None, str], FoldedStatement] = {}
    for statement in trace.db_calls:
        sql = _SPACES.sub(" ", str(statement.attributes.get("statement") or statement.method)).strip()
        key = (statement.parent_span_id, sql)
        entry = folded.get(key)
        if entry is None:
            parent = trace.call(statement.parent_span_id) if statement.parent_span_id else None
            entry = folded[key] = FoldedStatement(parent, sql)
        entry.count += 1
        entry.seconds += statement.duration or 0.0
        rowcount = statement.attributes.get("rowcount")
        if isinstance(rowcount, int) and rowcount > 0:
            entry.rows += rowcount
    return sorted(folded.values(), key=lambda f: (f.parent.seq or 0) if f.parent else 0)


def statement_row(entry: FoldedStatement, width: int = _SQL_WIDTH) -> list[object]:
    """One row for :data:`DB_COLUMNS`."""
    parent = entry.parent
    serving = f"{parent.method} {parent.path_template or parent.url}" if parent else "-"
    service = (parent.local_service if parent else None) or "-"
    sql = entry.sql if len(entry.sql) <= width else entry.sql[: width - 3] + "..."
    number = f"#{parent.seq}" if parent and parent.seq else "-"
    return [number, service, serving, entry.count, round(entry.seconds * 1000, 1), entry.rows, sql]


def db_rows(trace: Trace, width: int = _SQL_WIDTH) -> list[list[object]]:
    """Rows for :data:`DB_COLUMNS`."""
    return [statement_row(entry, width) for entry in fold_statements(trace)]
