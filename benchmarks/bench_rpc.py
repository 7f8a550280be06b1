"""The RPC hook's cost per oslo.messaging call and cast, beside oslo.messaging's own OpenTelemetry
tracing, on a local loop (the in-memory ``fake://`` transport, a threading RPC server).

Each mode runs in its own process of the dev cloud's Python (``_rpc_loop.py``), the three
taking turns so the machine's noise hits them alike: ``plain`` (no stacktap), ``stacktap``
(the hooks loaded by the bootstrap, sending from a traced span: every call and cast and every
dispatch recorded into a store of its own), ``otel`` (``[oslo_messaging_tracing]
tracing_enabled``, the SDK from this venv, spans to a collector that is not there: the batch
exporter drops them). osprofiler has no RPC timing of its own (it only carries its trace info
in the context), so it is not an anchor here. A call is timed until its reply, a cast (all of a
block) until the server got it. Prints the best and median per call and per cast, and ratios.
NOTE: the fake driver polls for a call's reply (about 50 ms a call here), so the call rows show
only that the hooks add nothing visible to it; the cast rows are the measure.

    .venv/bin/python benchmarks/bench_rpc.py [--devcloud DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

from stacktap.devcloud.layout import Layout
from stacktap.launcher.env import tracing_env

HERE = Path(__file__).parent
ROUNDS, BLOCK, TURNS = 4, 300, 3


def _run(python: Path, mode: str, env: dict[str, str]) -> dict[str, list[float]]:
    done = subprocess.run(
        [str(python), str(HERE / "_rpc_loop.py"), mode, str(ROUNDS), str(BLOCK)],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"{mode}: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devcloud", default=str(HERE.parent / ".devcloud"), help="dev cloud dir (its venv)")
    args = parser.parse_args()
    python = Layout.at(args.devcloud).python
    if not python.exists():
        hint = f"run `stacktap devcloud up --dir {args.devcloud}`"
        raise SystemExit(f"no dev cloud venv in {args.devcloud}: {hint}")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("STACKTAP_", "PYTHONPATH"))}
    with tempfile.TemporaryDirectory() as tmp:
        envs = {
            "plain": dict(base),
            "stacktap": tracing_env(str(Path(tmp) / "store.db"), service="bench-rpc", base=base),
            # NOTE: this venv's OpenTelemetry, after the dev cloud's own packages.
            "otel": {**base, "PYTHONPATH": sysconfig.get_paths()["purelib"]},
        }
        times: dict[str, dict[str, list[float]]] = {m: {"call": [], "cast": []} for m in envs}
        for _ in range(TURNS):
            for mode, env in envs.items():
                result = _run(python, mode, env)
                for what in ("call", "cast"):
                    times[mode][what] += result[what]
    print(f"oslo.messaging on fake://, {TURNS} turns x {ROUNDS} blocks of {BLOCK}, per message:")
    for what in ("call", "cast"):
        plain = statistics.median(times["plain"][what])
        for mode in envs:
            values = times[mode][what]
            median = statistics.median(values)
            print(
                f"  {what:4s} {mode:9s} best {min(values) * 1e6:7.1f} us  median {median * 1e6:7.1f} us"
                f"  added {(median - plain) * 1e6:+7.1f} us  ratio {median / plain:.2f}x"
            )
    print(f"(python: {sys.executable})")


if __name__ == "__main__":
    main()
