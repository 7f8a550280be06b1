"""Rows for the inspection tables: runs (``list``), the calls of a run (``show``) and the
catalog endpoints a run saw (``catalog``). ``cli.options.emit_rows`` prints them."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from stacktap.model import SERVER, Call, CatalogEntry, Run
from stacktap.render.calls import format_ms, offset_ms, status_text
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


def call_rows(trace: Trace, indent: bool = True, fold: bool = False) -> Rows:
    """One row per call in tree order (``trace.walk()``).

    With ``indent`` the service is indented by two spaces per level, so what a service did
    while serving a call sits under it; without, rows end with the side and depth instead.
    With ``fold``, repeats (``fold_siblings``: a command's own polling) become one row: ``#``
    is ``FIRST-LAST``, the status gets `` xN``, the duration is the repeats' total, and only
    the first repeat's inner calls are listed (the call site says how many were hidden).
    """
    rows: Rows = []

    def visit(siblings: list[Call], depth: int) -> None:
        for group in fold_siblings(siblings) if fold else [[call] for call in siblings]:
            rows.append(_call_row(trace, group, depth, indent))
            visit(trace.children(group[0]), depth + 1)

    # NOTE: the depth of the walk is the depth ``trace.depth()`` counts: children of children.
    visit(trace.roots, 0)
    return rows


def _call_row(trace: Trace, group: list[Call], depth: int, indent: bool) -> list[Any]:
    call = group[0]
    service = _service(call)
    number: Any = call.seq
    duration = call.duration
    status = status_text(call)
    where = _where(call, trace)
    if len(group) > 1:
        number = f"{call.seq}-{group[-1].seq}"
        known = [c.duration for c in group if c.duration is not None]
        duration = sum(known) if known else None
        status = f"{status} x{len(group)}"
        hidden = sum(_subtree_size(trace, c) for c in group[1:])
        if hidden:
            where = f"{where} [+{hidden} inner call{'' if hidden == 1 else 's'} hidden]".lstrip()
    row: list[Any] = [
        number,
        f"{offset_ms(trace, call):.1f}",
        format_ms(duration),
        "  " * depth + service if indent else service,
        call.method,
        call.path_template or call.url,
        status,
        where,
    ]
    if not indent:
        row += [call.side, depth, source_location(call)]
    return row


def fold_key(call: Call) -> tuple[Any, ...]:
    """What two sibling calls share to fold into one row: side, kind, who made it, service,
    method, path template, status, and the code on this side (call site, or handler)."""
    code = call.handler if call.side == SERVER else (call.call_site.label if call.call_site else None)
    return (
        call.side,
        call.kind,
        call.local_service,
        _service(call),
        call.method,
        call.path_template or call.url,
        status_text(call),
        code,
    )


def fold_siblings(siblings: list[Call]) -> list[list[Call]]:
    """``siblings`` (calls with one parent, in start order) cut into runs of consecutive calls
    with the same ``fold_key``: ``--wait`` asking ``GET /servers/{id}`` until it is ACTIVE
    is one group; the same call after another one, or answered differently, starts a new one."""
    groups: list[list[Call]] = []
    for call in siblings:
        if groups and fold_key(groups[-1][0]) == fold_key(call):
            groups[-1].append(call)
        else:
            groups.append([call])
    return groups


def _subtree_size(trace: Trace, call: Call) -> int:
    """How many calls happened inside ``call`` (its children, theirs...)."""
    total, pending = 0, list(trace.children(call))
    while pending:
        total += 1
        pending.extend(trace.children(pending.pop()))
    return total


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
