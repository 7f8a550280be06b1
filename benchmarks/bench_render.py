"""How the pictures cost grows with the run: ``diagram`` (Mermaid) and ``report`` (HTML)
for runs of 100, 1,000 and 10,000 calls, cloned from a small realistic set.

Prints, per size: seconds, microseconds per call, output size, and the growth ratio of
time per call against the smallest run (1.0 = linear). Loading the trace from the store is
timed apart, since every renderer pays it.

    .venv/bin/python benchmarks/bench_render.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.fixtures
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "render"))

from sample_traces import CATALOG, T0, clone_calls, sample_calls

from stacktap.model import Run
from stacktap.render.html import render_report
from stacktap.render.mermaid import render_mermaid
from stacktap.store import Store, Trace, load_trace

SIZES = (100, 1_000, 10_000)
#: Mermaid's default ``maxTextSize``: longer diagram text is drawn as an error message instead
#: (mmdc, mermaid.live, GitHub); ``--limit`` keeps a big run's diagram under it.
MERMAID_MAX_TEXT = 50_000


def _store_run(directory: Path, calls: int) -> tuple[str, str]:
    path = str(directory / f"bench{calls}.db")
    with Store(path) as store:
        run = Run(argv=["openstack", "server", "create", "--wait"], started=T0 - 1, exit_code=0)
        store.add_run(run)
        template = sample_calls(run)
        cloned = clone_calls(template, run, -(-calls // len(template)))[:calls]
        store.add_calls(cloned)
        store.add_catalog(run.id, CATALOG)
    return path, run.id


def _best(func: Callable[[], object], repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in SIZES:
            path, run_id = _store_run(Path(tmp), size)
            repeat = 3 if size <= 1_000 else 1
            with Store(path, create=False) as store:
                load_s, trace = _best(lambda s=store, r=run_id: load_trace(s, r), repeat)
            assert isinstance(trace, Trace)
            diagram_s, diagram = _best(lambda t=trace: render_mermaid(t), repeat)
            report_s, report = _best(lambda t=trace: render_report(t), repeat)
            rows.append((size, load_s, diagram_s, len(str(diagram)), report_s, len(str(report))))
    first = rows[0]
    base = {"load": first[1] / first[0], "diagram": first[2] / first[0], "report": first[4] / first[0]}
    print(f"{'calls':>8}  {'what':<8} {'seconds':>9} {'us/call':>9} {'output':>10} {'growth':>8}")
    for size, load_s, diagram_s, diagram_len, report_s, report_len in rows:
        for what, seconds, length in (("load", load_s, 0), ("diagram", diagram_s, diagram_len),
                                      ("report", report_s, report_len)):
            per_call = seconds / size
            output = f"{length / 1000:.1f} kB" if length else "-"
            growth = per_call / base[what]
            print(f"{size:8d}  {what:<8} {seconds:9.3f} {per_call * 1e6:9.1f} {output:>10} {growth:7.2f}x")
    print(f"growth: time per call relative to the {SIZES[0]}-call run (1.00x = linear)")
    too_big = [f"{row[0]:,}" for row in rows if row[3] > MERMAID_MAX_TEXT]
    if too_big:
        print(f"diagram text over Mermaid's default maxTextSize ({MERMAID_MAX_TEXT:,} characters), "
              f"which Mermaid refuses to draw: {', '.join(too_big)} calls (use --limit)")


if __name__ == "__main__":
    main()
