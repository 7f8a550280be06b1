"""Record the SQL statements a traced request or message runs: SQLAlchemy cursor events.

``before_cursor_execute``/``after_cursor_execute`` listeners on the ``Engine`` class (so
every engine, made before or after the patch) time each statement and hand a ``db`` record
to the recorder: the statement as sent to the driver, with its placeholders (the parameter
values are never read), the row count, the duration, and as parent the span being served
(``stacktap.agent.context``). Outside any traced work nothing is recorded unless
``$STACKTAP_DB_UNTRACED`` is ``1`` (periodic tasks would flood the trace otherwise).

NOTE: standard library only, Python 3.8+ (runs inside services); SQLAlchemy is the
service's own, imported by the service before this runs.
"""

from __future__ import annotations

import os
import re
import threading
import time
from types import ModuleType
from typing import Any, Optional

from stacktap import settings
from stacktap.agent import context
from stacktap.agent.faults import report_fault
from stacktap.agent.recorder import get_recorder
from stacktap.model import CLIENT, KIND_DB, Call, new_span_id, new_trace_id

_MARK = "_stacktap_sql_hooked"
#: Where the start of a statement waits for its end, on SQLAlchemy's execution context.
_STARTED = "_stacktap_started"


def _engine_url(conn: Any) -> str:
    """``sqlite:///nova.db``, ``mysql+pymysql://host/nova``: no user, no password."""
    url = conn.engine.url
    host = url.host or ""
    if url.port:
        host = "%s:%s" % (host, url.port)
    return "%s://%s/%s" % (url.drivername, host, url.database or "")


#: A quoted SQL string literal ('it''s' included).
_STRING_LITERAL = re.compile(r"'(?:[^']|'')*'")


def placeholders_only(statement: str) -> str:
    """``statement`` with every quoted string literal replaced by ``?``.

    NOTE: the driver's placeholders carry the values and are never read; a literal written
    into the SQL text itself (``text("... password = 'x'")``) could still be a secret, and
    SQL is no body the redactor understands (it would drop the whole statement): literals go.
    """
    return _STRING_LITERAL.sub("?", statement)


def _verb(statement: str) -> str:
    words = statement.lstrip().split(None, 1)
    return words[0].upper() if words else "SQL"


def _before(conn: Any, cursor: Any, statement: Any, parameters: Any, ctx: Any, executemany: Any) -> None:
    try:
        recorder = get_recorder()
        if not recorder.enabled or ctx is None:
            return
        parent = context.current_span()
        if parent is None and os.environ.get(settings.DB_UNTRACED) != "1":
            return
        setattr(ctx, _STARTED, (parent, time.time(), time.perf_counter()))
    except Exception as exc:
        report_fault("the SQLAlchemy hook", exc)


def _after(conn: Any, cursor: Any, statement: Any, parameters: Any, ctx: Any, executemany: Any) -> None:
    try:
        started = getattr(ctx, _STARTED, None) if ctx is not None else None
        if started is None:
            return
        setattr(ctx, _STARTED, None)
        parent, start, t0 = started
        duration = time.perf_counter() - t0
        recorder = get_recorder()
        rowcount: Optional[int] = getattr(cursor, "rowcount", None)
        text = placeholders_only(str(statement))
        call = Call(
            run_id="",
            method=_verb(text),
            url=_engine_url(conn),
            start=start,
            trace_id=parent.trace_id if parent else (recorder.trace_id or new_trace_id()),
            span_id=new_span_id(),
            parent_span_id=parent.span_id if parent else None,
            side=CLIENT,
            thread=threading.current_thread().name,
            duration=duration,
            kind=KIND_DB,
            attributes={
                # NOTE: the statement as compiled, placeholders in place, literals out
                # (placeholders_only); ``parameters`` is never read.
                "statement": text,
                "system": conn.engine.dialect.name,
                "rowcount": rowcount if isinstance(rowcount, int) and rowcount >= 0 else None,
                "executemany": bool(executemany),
            },
        )
        recorder.submit(call)
    except Exception as exc:
        report_fault("the SQLAlchemy hook", exc)


def patch(module: ModuleType) -> None:
    """Listen to every ``Engine``'s cursor events (once)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    if getattr(Engine, _MARK, False):
        return
    event.listen(Engine, "before_cursor_execute", _before)
    event.listen(Engine, "after_cursor_execute", _after)
    setattr(Engine, _MARK, True)
