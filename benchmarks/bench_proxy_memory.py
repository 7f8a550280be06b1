"""Peak memory of a 200 MB upload and download through ``stacktap proxy``, side by side with
the same client untraced.

A 127.0.0.1 server (another process) takes the upload and serves the download; the client
(``requests``, streaming both ways, its own process) runs once straight to it and once through
a ``stacktap proxy`` process. Printed: the client's peak RSS untraced (``ru_maxrss``), the
proxy's peak (``VmHWM`` of /proc/PID/status) before and after the transfer, what the transfer
added to it, and the proxy's peak against the untraced client's.
Target: the proxy adds a few MB at most (bodies stream in 64 KiB chunks; captured up to the
body cap), its peak about the untraced client's (~1.1x).

Usage: ``python benchmarks/bench_proxy_memory.py [--mb 200]``
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _bench_common import local_server, plain_env, run_child, stacktap_proxy, vm_kib

TRANSFER = """
import resource, sys, requests
base, path, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(path, "rb") as f:
    r = requests.post(base + "/upload", data=f)
assert r.status_code == 201, r.status_code
r = requests.get(base + "/bytes?size=%d" % size, stream=True)
n = sum(len(c) for c in r.iter_content(65536))
assert n == size, n
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

WARM_UP = """
import sys, requests
assert requests.get(sys.argv[1] + "/json").status_code == 200
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200)
    args = parser.parse_args()
    size = args.mb * 1024 * 1024
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "upload.bin")
        with open(data, "wb") as out:
            block = os.urandom(1 << 20)
            for _ in range(args.mb):
                out.write(block)
        with local_server() as base:
            plain = int(run_child(TRANSFER, plain_env(), base, data, str(size)))
            with stacktap_proxy(base + "/v3", os.path.join(tmp, "bench.db")) as (pid, proxied):
                run_child(WARM_UP, plain_env(), proxied)
                before = vm_kib(pid, "VmHWM")
                through = int(run_child(TRANSFER, plain_env(), proxied, data, str(size)))
                peak = vm_kib(pid, "VmHWM")
    print(f"{args.mb} MB up + {args.mb} MB down, peak RSS:")
    print(f"  client untraced        {plain / 1024:7.1f} MB")
    print(f"  client through proxy   {through / 1024:7.1f} MB")
    print(f"  proxy before transfer  {before / 1024:7.1f} MB")
    print(f"  proxy after transfer   {peak / 1024:7.1f} MB  (added {(peak - before) / 1024:+.1f} MB)")
    print(f"  proxy peak / untraced client peak: {peak / plain:.3f}x")


if __name__ == "__main__":
    main()
