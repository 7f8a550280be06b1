"""The embedded SQLite store: runs, calls, layers and catalogs.

Many processes write to one store at once (the traced command, its subprocesses, every
service of a dev cloud), so the database runs in WAL mode with a busy timeout and each
batch is one short ``BEGIN IMMEDIATE`` transaction.

NOTE: this module is imported inside traced programs (Python 3.8+, standard library only).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from typing import Any, Dict, Iterable, List, Optional, Sequence

from stacktap.errors import StacktapError
from stacktap.model import KIND_HTTP, Body, Call, CallSite, CatalogEntry, Layer, Peer, PolicyCheck, Run
from stacktap.settings import DB as DB_ENV
from stacktap.store.schema import MIGRATIONS, SCHEMA_VERSION

BUSY_TIMEOUT_MS = 10000
#: Busy timeout while writing spill files back on open: a store still locked leaves them
#: for later instead of delaying the command that opened it.
REPLAY_BUSY_TIMEOUT_MS = 500

_LAYER_COLUMNS = ("span_id", "ord", "name", "factory", "enter_offset", "exit_offset", "answered", "status")
_RUN_COLUMNS = ("id", "kind", "label", "argv", "cwd", "host", "user", "started", "ended", "exit_code")
_CATALOG_COLUMNS = ("run_id", "service_type", "service_name", "interface", "region", "url", "service_id")
_POLICY_COLUMNS = (
    "span_id", "ord", "rule", "check_str", "result", "error", "creds", "start_offset", "duration", "count",
)


class StoreError(StacktapError):
    """The store cannot be opened, read or written (one line, for the user)."""


def default_db_path() -> str:
    """``$STACKTAP_DB``, else ``<user data dir>/stacktap/stacktap.db``."""
    env = os.environ.get(DB_ENV)
    if env:
        return env
    try:
        import platformdirs  # not in traced programs: they always get STACKTAP_DB

        base = platformdirs.user_data_dir("stacktap", appauthor=False)
    except ImportError:
        base = os.path.join(
            os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "stacktap"
        )
    return os.path.join(base, "stacktap.db")


def _dumps(value: Any) -> Optional[str]:
    if value is None:
        return None
    return json.dumps(value, separators=(",", ":"))


def _loads(text: Optional[str]) -> Any:
    if text is None:
        return None
    return json.loads(text)


_CALL_COLUMNS = (
    "span_id, trace_id, parent_span_id, run_id, side, pid, process_name, process_argv, thread,"
    " local_service, host, peer_type, peer_name, peer_interface, peer_region, peer_endpoint,"
    " method, url, path_template, request_headers, request_body, status, reason,"
    " response_headers, response_body, start, time_to_headers, duration, request_id,"
    " global_request_id, call_site, stack, error_type, error_message, handler, app, kind, attributes"
)
_CALL_PLACEHOLDERS = ", ".join("?" * len(_CALL_COLUMNS.split(",")))
_CALL_COLUMN_NAMES = [name.strip() for name in _CALL_COLUMNS.split(",")]


def _call_row(call: Call) -> tuple:
    return (
        call.span_id,
        call.trace_id,
        call.parent_span_id,
        call.run_id,
        call.side,
        call.pid,
        call.process_name,
        _dumps(call.process_argv),
        call.thread,
        call.local_service,
        call.host,
        call.peer.service_type,
        call.peer.service_name,
        call.peer.interface,
        call.peer.region,
        call.peer.endpoint,
        call.method,
        call.url,
        call.path_template,
        _dumps([list(h) for h in call.request_headers]),
        _dumps(call.request_body.to_dict()),
        call.status,
        call.reason,
        _dumps([list(h) for h in call.response_headers]),
        _dumps(call.response_body.to_dict()),
        call.start,
        call.time_to_headers,
        call.duration,
        call.request_id,
        call.global_request_id,
        _dumps(call.call_site.to_dict() if call.call_site else None),
        _dumps(call.stack),
        call.error_type,
        call.error_message,
        call.handler,
        call.app,
        call.kind,
        _dumps(call.attributes or None),
    )


def _call_from_row(row: sqlite3.Row) -> Call:
    return Call(
        span_id=row["span_id"],
        trace_id=row["trace_id"],
        parent_span_id=row["parent_span_id"],
        run_id=row["run_id"],
        side=row["side"],
        pid=row["pid"] or 0,
        process_name=row["process_name"],
        process_argv=_loads(row["process_argv"]),
        thread=row["thread"],
        local_service=row["local_service"],
        host=row["host"],
        peer=Peer(
            service_type=row["peer_type"],
            service_name=row["peer_name"],
            interface=row["peer_interface"],
            region=row["peer_region"],
            endpoint=row["peer_endpoint"],
        ),
        method=row["method"],
        url=row["url"],
        path_template=row["path_template"],
        request_headers=[(k, v) for k, v in (_loads(row["request_headers"]) or [])],
        request_body=Body.from_dict(_loads(row["request_body"])),
        status=row["status"],
        reason=row["reason"],
        response_headers=[(k, v) for k, v in (_loads(row["response_headers"]) or [])],
        response_body=Body.from_dict(_loads(row["response_body"])),
        start=row["start"],
        time_to_headers=row["time_to_headers"],
        duration=row["duration"],
        request_id=row["request_id"],
        global_request_id=row["global_request_id"],
        call_site=CallSite.from_dict(_loads(row["call_site"])),
        stack=_loads(row["stack"]) or [],
        error_type=row["error_type"],
        error_message=row["error_message"],
        handler=row["handler"],
        app=row["app"],
        kind=row["kind"] or KIND_HTTP,
        attributes=_loads(row["attributes"]) or {},
    )


def _run_from_row(row: sqlite3.Row) -> Run:
    return Run(
        id=row["id"],
        kind=row["kind"],
        label=row["label"],
        argv=_loads(row["argv"]) or [],
        cwd=row["cwd"],
        host=row["host"],
        user=row["user"],
        started=row["started"],
        ended=row["ended"],
        exit_code=row["exit_code"],
    )


def run_entry(run: Run) -> Dict[str, Any]:
    """The spill/write entry that inserts ``run`` (``INSERT OR IGNORE``)."""
    row = [run.id, run.kind, run.label, _dumps(run.argv), run.cwd, run.host, run.user,
           run.started or time.time(), run.ended, run.exit_code]
    return {"table": "runs", "columns": list(_RUN_COLUMNS), "rows": [row]}


def finish_entry(run_id: str, exit_code: Optional[int], ended: Optional[float] = None) -> Dict[str, Any]:
    """The entry that records a run's end."""
    return {"finish": [run_id, exit_code, ended or time.time()]}


