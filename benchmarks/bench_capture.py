"""Capture overhead, measured side by side in one run.

1. Per-call wall time of plain ``requests.get`` on a 127.0.0.1 keep-alive loop, untraced vs
   traced. Target: at most +50 us per call.
   a. each side in its own process, alternating rounds, best round kept; traced = the loop
      under ``stacktap run`` (its collector enriches and stores in the wrapper's process);
   b. one process, recording off/on in alternating blocks, with a collector (as under
      ``stacktap run``) and without one (the in-process writer of ``stacktap.trace()`` and of
      service processes).
2. Start-up of ``openstack --version`` untraced vs traced (target ratio <= 1.10x): the
   child started with the tracing environment, and the whole ``stacktap run`` wrapper.

Usage: ``python benchmarks/bench_capture.py [--calls N] [--rounds R] [--openstack PATH]``
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import stacktap
from _bench_common import HERE, local_server, plain_env, run_child, traced_env
from stacktap.launcher.collector import Collector

LOOP = """
import sys, time, requests
url, n = sys.argv[1], int(sys.argv[2])
s = requests.Session()
for _ in range(200):
    s.get(url).json()
t = time.perf_counter()
for _ in range(n):
    s.get(url).json()
print((time.perf_counter() - t) / n * 1e6)
"""

# NOTE: one traced process, blocks of calls with recording off and on, alternating, so both
# sides share the machine's state; a block "on" includes flushing what it recorded.
ALTERNATING = """
import sys, time, requests
from stacktap.agent.recorder import get_recorder
rec = get_recorder()
url, n, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = requests.Session()
for _ in range(200):
    s.get(url).json()
rec.flush(30)
best = {False: [], True: []}
for _ in range(rounds):
    for on in (False, True):
        rec.enabled = on
        t = time.perf_counter()
        for _ in range(n):
            s.get(url).json()
        if on:
            rec.flush(30)
        best[on].append((time.perf_counter() - t) / n * 1e6)
diffs = sorted(b - a for a, b in zip(best[False], best[True]))
print(min(best[False]), min(best[True]), diffs[len(diffs) // 2])
"""


def _stacktap() -> str:
    return os.path.join(os.path.dirname(sys.executable), "stacktap")


def per_call(url: str, calls: int, rounds: int, db: str) -> tuple[float, float]:
    untraced, traced = [], []
    wrapper = [_stacktap(), "run", "--db", db, "--"]
    for _ in range(rounds):
        untraced.append(float(run_child(LOOP, plain_env(), url, str(calls))))
        traced.append(float(run_child(LOOP, plain_env(), url, str(calls), wrapper=wrapper)))
    return min(untraced), min(traced)


def per_call_alternating(
    url: str, calls: int, rounds: int, db: str, collector: bool
) -> tuple[float, float, float]:
    """(best untraced, best traced, median of the paired differences) in us per call.

    NOTE: the paired differences (each traced block minus the untraced block just before it)
    follow the machine's speed as it drifts; on a shared VM it can swing 2x within seconds,
    which moves the two minima apart by more than the cost being measured.
    """
    args = (url, str(calls // 4), str(rounds * 4))
    if collector:
        with Collector(db) as running:
            output = run_child(ALTERNATING, traced_env(db, collector=running.address), *args)
    else:
        output = run_child(ALTERNATING, traced_env(db), *args)
    off, on, diff = output.split()
    return float(off), float(on), float(diff)


def _line(plain: float, traced: float) -> str:
    return (
        f"  untraced {plain:.1f} us/call | traced {traced:.1f} us/call"
        f" | added {traced - plain:+.1f} us | ratio {traced / plain:.3f}x"
    )


def startup(cmd: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _default_openstack() -> str:
    """The experiment venv's ``openstack``, else the dev cloud's (``.devcloud/venv``)."""
    candidates = [
        "/tmp/exp/venv/bin/openstack",
        os.path.join(os.path.dirname(HERE), ".devcloud", "venv", "bin", "openstack"),
    ]
    return next((path for path in candidates if os.path.exists(path)), candidates[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--startup-runs", type=int, default=7)
    parser.add_argument("--openstack", default=_default_openstack())
    args = parser.parse_args()
    # NOTE: as pip does for an installed package: an editable install under
    # PYTHONDONTWRITEBYTECODE=1 would otherwise compile stacktap's modules at every start.
    compileall.compile_dir(os.path.dirname(stacktap.__file__), quiet=1)
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "bench.db")
        with local_server() as base:
            plain, traced = per_call(base + "/json", args.calls, args.rounds, db)
            with_collector = per_call_alternating(base + "/json", args.calls, args.rounds, db, True)
            in_process = per_call_alternating(base + "/json", args.calls, args.rounds, db, False)
        print(f"per call, requests on 127.0.0.1 keep-alive, separate processes (best of {args.rounds}):")
        print("  traced = under `stacktap run` (collector in the wrapper)")
        print(_line(plain, traced))
        print("per call, one process, recording off/on in alternating blocks (flush included):")
        for title, (alt_plain, alt_traced, alt_diff) in (
            ("with a collector, as under `stacktap run`", with_collector),
            ("in-process writer, as in `stacktap.trace()` and services", in_process),
        ):
            print(f"  {title}:")
            print(_line(alt_plain, alt_traced))
            print(f"    median of paired block differences: added {alt_diff:+.1f} us")
        if not os.path.exists(args.openstack):
            print(f"start-up: skipped (no {args.openstack})")
            return
        cmd = [args.openstack, "--version"]
        # NOTE: interleave warm-ups so both sides see a warm page cache and .pyc files.
        startup(cmd, plain_env(), 2)
        startup(cmd, traced_env(db), 2)
        base_t = startup(cmd, plain_env(), args.startup_runs)
        child_t = startup(cmd, traced_env(db), args.startup_runs)
        wrapper = [_stacktap(), "run", "--db", db, "--", *cmd]
        wrapper_t = startup(wrapper, plain_env(), args.startup_runs)
        print(f"start-up of `openstack --version` (median of {args.startup_runs}):")
        print(
            f"  untraced {base_t * 1e3:.0f} ms | traced child {child_t * 1e3:.0f} ms"
            f" (ratio {child_t / base_t:.3f}x) | via `stacktap run` {wrapper_t * 1e3:.0f} ms"
            f" (ratio {wrapper_t / base_t:.3f}x)"
        )


if __name__ == "__main__":
    main()
