"""The SQLite schema and its migrations.

Each entry of ``MIGRATIONS`` moves the schema from version ``n`` to ``n + 1``; the version
lives in ``meta.schema_version``. Never edit a released migration: add a new one.
"""

from __future__ import annotations

from typing import List

MIGRATIONS: List[str] = [
    # 0 -> 1: the first schema.
    """
    CREATE TABLE IF NOT EXISTS meta (
        key TEXT PRIMARY KEY,
        value TEXT
    );
    CREATE TABLE IF NOT EXISTS runs (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        label TEXT,
        argv TEXT,
        cwd TEXT,
        host TEXT,
        user TEXT,
        started REAL NOT NULL,
        ended REAL,
        exit_code INTEGER
    );
    CREATE TABLE IF NOT EXISTS calls (
        id INTEGER PRIMARY KEY,
        span_id TEXT NOT NULL UNIQUE,
        trace_id TEXT NOT NULL,
        parent_span_id TEXT,
        run_id TEXT NOT NULL,
        side TEXT NOT NULL,
        pid INTEGER,
        process_name TEXT,
        process_argv TEXT,
        thread TEXT,
        local_service TEXT,
        host TEXT,
        peer_type TEXT,
        peer_name TEXT,
        peer_interface TEXT,
        peer_region TEXT,
        peer_endpoint TEXT,
        method TEXT NOT NULL,
        url TEXT NOT NULL,
        path_template TEXT,
        request_headers TEXT,
        request_body TEXT,
        status INTEGER,
        reason TEXT,
        response_headers TEXT,
        response_body TEXT,
        start REAL NOT NULL,
        time_to_headers REAL,
        duration REAL,
        request_id TEXT,
        global_request_id TEXT,
        call_site TEXT,
        stack TEXT,
        error_type TEXT,
        error_message TEXT,
        handler TEXT,
        app TEXT
    );
    CREATE INDEX IF NOT EXISTS calls_run ON calls (run_id, start);
    CREATE INDEX IF NOT EXISTS calls_trace ON calls (trace_id);
    CREATE INDEX IF NOT EXISTS calls_request_id ON calls (request_id);
    CREATE TABLE IF NOT EXISTS layers (
        span_id TEXT NOT NULL,
        ord INTEGER NOT NULL,
        name TEXT NOT NULL,
        factory TEXT,
        enter_offset REAL,
        exit_offset REAL,
        answered INTEGER,
        status INTEGER,
        PRIMARY KEY (span_id, ord)
    );
    CREATE TABLE IF NOT EXISTS catalog (
        run_id TEXT NOT NULL,
        service_type TEXT NOT NULL,
        service_name TEXT,
        interface TEXT,
        region TEXT,
        url TEXT NOT NULL,
        service_id TEXT,
        UNIQUE (run_id, service_type, interface, region, url)
    );
    """,
    # 1 -> 2: the oslo.policy rules a server call checked (stacktap.agent.server.policy).
    """
    CREATE TABLE IF NOT EXISTS policy_checks (
        span_id TEXT NOT NULL,
        ord INTEGER NOT NULL,
        rule TEXT NOT NULL,
        check_str TEXT,
        result TEXT NOT NULL,
        error TEXT,
        creds TEXT,
        start_offset REAL,
        duration REAL,
        count INTEGER,
        PRIMARY KEY (span_id, ord)
    );
    CREATE INDEX IF NOT EXISTS policy_checks_rule ON policy_checks (rule);
    """,
    # 2 -> 3 (issue 14): RPC and DB records share ``calls`` with HTTP ones. ``kind`` says which
    # (``http``, ``rpc.call``, ``rpc.cast``, ``rpc.server``, ``db``; every older row is
    # ``http``); ``attributes`` holds the kind's own facts as JSON (rpc target, version,
    # namespace, reply type; db rowcount...). Only new columns of ``calls``: no other table
    # is touched, so this migration commutes with one that only adds a table.
    # NOTE: one table, not one per kind: the tree, the trace merge, OTLP export and the
    # request-id lookups all walk spans by (trace_id, span_id, parent_span_id) regardless of
    # kind; a separate table would split every one of those queries. The NOT NULL HTTP
    # columns get meaningful values: ``method`` = the RPC method or SQL verb, ``url`` =
    # ``rabbit://exchange/topic.server`` or the engine's URL without credentials.
    """
    ALTER TABLE calls ADD COLUMN kind TEXT NOT NULL DEFAULT 'http';
    ALTER TABLE calls ADD COLUMN attributes TEXT
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
