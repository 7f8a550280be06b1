"""The SQL hook's cost per statement, side by side with osprofiler's and OpenTelemetry's.

One SQLite file, one indexed table, ``SELECT ... WHERE id = ?`` executed in blocks of 200 on
four engines over the same file: plain; stacktap's hook (the class-wide cursor listeners)
inside a traced request, recording into a store of its own; osprofiler's
``osprofiler.sqlalchemy.add_tracing`` with an initialized profiler and a notifier that keeps
what it is sent; OpenTelemetry's ``SQLAlchemyInstrumentor`` with an SDK tracer provider and a
batch span processor. Blocks alternate so the machine's noise hits every mode alike. Prints the
best and median block per statement, what each adds, and the ratios.

    .venv/bin/python benchmarks/bench_db.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy
from sqlalchemy import text

from stacktap.agent import context
from stacktap.agent.recorder import get_recorder
from stacktap.agent.sqlalchemy_hook import patch

BLOCK = 200
ROUNDS = 60
QUERY = text("SELECT id, name FROM items WHERE id = :id")


def _engine(path: Path) -> sqlalchemy.engine.Engine:
    return sqlalchemy.create_engine(f"sqlite:///{path}")


def _block(engine: sqlalchemy.engine.Engine) -> float:
    with engine.connect() as conn:
        start = time.perf_counter()
        for i in range(BLOCK):
            conn.execute(QUERY, {"id": i % 100}).fetchall()
        return (time.perf_counter() - start) / BLOCK


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.sqlite"
        setup = _engine(db)
        with setup.begin() as conn:
            conn.execute(text("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)"))
            conn.execute(text("INSERT INTO items VALUES " + ", ".join(f"({i}, 'n{i}')" for i in range(100))))

        plain, ours, osp, otel = (_engine(db) for _ in range(4))

        recorder = get_recorder()
        recorder.configure(db=str(Path(tmp) / "store.db"), service="bench-db", enabled=True)
        patch(sqlalchemy)

        def stacktap_block() -> float:
            token = context.set_current_span("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")
            try:
                return _block(ours)
            finally:
                context.reset_current_span(token)

        modes: dict[str, Callable[[], float]] = {"plain": lambda: _block(plain), "stacktap": stacktap_block}

        try:
            from osprofiler import notifier, profiler
            from osprofiler import sqlalchemy as osp_sqlalchemy

            sent: list[dict] = []
            notifier.set(lambda info, **kw: sent.append(info))
            osp_sqlalchemy.enable()
            osp_sqlalchemy.add_tracing(sqlalchemy, osp, "db")

            def osprofiler_block() -> float:
                profiler.init("bench-key")
                try:
                    return _block(osp)
                finally:
                    profiler.clean()
                    sent.clear()

            modes["osprofiler"] = osprofiler_block
        except ImportError as exc:
            print(f"osprofiler: not available ({exc})")

        try:
            from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

            class _Drop(SpanExporter):
                def export(self, spans):  # type: ignore[no-untyped-def]
                    return SpanExportResult.SUCCESS

            provider = TracerProvider()
            provider.add_span_processor(BatchSpanProcessor(_Drop()))
            instrumentor = SQLAlchemyInstrumentor()
            instrumentor.instrument(engine=otel, tracer_provider=provider)
            if not instrumentor.is_instrumented_by_opentelemetry:
                raise ImportError("it refused this SQLAlchemy version")
            tracer = provider.get_tracer("bench")

            def otel_block() -> float:
                with tracer.start_as_current_span("request"):
                    return _block(otel)

            modes["opentelemetry"] = otel_block
        except ImportError as exc:
            print(f"opentelemetry-instrumentation-sqlalchemy: not available ({exc})")

        times: dict[str, list[float]] = {name: [] for name in modes}
        for warm_up in modes.values():
            warm_up()
        for _ in range(ROUNDS):
            for name, run in modes.items():
                times[name].append(run())
        recorder.flush(30)

    best = {name: min(values) for name, values in times.items()}
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"per SQL statement, {ROUNDS} alternating blocks of {BLOCK} (SQLite file, indexed SELECT):")
    for name in modes:
        added_best = (best[name] - best["plain"]) * 1e6
        added_median = (median[name] - median["plain"]) * 1e6
        print(
            f"  {name:14s} best {best[name] * 1e6:7.1f} us  median {median[name] * 1e6:7.1f} us"
            f"  added best {added_best:+6.1f} us  median {added_median:+6.1f} us"
            f"  ratio {median[name] / median['plain']:.2f}x"
        )


if __name__ == "__main__":
    main()
