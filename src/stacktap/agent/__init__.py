"""The agent: everything loaded into traced programs and services.

The bootstrap (``sitecustomize``), the client hooks (requests, urllib3), the recorder and its
enrichment, body capture, trace context, ignore rules, the server filter (``server``), live
OTLP export and the relay to the collector of ``stacktap run``.

NOTE: everything under ``agent/`` runs inside other people's processes: any Python from 3.8 on,
nothing but the standard library and what the program itself imports. It imports nothing of
stacktap beyond itself and the shared core (model, redact, catalog, paths, settings, and the
stdlib SQLite store writer used by ``stacktap.trace()`` and traced services); the import
contract in pyproject.toml (``lint-imports``) checks it.
"""
