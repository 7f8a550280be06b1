"""Peak memory of a 200 MB upload and download, untraced vs traced, side by side.

Each side runs in its own child process against a 127.0.0.1 server (another process):
``requests.put(data=<file>)`` streams a 200 MB file up; ``requests.get(stream=True)``
reads 200 MB down in 64 KiB chunks. The child prints its peak RSS (``ru_maxrss``).
Target: the traced peak stays close to the untraced one (bounded by the body cap).

Usage: ``python benchmarks/bench_body_memory.py [--mb 200]``
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _bench_common import local_server, plain_env, run_child, traced_env

UPLOAD = """
import resource, sys, requests
with open(sys.argv[2], "rb") as f:
    r = requests.post(sys.argv[1] + "/upload", data=f)
assert r.status_code == 201, r.status_code
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

DOWNLOAD = """
import resource, sys, requests
r = requests.get(sys.argv[1] + "/bytes?size=" + sys.argv[2], stream=True)
n = sum(len(c) for c in r.iter_content(65536))
assert n == int(sys.argv[2]), n
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200)
    args = parser.parse_args()
    size = args.mb * 1024 * 1024
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "bench.db")
        data = os.path.join(tmp, "upload.bin")
        with open(data, "wb") as out:
            block = os.urandom(1 << 20)
            for _ in range(args.mb):
                out.write(block)
        with local_server() as base:
            for name, code, arg in (("upload", UPLOAD, data), ("download", DOWNLOAD, str(size))):
                plain = int(run_child(code, plain_env(), base, arg))
                traced = int(run_child(code, traced_env(db), base, arg))
                print(
                    f"{name:<8} {args.mb} MB: peak RSS untraced {plain / 1024:.1f} MB"
                    f" | traced {traced / 1024:.1f} MB | added {(traced - plain) / 1024:+.1f} MB"
                    f" | ratio {traced / plain:.3f}x"
                )


if __name__ == "__main__":
    main()