def calls_entries(calls: Sequence[Call]) -> List[Dict[str, Any]]:
    """The entries that insert ``calls``, their layers and their policy checks."""
    layers = [
        [la.span_id, la.order, la.name, la.factory, la.enter_offset, la.exit_offset,
         1 if la.answered else 0, la.status]
        for call in calls
        for la in call.layers
    ]
    rows = [list(_call_row(c)) for c in calls]
    entries = [{"table": "calls", "columns": _CALL_COLUMN_NAMES, "rows": rows}]
    if layers:
        entries.append({"table": "layers", "columns": list(_LAYER_COLUMNS), "rows": layers})
    checks = [
        [pc.span_id, pc.order, pc.rule, pc.check, pc.result, pc.error, _dumps(pc.creds), pc.offset,
         pc.duration, pc.count]
        for call in calls
        for pc in call.policy_checks
    ]
    if checks:
        entries.append({"table": "policy_checks", "columns": list(_POLICY_COLUMNS), "rows": checks})
    return entries


def catalog_entry(run_id: str, entries: Iterable[CatalogEntry]) -> Dict[str, Any]:
    """The entry that inserts catalog endpoints seen in a run."""
    rows = [
        [run_id, e.service_type, e.service_name, e.interface, e.region, e.url, e.service_id] for e in entries
    ]
    return {"table": "catalog", "columns": list(_CATALOG_COLUMNS), "rows": rows}


def _create_private(path: str) -> None:
    """Create the store file 0600 inside a 0700 directory, if it does not exist yet."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        os.makedirs(directory, mode=0o700, exist_ok=True)
    if not os.path.exists(path):
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)


def _file_identity(path: str) -> Optional[tuple]:
    """(device, inode) of the file at ``path``; None when there is none."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _side_identities(path: str) -> Dict[str, Optional[tuple]]:
    """The identities of the store's ``-wal`` and ``-shm`` files (None: none yet)."""
    return {suffix: _file_identity(path + suffix) for suffix in ("-wal", "-shm")}


