"""A run as renderers see it: the run, its calls in start order (with the server-side
records of the same traces), services named from the catalog, and the call tree.

SQL statements (``kind`` ``db``) are kept apart in ``Trace.db_calls``: they are leaves under
the server call (or RPC message) that ran them, folded per parent (``db_under``, ``db_summary``)
by the views that show them (``show --db``, the report, OTLP, JSON export), and every view of
HTTP exchanges (tables, diagrams, HAR, curl, api maps) never meets one.

NOTE: ``stacktap run`` imports this module (through ``stacktap.store``) before it starts the
traced command: the catalog and path-template code is imported where it is used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from stacktap.model import CLIENT, KIND_DB, Call, CatalogEntry, Run
from stacktap.store.sqlite import Store


@dataclass
class Trace:
    """Everything one run recorded, ready to render."""

    run: Run
    calls: List[Call]
    catalog: List[CatalogEntry] = field(default_factory=list)
    #: SQL statements run while serving ``calls`` (placeholders only), in start order.
    db_calls: List[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._db_by_parent: Dict[Optional[str], List[Call]] = {}
        for statement in self.db_calls:
            self._db_by_parent.setdefault(statement.parent_span_id, []).append(statement)
        self._by_span: Dict[str, Call] = {c.span_id: c for c in self.calls}
        self._children: Dict[Optional[str], List[Call]] = {}
        for call in self.calls:
            parent = call.parent_span_id if call.parent_span_id in self._by_span else None
            self._children.setdefault(parent, []).append(call)

    def call(self, span_id: str) -> Optional[Call]:
        return self._by_span.get(span_id)

    def parent(self, call: Call) -> Optional[Call]:
        return self._by_span.get(call.parent_span_id) if call.parent_span_id else None

    @property
    def roots(self) -> List[Call]:
        """Calls with no recorded parent, in start order."""
        return self._children.get(None, [])

    def children(self, call: Call) -> List[Call]:
        return self._children.get(call.span_id, [])

    def depth(self, call: Call) -> int:
        depth = 0
        parent = self.parent(call)
        while parent is not None and depth < 64:
            depth += 1
            parent = self.parent(parent)
        return depth

    def walk(self) -> List[Call]:
        """All calls depth-first (a call, then what happened inside it), siblings by start."""
        out: List[Call] = []

        def visit(call: Call) -> None:
            out.append(call)
            for child in self.children(call):
                visit(child)

        for root in self.roots:
            visit(root)
        return out

    def db_under(self, call: Call) -> List[Call]:
        """The SQL statements ``call`` ran (directly), in start order."""
        return self._db_by_parent.get(call.span_id, [])

    def db_summary(self, call: Call) -> Tuple[int, float]:
        """(number of statements, their total duration in seconds) run by ``call``."""
        statements = self.db_under(call)
        return len(statements), sum(s.duration or 0.0 for s in statements)

    @property
    def all_records(self) -> List[Call]:
        """Every record of the run, SQL statements included, in start order (exports)."""
        return sorted(self.calls + self.db_calls, key=lambda c: c.start)

    @property
    def client_calls(self) -> List[Call]:
        return [c for c in self.calls if c.side == "client"]

    @property
    def services(self) -> List[str]:
        """Services talked to, in order of first appearance."""
        seen: List[str] = []
        for call in self.calls:
            label = service_label(call)
            if call.side == "client" and label not in seen:
                seen.append(label)
        return seen


def service_label(call: Call) -> str:
    """``keystone``, ``glance``... from the catalog; ``host:port`` when unknown."""
    from stacktap.catalog import unknown_peer_label

    return call.peer.label or unknown_peer_label(call.url)


def load_trace(store: Store, ref: str, with_traces: bool = True) -> Trace:
    """Load run ``ref`` (id, prefix or ``last``) from ``store``, services named."""
    from stacktap.paths import path_template

    run = store.get_run(ref)
    records = store.calls(run.id, with_traces=with_traces)
    calls = [c for c in records if c.kind != KIND_DB]
    db_calls = [c for c in records if c.kind == KIND_DB]
    # NOTE: call numbers (``show``'s #, ``stacktap open RUN N``) count calls, not statements.
    for number, call in enumerate(calls, 1):
        call.seq = number
    for number, statement in enumerate(db_calls, 1):
        statement.seq = number
    entries = store.catalog(run.id)
    if not entries and any(c.run_id != run.id for c in calls):
        entries = store.catalog()
    _name_peers(store, calls, entries)
    for call in calls:
        if not call.path_template:
            call.path_template = path_template(call.url)
    return Trace(run=run, calls=calls, catalog=entries, db_calls=db_calls)


def count_calls_and_services(store: Store, run_id: str) -> Tuple[int, int]:
    """``len(trace.client_calls), len(trace.services)`` for ``trace = load_trace(store, run_id,
    with_traces=False)``, the numbers of ``stacktap run``'s summary line, reading only the
    columns they depend on (``Store.call_peers``: no headers, bodies, stacks or layers)."""
    run = store.get_run(run_id)
    calls = store.call_peers(run.id)
    _name_peers(store, calls, store.catalog(run.id))
    trace = Trace(run=run, calls=calls)
    return len(trace.client_calls), len(trace.services)


def _name_peers(store: Store, calls: List[Call], entries: List[CatalogEntry]) -> None:
    """Name the peer of the client calls recorded without one, from ``entries`` or, when
    there are none, from every catalog in the store."""
    if not any(c.side == CLIENT and not c.peer.service_type for c in calls):
        return  # name_calls() would change nothing
    from stacktap.catalog import name_calls

    # NOTE: server processes see catalogs too (their own token validation); use them
    # to name calls made inside a service when the run itself saw none.
    name_calls(calls, entries or store.catalog())
