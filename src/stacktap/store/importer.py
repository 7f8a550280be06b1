"""``stacktap import``: write a parsed trace (``stacktap.render.json_export.parse_trace_json``)
into a store. Renderers only read; writing lives here, next to the store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from stacktap.model import KIND_DB, Call, CatalogEntry, Run
from stacktap.store.sqlite import Store


class ParsedTrace(Protocol):
    """What ``parse_trace_json`` returns (``stacktap.render.json_export.ImportedTrace``)."""

    run: Run
    calls: list[Call]
    catalog: list[CatalogEntry]


@dataclass
class ImportResult:
    """What ``import_trace`` did: calls new to the store and calls it already held."""

    run_id: str
    added: int
    present: int
    #: of ``added``, the SQL statements (``kind`` ``db``): the message counts them apart
    statements: int = 0


def import_trace(store: Store, imported: ParsedTrace) -> ImportResult:
    """Write an imported trace to ``store``. Span ids are unique, so a second import of the
    same file adds nothing: the result then counts every call as already present."""
    present = _stored_span_ids(store, [call.span_id for call in imported.calls])
    store.add_run(imported.run)
    # NOTE: Store.add_calls skips stored span ids itself; we count them beforehand because
    # its "new rows" return value also subtracts layers it skipped.
    store.add_calls([call for call in imported.calls if call.span_id not in present])
    if imported.catalog:
        store.add_catalog(imported.run.id, imported.catalog)
    statements = sum(1 for call in imported.calls if call.kind == KIND_DB and call.span_id not in present)
    return ImportResult(
        run_id=imported.run.id,
        added=len(imported.calls) - len(present),
        present=len(present),
        statements=statements,
    )


def _stored_span_ids(store: Store, span_ids: list[str]) -> set[str]:
    found: set[str] = set()
    chunk = 500
    for i in range(0, len(span_ids), chunk):
        part = span_ids[i : i + chunk]
        sql = "SELECT span_id FROM calls WHERE span_id IN ({})".format(", ".join("?" * len(part)))
        found.update(row[0] for row in store.raw().execute(sql, part))
    return found