class Store:
    """One connection to a stacktap SQLite store.

    A ``Store`` belongs to one thread; open another one per thread or per process.
    """

    def __init__(
        self,
        path: Optional[str] = None,
        create: bool = True,
        replay: bool = True,
        busy_timeout_ms: Optional[int] = None,
    ) -> None:
        """Open (and with ``create``, create) the store; with ``replay``, first write back
        its pending spill files (``stacktap.store.spill``), when it takes them at once.
        ``busy_timeout_ms`` (default ``BUSY_TIMEOUT_MS``): how long a write waits for a lock."""
        self.path = path or default_db_path()
        self._busy_ms = BUSY_TIMEOUT_MS if busy_timeout_ms is None else busy_timeout_ms
        self._create = create
        if not create and not os.path.exists(self.path):
            raise StoreError("no store at %s (nothing recorded yet?)" % self.path)
        self._identity: Optional[tuple] = None
        self._side_files: Dict[str, Optional[tuple]] = {}
        #: How often the file was found deleted or replaced and opened again.
        self.reopened = 0
        self._columns: Dict[str, List[str]] = {}
        self._connect()
        if replay:
            self.replay_spills()

    def _connect(self) -> None:
        try:
            if self._create:
                _create_private(self.path)
            self._db = sqlite3.connect(self.path, timeout=self._busy_ms / 1000.0, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA busy_timeout = %d" % self._busy_ms)
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._migrate()
            self._identity = _file_identity(self.path)
            self._side_files = _side_identities(self.path)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError("cannot open store %s: %s" % (self.path, exc)) from exc

    def _follow_file(self) -> None:
        """Open the path again when the file was deleted or replaced since we opened it.

        NOTE: SQLite keeps writing into the inode it opened: after ``rm`` or ``mv`` over the
        store, every later call would land in a file nobody can open any more.
        """
        if self._identity is None or _file_identity(self.path) == self._identity:
            return
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
        # NOTE: SQLite does not checkpoint a moved file on close, so its ``-wal`` (and
        # ``-shm``) stay under the path; opened with the new file, they would lay the old
        # store's pages over it. Those we had open belong to the old file: removed.
        for suffix, identity in self._side_files.items():
            if identity is not None and _file_identity(self.path + suffix) == identity:
                with contextlib.suppress(OSError):
                    os.unlink(self.path + suffix)
        self._columns = {}
        self.reopened += 1
        self._connect()

    def replay_spills(self) -> int:
        """Write back the pending spill files of this store, if any, with a short busy
        timeout; the number of calls written (0 when the store is still locked or full)."""
        from stacktap.store import spill

        if not spill.pending(self.path):
            return 0
        self._db.execute("PRAGMA busy_timeout = %d" % min(REPLAY_BUSY_TIMEOUT_MS, self._busy_ms))
        try:
            return spill.replay(self)[1]
        except (OSError, ValueError, sqlite3.Error, StoreError):
            return 0
        finally:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("PRAGMA busy_timeout = %d" % self._busy_ms)

    # -- lifecycle ---------------------------------------------------------------------

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise StoreError(
                "store %s has schema version %d, newer than this stacktap (%d): upgrade stacktap"
                % (self.path, version, SCHEMA_VERSION)
            )
        if version == SCHEMA_VERSION:
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            # NOTE: re-read inside the write lock: another process may have migrated meanwhile.
            version = self.schema_version()
            for number in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                    (str(number + 1),),
                )
            self._db.execute("COMMIT")
        except BaseException:
            # NOTE: SQLite may already have rolled back (SQLITE_FULL, I/O errors): a ROLLBACK
            # then raises "no transaction is active", which would hide the real error.
            if self._db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
            raise

    def schema_version(self) -> int:
        has_meta = self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        ).fetchone()
        if not has_meta:
            return 0
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row["value"]) if row else 0

    # -- writing -----------------------------------------------------------------------

    def _write(self, statements: Sequence[tuple]) -> List[int]:
        """Run ``(sql, params_list)`` pairs in one immediate transaction; rows changed by each."""
        changed = []
        self._follow_file()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for sql, rows in statements:
                changed.append(self._db.executemany(sql, rows).rowcount if rows else 0)
            self._db.execute("COMMIT")
        except BaseException:
            # NOTE: SQLite may already have rolled back (SQLITE_FULL, I/O errors): a ROLLBACK
            # then raises "no transaction is active", which would hide the real error.
            if self._db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
            raise
        return changed

    def write_entries(self, entries: Sequence[Dict[str, Any]]) -> int:
        """Write spill/write entries (``stacktap.store.spill``) in one transaction: inserts
        skip rows already stored, a ``finish`` entry ends its run. Returns new calls.

        NOTE: table and column names come from files; only known tables and the columns
        this store has are used (a column it lacks, from a newer stacktap, is dropped).
        """
        from stacktap.store.spill import TABLES

        statements: List[tuple] = []
        tables: List[str] = []
        for entry in entries:
            if "finish" in entry:
                run_id, exit_code, ended = entry["finish"]
                statements.append(
                    ("UPDATE runs SET ended = ?, exit_code = ? WHERE id = ?", [(ended, exit_code, run_id)])
                )
                tables.append("")
                continue
            table = entry.get("table")
            if table not in TABLES:
                raise StoreError("unknown table %r in the rows to write" % table)
            known = self._table_columns(table)
            columns = list(entry["columns"])
            keep = [i for i, name in enumerate(columns) if name in known]
            names = [columns[i] for i in keep]
            rows = [tuple(row[i] for i in keep) for row in entry["rows"]]
            statements.append(
                (
                    "INSERT OR IGNORE INTO %s (%s) VALUES (%s)"
                    % (table, ", ".join(names), ", ".join("?" * len(names))),
                    rows,
                )
            )
            tables.append(table)
        changed = self._write(statements)
        if None in self._side_files.values():
            self._side_files = _side_identities(self.path)  # NOTE: the first write made the WAL
        return sum(changed[i] for i, table in enumerate(tables) if table == "calls")

    def _table_columns(self, table: str) -> List[str]:
        if table not in self._columns:
            self._columns[table] = [r["name"] for r in self._db.execute("PRAGMA table_info(%s)" % table)]
        return self._columns[table]

    def add_run(self, run: Run) -> None:
        self.write_entries([run_entry(run)])

    def finish_run(self, run_id: str, exit_code: Optional[int], ended: Optional[float] = None) -> None:
        self.write_entries([finish_entry(run_id, exit_code, ended)])

    def add_calls(self, calls: Iterable[Call]) -> int:
        """Store calls (their layers and policy checks); a span id already stored is skipped.
        Returns new rows."""
        return self.write_entries(calls_entries(list(calls)))

    def add_catalog(self, run_id: str, entries: Iterable[CatalogEntry]) -> None:
        self.write_entries([catalog_entry(run_id, entries)])

    # -- reading -----------------------------------------------------------------------

    def runs(self, limit: Optional[int] = None, kinds: Optional[Sequence[str]] = None) -> List[Run]:
        sql = "SELECT * FROM runs"
        params: List[Any] = []
        if kinds:
            sql += " WHERE kind IN (%s)" % ", ".join("?" * len(kinds))
            params.extend(kinds)
        sql += " ORDER BY started DESC, rowid DESC"
        if limit:
            sql += " LIMIT ?"
            params.append(limit)
        return [_run_from_row(r) for r in self._db.execute(sql, params)]

    def call_counts(self) -> Dict[str, int]:
        """Number of calls recorded in each run."""
        rows = self._db.execute("SELECT run_id, COUNT(*) AS n FROM calls GROUP BY run_id")
        return {r["run_id"]: r["n"] for r in rows}

    def get_run(self, ref: str) -> Run:
        """A run by id, unique id prefix, or ``last`` (the newest command or API run)."""
        if ref == "last":
            row = self._db.execute(
                "SELECT * FROM runs WHERE kind != 'server' ORDER BY started DESC, rowid DESC LIMIT 1"
            ).fetchone()
            if row is None:
                raise StoreError("no runs recorded yet in %s" % self.path)
            return _run_from_row(row)
        rows = self._db.execute(
            "SELECT * FROM runs WHERE id = ? OR id LIKE ? ORDER BY started DESC LIMIT 3",
            (ref, ref.replace("%", "").replace("_", "") + "%"),
        ).fetchall()
        exact = [r for r in rows if r["id"] == ref]
        if exact:
            return _run_from_row(exact[0])
        if not rows:
            raise StoreError("no run %r in %s (try: stacktap list)" % (ref, self.path))
        if len(rows) > 1:
            raise StoreError("run id %r is ambiguous: give more digits" % ref)
        return _run_from_row(rows[0])

    def calls(self, run_id: str, with_traces: bool = True) -> List[Call]:
        """The calls of a run, in start order, with their layers.

        With ``with_traces``, also the calls other processes recorded in the same traces
        (the server side of this run's requests and the calls those services made).
        """
        if with_traces:
            sql = (
                "SELECT * FROM calls WHERE run_id = ? OR trace_id IN"
                " (SELECT DISTINCT trace_id FROM calls WHERE run_id = ?) ORDER BY start, id"
            )
            params: tuple = (run_id, run_id)
        else:
            sql = "SELECT * FROM calls WHERE run_id = ? ORDER BY start, id"
            params = (run_id,)
        calls = [_call_from_row(r) for r in self._db.execute(sql, params)]
        self._attach_layers(calls)
        for number, call in enumerate(calls, 1):
            call.seq = number
        return calls

    def call_peers(self, run_id: str) -> List[Call]:
        """The calls of a run in start order, with only who talked to whom: ids, side, method,
        URL, start and peer; no headers, bodies, stack or layers (for counting, cheaply).
        SQL statements are not calls to anyone: left out."""
        rows = self._db.execute(
            "SELECT span_id, trace_id, parent_span_id, run_id, side, method, url, start, peer_type,"
            " peer_name, peer_interface, peer_region, peer_endpoint FROM calls WHERE run_id = ?"
            " AND kind != 'db' ORDER BY start, id",
            (run_id,),
        )
        return [
            Call(
                span_id=r["span_id"],
                trace_id=r["trace_id"],
                parent_span_id=r["parent_span_id"],
                run_id=r["run_id"],
                side=r["side"],
                method=r["method"],
                url=r["url"],
                start=r["start"],
                peer=Peer(
                    service_type=r["peer_type"],
                    service_name=r["peer_name"],
                    interface=r["peer_interface"],
                    region=r["peer_region"],
                    endpoint=r["peer_endpoint"],
                ),
            )
            for r in rows
        ]

    def calls_by_request_id(self, request_ids: Sequence[str]) -> List[Call]:
        """Calls carrying any of these ``x-openstack-request-id`` values (links without traceparent)."""
        if not request_ids:
            return []
        found: List[Call] = []
        chunk = 500
        for i in range(0, len(request_ids), chunk):
            part = list(request_ids[i : i + chunk])
            sql = "SELECT * FROM calls WHERE request_id IN (%s) ORDER BY start, id" % ", ".join(
                "?" * len(part)
            )
            found.extend(_call_from_row(r) for r in self._db.execute(sql, part))
        self._attach_layers(found)
        return found

    def _attach_layers(self, calls: List[Call]) -> None:
        if not calls:
            return
        by_span = {c.span_id: c for c in calls}
        ids = list(by_span)
        chunk = 500
        for i in range(0, len(ids), chunk):
            part = ids[i : i + chunk]
            sql = "SELECT * FROM layers WHERE span_id IN (%s) ORDER BY span_id, ord" % ", ".join(
                "?" * len(part)
            )
            for r in self._db.execute(sql, part):
                by_span[r["span_id"]].layers.append(
                    Layer(
                        span_id=r["span_id"],
                        order=r["ord"],
                        name=r["name"],
                        factory=r["factory"],
                        enter_offset=r["enter_offset"] or 0.0,
                        exit_offset=r["exit_offset"],
                        answered=bool(r["answered"]),
                        status=r["status"],
                    )
                )
            sql = "SELECT * FROM policy_checks WHERE span_id IN (%s) ORDER BY span_id, ord" % ", ".join(
                "?" * len(part)
            )
            for r in self._db.execute(sql, part):
                creds = _loads(r["creds"])
                by_span[r["span_id"]].policy_checks.append(
                    PolicyCheck(
                        span_id=r["span_id"],
                        order=r["ord"],
                        rule=r["rule"],
                        check=r["check_str"],
                        result=r["result"],
                        error=r["error"],
                        creds=creds if isinstance(creds, dict) else {},
                        offset=r["start_offset"] or 0.0,
                        duration=r["duration"],
                        count=r["count"] or 1,
                    )
                )

    def catalog(self, run_id: Optional[str] = None) -> List[CatalogEntry]:
        """Catalog endpoints seen in a run (or in the whole store)."""
        if run_id is None:
            rows = self._db.execute("SELECT DISTINCT service_type, service_name, interface, region, url,"
                                    " service_id FROM catalog")
        else:
            rows = self._db.execute("SELECT * FROM catalog WHERE run_id = ?", (run_id,))
        return [
            CatalogEntry(
                service_type=r["service_type"],
                url=r["url"],
                service_name=r["service_name"],
                interface=r["interface"],
                region=r["region"],
                service_id=r["service_id"],
            )
            for r in rows
        ]

    def raw(self) -> sqlite3.Connection:
        """The underlying connection, for merge and import (read the schema first)."""
        return self._db
