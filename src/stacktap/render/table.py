"""Rows for the inspection tables: runs (``list``), the calls of a run (``show``) and the
catalog endpoints a run saw (``catalog``). ``cli.options.emit_rows`` prints them."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from stacktap.model import KIND_RPC_CALL, KIND_RPC_CAST, KIND_RPC_SERVER, SERVER, Call, CatalogEntry, Run
from stacktap.render.calls import format_ms, offset_ms
from stacktap.store.trace import Trace, service_label

Rows = list[list[Any]]

CALL_COLUMNS = ["#", "Offset (ms)", "Duration (ms)", "Service", "Method", "Path", "Status", "Call site"]
#: Extra columns for the machine formats (json/yaml/value), which do not indent; ``Source`` is
#: the absolute ``file:line`` of the call site (client) or of the handler's ``def`` (server).
CALL_TREE_COLUMNS = ["Side", "Depth", "Source"]
RUN_COLUMNS = ["ID", "Started", "Kind", "Command", "Calls", "Exit", "Duration (s)"]
CATALOG_COLUMNS = ["Type", "Name", "Interface", "Region", "URL"]

_INTERFACE_ORDER = {"public": 0, "internal": 1, "admin": 2}
_LABEL_WIDTH = 60


#: What the Status column says of an RPC record that did not fail (RPC has no status code).
_RPC_STATUS = {KIND_RPC_CALL: "reply", KIND_RPC_CAST: "sent", KIND_RPC_SERVER: "done"}


def _status(call: Call) -> str:
    parts = [str(call.status)] if call.status is not None else []
    if call.kind in _RPC_STATUS and not call.failed:
        parts.append(_RPC_STATUS[call.kind])
    if call.failed:
        parts.append(str(call.error_type))
    return " ".join(parts) or "-"


def _where(call: Call, trace: Trace | None = None) -> str:
    """The call site of a client call; the handler, layer count and SQL folded (``N SQL, T ms``)
    of a server record."""
    if call.side == SERVER:
        handler = call.handler or call.app or "?"
        count = len(call.layers)
        facts = [f"{count} layer{'' if count == 1 else 's'}"] if count else []
        statements, seconds = trace.db_summary(call) if trace is not None else (0, 0.0)
        if statements:
            facts.append(f"{statements} SQL, {format_ms(seconds)} ms")
        where = f"{handler} ({', '.join(facts)})" if facts else handler
        denied = call.denied_by
        # NOTE: a 403 names the rule that refused it (``stacktap policy`` has all the checks).
        return f"{where}, policy denied: {denied.rule}" if denied is not None else where
    return call.call_site.label if call.call_site else ""


def source_location(call: Call) -> str | None:
    """``/abs/path/file.py:LINE`` of the code on this side of the call, if known."""
    site = call.call_site
    return f"{site.file}:{site.line}" if site else None


def _service(call: Call) -> str:
    if call.side == SERVER:
        return call.local_service or service_label(call)
    return service_label(call)


def call_rows(trace: Trace, indent: bool = True) -> Rows:
    """One row per call in tree order (``trace.walk()``).

    With ``indent`` the service is indented by two spaces per level, so what a service did
    while serving a call sits under it; without, rows end with the side and depth instead.
    """
    rows: Rows = []
    for call in trace.walk():
        depth = trace.depth(call)
        service = _service(call)
        row: list[Any] = [
            call.seq,
            f"{offset_ms(trace, call):.1f}",
            format_ms(call.duration),
            "  " * depth + service if indent else service,
            call.method,
            call.path_template or call.url,
            _status(call),
            _where(call, trace),
        ]
        if not indent:
            row += [call.side, depth, source_location(call)]
        rows.append(row)
    return rows


def _local_time(epoch: float | None) -> str:
    if not epoch:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def _command(run: Run) -> str:
    text = run.label or " ".join(run.argv)
    return text if len(text) <= _LABEL_WIDTH else text[: _LABEL_WIDTH - 3] + "..."


def run_rows(runs: Sequence[Run], call_counts: dict[str, int]) -> Rows:
    """One row per run, in the order given (the store lists newest first)."""
    rows: Rows = []
    for run in runs:
        duration = "%.2f" % (run.ended - run.started) if run.ended and run.started else ""
        rows.append(
            [
                run.id,
                _local_time(run.started),
                run.kind,
                _command(run),
                call_counts.get(run.id, 0),
                "" if run.exit_code is None else run.exit_code,
                duration,
            ]
        )
    return rows


def catalog_rows(entries: Sequence[CatalogEntry]) -> Rows:
    """One row per endpoint, sorted by service type, name, interface (public first), region."""
    ordered = sorted(
        entries,
        key=lambda e: (
            e.service_type,
            e.service_name or "",
            _INTERFACE_ORDER.get(e.interface or "", 9),
            e.region or "",
            e.url,
        ),
    )
    return [[e.service_type, e.service_name, e.interface, e.region, e.url] for e in ordered]
