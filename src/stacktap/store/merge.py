"""Merge stores copied from several hosts into one.

A command traced on a laptop and the services that answered it on two controllers leave
three stores; merged, ``stacktap show`` sees whole trees again: the client calls and the
server calls share a trace id, and parent span ids link across the former files.

Uses SQLite ``ATTACH``: every input is copied inside one transaction per input, rows
that are already there are skipped (span ids are unique; runs, layers and catalog rows
are compared on their keys), so merging the same input twice changes nothing.

NOTE: imported by the CLI only, but kept 3.8-compatible like the rest of ``store/``.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Dict, List, Sequence

from stacktap.store.schema import SCHEMA_VERSION
from stacktap.store.sqlite import Store, StoreError

_TABLES = ("runs", "calls", "layers", "catalog")
#: Tables added by later migrations: an older input gets them when it is migrated before merging.
_LATER_TABLES = ("policy_checks",)
_ALIAS = "merge_src"


class MergeResult(object):
    """What one merge added: new rows per table, and the inputs actually read."""

    def __init__(self) -> None:
        self.added: Dict[str, int] = {table: 0 for table in _TABLES + _LATER_TABLES}
        self.inputs: List[str] = []
        self.skipped: List[str] = []  # inputs that are the output itself

    def __repr__(self) -> str:
        return "MergeResult(added=%r, inputs=%r, skipped=%r)" % (self.added, self.inputs, self.skipped)


def check_input(path: str) -> int:
    """The schema version of the stacktap store at ``path``; StoreError if it is not one."""
    if not os.path.isfile(path):
        raise StoreError("no store at %s" % path)
    try:
        # NOTE: read-only URI so a wrong file is never turned into an empty database.
        db = sqlite3.connect("file:%s?mode=ro" % _uri_path(path), uri=True)
        try:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not {"meta", *_TABLES} <= tables:
                raise StoreError("%s is not a stacktap store" % path)
            row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise StoreError("%s is not a stacktap store (%s)" % (path, exc)) from None
    version = int(row[0]) if row and str(row[0]).isdigit() else 0
    if version > SCHEMA_VERSION:
        raise StoreError(
            "%s has schema version %d, newer than this stacktap (%d): upgrade stacktap"
            % (path, version, SCHEMA_VERSION)
        )
    return version


def _uri_path(path: str) -> str:
    from urllib.parse import quote

    return quote(os.path.abspath(path))


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def merge_stores(output: str, inputs: Sequence[str]) -> MergeResult:
    """Copy every input store into ``output`` (created if missing; it may be one of the inputs).

    All inputs are checked before ``output`` is touched. Raises StoreError (one line).
    """
    if not inputs:
        raise StoreError("nothing to merge: give at least one input store")
    versions = {path: check_input(path) for path in inputs}
    for path, version in versions.items():
        if version < SCHEMA_VERSION:
            # NOTE: bring an older input up to date the sanctioned way (it is migrated in place).
            Store(path, create=False).close()
    result = MergeResult()
    with Store(output, create=True) as target:
        for path in inputs:
            if _same_file(path, output) or path in result.inputs:
                result.skipped.append(path)
                continue
            _merge_one(target.raw(), path, result)
            result.inputs.append(path)
    return result


def _columns(db: sqlite3.Connection, table: str) -> List[str]:
    return [r[1] for r in db.execute("PRAGMA main.table_info(%s)" % table)]


def _merge_one(db: sqlite3.Connection, path: str, result: MergeResult) -> None:
    db.execute("ATTACH DATABASE ? AS %s" % _ALIAS, (os.path.abspath(path),))
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            for table, sql in _statements(db):
                before = db.total_changes
                db.execute(sql)
                if table != "runs-finish":
                    result.added[table] += db.total_changes - before
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    except sqlite3.Error as exc:
        raise StoreError("cannot merge %s: %s" % (path, exc)) from None
    finally:
        db.execute("DETACH DATABASE %s" % _ALIAS)


def _statements(db: sqlite3.Connection) -> List[tuple]:
    src = _ALIAS
    run_cols = ", ".join(_columns(db, "runs"))
    # NOTE: calls.id is the local row id: never copy it, let the target number the rows.
    call_cols = ", ".join(c for c in _columns(db, "calls") if c != "id")
    layer_cols = ", ".join(_columns(db, "layers"))
    check_cols = ", ".join(_columns(db, "policy_checks"))
    catalog_cols = _columns(db, "catalog")
    # NOTE: the catalog's UNIQUE key holds nullable columns (interface, region), and SQLite
    # treats NULLs as distinct there: compare with IS to skip rows already merged.
    catalog_match = " AND ".join("c.%s IS s.%s" % (col, col) for col in catalog_cols)
    return [
        ("runs", "INSERT OR IGNORE INTO main.runs (%s) SELECT %s FROM %s.runs" % (run_cols, run_cols, src)),
        (
            # A run seen unfinished in one copy and finished in another: keep the ending.
            "runs-finish",
            "UPDATE main.runs SET"
            " ended = (SELECT s.ended FROM %(s)s.runs s WHERE s.id = main.runs.id),"
            " exit_code = (SELECT s.exit_code FROM %(s)s.runs s WHERE s.id = main.runs.id)"
            " WHERE main.runs.ended IS NULL AND id IN"
            " (SELECT id FROM %(s)s.runs WHERE ended IS NOT NULL)" % {"s": src},
        ),
        (
            "calls",
            "INSERT OR IGNORE INTO main.calls (%s) SELECT %s FROM %s.calls ORDER BY start, id"
            % (call_cols, call_cols, src),
        ),
        (
            "layers",
            "INSERT OR IGNORE INTO main.layers (%s) SELECT %s FROM %s.layers" % (layer_cols, layer_cols, src),
        ),
        (
            "policy_checks",
            "INSERT OR IGNORE INTO main.policy_checks (%s) SELECT %s FROM %s.policy_checks"
            % (check_cols, check_cols, src),
        ),
        (
            "catalog",
            "INSERT INTO main.catalog (%s) SELECT DISTINCT %s FROM %s.catalog s"
            " WHERE NOT EXISTS (SELECT 1 FROM main.catalog c WHERE %s)"
            % (", ".join(catalog_cols), ", ".join("s." + c for c in catalog_cols), src, catalog_match),
        ),
    ]
