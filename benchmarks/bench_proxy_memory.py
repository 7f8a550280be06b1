"""Peak memory of a 200 MB upload and download through ``stacktap proxy``, side by side with
the same client untraced.

By default a 127.0.0.1 server (another process) takes the upload and serves the download; the
client (``requests``, streaming both ways, its own process) runs once straight to it and once
through a ``stacktap proxy`` process. With ``--devcloud DIR`` the upstream is that running dev
cloud (glance) and the client the real OSC: ``openstack image create --file``, then
``openstack image save``. Printed: the client's peak RSS untraced and through the proxy, the
proxy's peak (``VmHWM`` of /proc/PID/status) before and after the transfer, what the transfer
added to it, and the proxy's peak against the untraced client's.
Target: the proxy adds a few MB at most (bodies stream in 64 KiB chunks, captured up to the
body cap), its peak about the untraced client's (~1.1x).

Usage: ``python benchmarks/bench_proxy_memory.py [--mb 200] [--devcloud DIR]``
"""

from __future__ import annotations

import argparse
import os
import subprocess
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


def _local(data: str, size: int, db: str) -> tuple[int, int, int, int]:
    """(client untraced, client through, proxy before, proxy after) peaks in KiB."""
    with local_server() as base:
        plain = int(run_child(TRANSFER, plain_env(), base, data, str(size)))
        with stacktap_proxy(base + "/v3", db) as (pid, auth_url):
            proxied = auth_url[: -len("/v3")]
            run_child(WARM_UP, plain_env(), proxied)
            before = vm_kib(pid, "VmHWM")
            through = int(run_child(TRANSFER, plain_env(), proxied, data, str(size)))
            return plain, through, before, vm_kib(pid, "VmHWM")


def _osc_peak(env: dict[str, str], *args: str) -> int:
    """Run ``openstack ARGS``; its peak RSS in KiB (from ``wait4``)."""
    proc = subprocess.Popen(["openstack", *args], env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"openstack {' '.join(args)} failed ({proc.returncode})")
    return int(usage.ru_maxrss)


def _osc_transfer(env: dict[str, str], data: str, name: str) -> int:
    """Upload ``data`` as image ``name``, download it, delete it: the client's larger peak."""
    create = ["image", "create", "--disk-format", "raw", "--container-format", "bare", "--file", data]
    peaks = [_osc_peak(env, *create, name)]
    try:
        peaks.append(_osc_peak(env, "image", "save", "--file", os.devnull, name))
    finally:
        subprocess.run(["openstack", "image", "delete", name], env=env, check=False)
    return max(peaks)


def _devcloud(directory: str, data: str, db: str) -> tuple[int, int, int, int]:
    from stacktap.devcloud import clouds, lifecycle

    layout, state, _ = lifecycle.status(directory)
    env = clouds.client_env(layout, state, plain_env())
    plain = _osc_transfer(env, data, "bench-proxy-untraced")
    with stacktap_proxy(env["OS_AUTH_URL"], db) as (pid, auth_url):
        through_env = {**env, "OS_AUTH_URL": auth_url}
        _osc_peak(through_env, "image", "list")  # NOTE: warm-up: token, catalog, first calls
        before = vm_kib(pid, "VmHWM")
        through = _osc_transfer(through_env, data, "bench-proxy-through")
        return plain, through, before, vm_kib(pid, "VmHWM")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--devcloud", default=None, metavar="DIR", help="a running dev cloud's dir")
    args = parser.parse_args()
    size = args.mb * 1024 * 1024
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "upload.bin")
        with open(data, "wb") as out:
            block = os.urandom(1 << 20)
            for _ in range(args.mb):
                out.write(block)
        db = os.path.join(tmp, "bench.db")
        if args.devcloud:
            plain, through, before, peak = _devcloud(args.devcloud, data, db)
        else:
            plain, through, before, peak = _local(data, size, db)
        where = "dev cloud glance, OSC" if args.devcloud else "local server, requests"
        print(f"{args.mb} MB up + {args.mb} MB down ({where}), peak RSS:")
        print(f"  client untraced        {plain / 1024:7.1f} MB")
        print(f"  client through proxy   {through / 1024:7.1f} MB")
        print(f"  proxy before transfer  {before / 1024:7.1f} MB")
        print(f"  proxy after transfer   {peak / 1024:7.1f} MB  (added {(peak - before) / 1024:+.1f} MB)")
        calls = _recorded(db)
        print(f"  proxy peak / untraced client peak: {peak / plain:.3f}x ({calls} calls recorded)")


def _recorded(db: str) -> int:
    """How many calls the proxy stored (proof the transfer went through it)."""
    from stacktap.store import Store

    with Store(db) as store:
        return len(store.calls(store.get_run("last").id, with_traces=False))


if __name__ == "__main__":
    main()
