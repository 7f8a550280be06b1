"""Per-call latency through ``stacktap proxy`` against direct and against mitmproxy, side by
side in one run.

The same loop (``requests.Session`` GETs of a small JSON document on a 127.0.0.1 keep-alive
server, in its own process) runs three ways: straight to the server, through a
``stacktap proxy`` process (recording every call: redaction, service naming, the store), and
through ``mitmdump --mode reverse:URL`` (mitmproxy recording nothing to disk). Rounds
alternate the three, the best round of each kept. Printed: microseconds per call, what each
proxy adds, and the ratio of the two additions.
Target: stacktap's proxy adds less than mitmproxy's.

mitmdump is taken from PATH, else from a virtualenv of its own that this script creates and
pip-installs mitmproxy into (``$XDG_CACHE_HOME/stacktap/bench-mitmproxy``; once).

Usage: ``python benchmarks/bench_proxy.py [--calls N] [--rounds R] [--mitmdump PATH]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import venv
from collections.abc import Iterator
from contextlib import contextmanager

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _bench_common import local_server, plain_env, run_child, stacktap_proxy

LOOP = """
import sys, time, requests
url, n = sys.argv[1], int(sys.argv[2])
s = requests.Session()
for _ in range(100):
    s.get(url).json()
t = time.perf_counter()
for _ in range(n):
    s.get(url).json()
print((time.perf_counter() - t) / n * 1e6)
"""


def find_mitmdump(given: str | None) -> str:
    """mitmdump: ``given``, else on PATH, else in the benchmark's own virtualenv (made once)."""
    if given:
        return given
    found = shutil.which("mitmdump")
    if found:
        return found
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    home = os.path.join(cache, "stacktap", "bench-mitmproxy")
    binary = os.path.join(home, "bin", "mitmdump")
    if not os.path.exists(binary):
        print(f"bench_proxy: installing mitmproxy into {home} (once)", file=sys.stderr)
        venv.create(home, with_pip=True)
        pip = [os.path.join(home, "bin", "python"), "-m", "pip", "install", "-q", "mitmproxy"]
        subprocess.run(pip, check=True)
    return binary


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def mitmdump(binary: str, upstream: str) -> Iterator[str]:
    """``mitmdump --mode reverse:upstream`` on 127.0.0.1 (quiet, no flow file); yields its URL."""
    port = _free_port()
    with tempfile.TemporaryDirectory() as confdir:
        command = [binary, "--mode", f"reverse:{upstream}", "--set", f"confdir={confdir}", "-q"]
        proc = subprocess.Popen(
            [*command, "--listen-host", "127.0.0.1", "--listen-port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.time() + 60
            while True:
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", port)) == 0:
                        break
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("mitmdump did not start")
                time.sleep(0.1)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--mitmdump", default=None, metavar="PATH")
    args = parser.parse_args()
    binary = find_mitmdump(args.mitmdump)
    env = plain_env()
    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp, local_server() as base:
        db = os.path.join(tmp, "bench.db")
        with stacktap_proxy(base + "/v3", db) as (_, ours), mitmdump(binary, base) as theirs:
            urls = {"direct": base, "stacktap proxy": ours[: -len("/v3")], "mitmproxy": theirs}
            for _ in range(args.rounds):
                for name, url in urls.items():
                    took = float(run_child(LOOP, env, url + "/json", str(args.calls)))
                    best[name] = min(best.get(name, took), took)
    direct = best["direct"]
    ours_added, theirs_added = best["stacktap proxy"] - direct, best["mitmproxy"] - direct
    print(f"per call ({args.calls} calls, best of {args.rounds} rounds):")
    for name, took in best.items():
        extra = "" if name == "direct" else f"  (+{took - direct:.0f} us, {took / direct:.2f}x direct)"
        print(f"  {name:<15} {took:8.0f} us{extra}")
    print(f"  added by stacktap proxy / added by mitmproxy: {ours_added / theirs_added:.2f}x")


if __name__ == "__main__":
    main()
