"""How long ``export`` takes as runs grow: HAR and stacktap JSON for 100, 1,000 and 10,000
calls (cloned from the small realistic sample the tests use), measured side by side.

Prints, per size and format: total ms (loading the trace from the store included, as the
CLI does), µs per call, and the growth of the per-call time against the 100-call run
(~1.0 means linear). Run: ``.venv/bin/python benchmarks/bench_export.py``.
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.fixtures
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "render"))

from exchange_traces import CATALOG, T0, sample_calls

from stacktap.model import Run, new_span_id, new_trace_id
from stacktap.render.har import render_har
from stacktap.render.json_export import render_json
from stacktap.store import Store, load_trace

SIZES = (100, 1_000, 10_000)
REPEAT = 3


def build(db: Path, size: int) -> str:
    """A run of ``size`` calls: the 8-call sample cloned with fresh ids, 1 s apart."""
    with Store(str(db)) as store:
        run = Run(label=f"bench {size}", argv=["openstack", "bench"], started=T0, ended=T0 + size)
        store.add_run(run)
        calls = []
        clone = 0
        while len(calls) < size:
            span_map: dict[str, str] = {}
            trace_id = new_trace_id()
            for call in sample_calls(run.id, start=T0 + clone, server_run="bench-server"):
                new = dataclasses.replace(call, span_id=new_span_id(), trace_id=trace_id)
                span_map[call.span_id] = new.span_id
                new.parent_span_id = span_map.get(call.parent_span_id or "")
                new.layers = [dataclasses.replace(la, span_id=new.span_id) for la in call.layers]
                calls.append(new)
            clone += 1
        store.add_calls(calls[:size])
        store.add_catalog(run.id, CATALOG)
    return run.id


def measure(db: Path, run_id: str, render: object) -> float:
    best = float("inf")
    for _ in range(REPEAT):
        began = time.perf_counter()
        with Store(str(db)) as store:
            text = render(load_trace(store, run_id))  # type: ignore[operator]
        assert text
        best = min(best, time.perf_counter() - began)
    return best


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        results: dict[tuple[str, int], float] = {}
        for size in SIZES:
            db = Path(tmp) / (f"bench-{size}.db")
            run_id = build(db, size)
            for name, render in (("har", render_har), ("json", render_json)):
                results[(name, size)] = measure(db, run_id, render)
        print(f"{'format':<6} {'calls':>8} {'total ms':>10} {'us/call':>10} {'growth':>8}")
        for name in ("har", "json"):
            base = results[(name, SIZES[0])] / SIZES[0]
            for size in SIZES:
                per_call = results[(name, size)] / size
                print(
                    f"{name:<6} {size:>8d} {results[(name, size)] * 1000:>10.1f} {per_call * 1e6:>10.1f}"
                    f" {per_call / base:>8.2f}"
                )
        for size in SIZES:
            print(
                f"har/json time ratio at {size} calls: {results[('har', size)] / results[('json', size)]:.2f}"
            )


if __name__ == "__main__":
    main()
