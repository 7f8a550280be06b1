"""OTLP export: how fast a stored run goes out, and what live export costs a traced program.

1. ``send_trace`` throughput (spans/s, protobuf through the SDK) to a local receiver, next to
   the stdlib OTLP/JSON path the live exporter uses (encode + POST), same spans.
2. Live-export overhead per request: a traced program makes N local requests with the capture
   hook on, live sink off vs on (receiver up), run alternately; the ratio of medians.

Usage: ``.venv/bin/python benchmarks/bench_otlp.py [--calls 2000] [--requests 300] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.fixtures.otlp_receiver import Receiver

from stacktap.agent.live import LiveExporter
from stacktap.agent.spans import spans_for_calls
from stacktap.export.otlp import send_trace
from stacktap.launcher.env import tracing_env
from stacktap.model import Call, Layer, Run
from stacktap.store import Store, Trace, load_trace


def synthetic_trace(db: str, calls: int) -> Trace:
    """``calls`` client calls, each answered by a server call with five layers."""
    with Store(db) as store:
        run = Run(started=1.0, label="bench")
        store.add_run(run)
        records = []
        for n in range(calls):
            client = Call(run_id=run.id, method="GET", url=f"http://127.0.0.1:9292/v2/images/{n:032x}",
                          start=1.0 + n * 0.01, duration=0.008, status=200, process_name="openstack")
            server = Call(run_id="srv", side="server", method="GET", url=client.url,
                          start=client.start + 0.001, duration=0.006, status=200, trace_id=client.trace_id,
                          parent_span_id=client.span_id, local_service="glance-api",
                          handler="ImagesController.show")
            server.layers = [Layer(span_id=server.span_id, order=i, name=f"filter{i}", enter_offset=i * 1e-4,
                                   exit_offset=0.006 - i * 1e-4) for i in range(5)]
            records.extend([client, server])
        store.add_calls(records)
        return load_trace(store, run.id)


def bench_send_trace(trace: Trace) -> tuple[float, float, int]:
    """(SDK protobuf spans/s, stdlib JSON spans/s, span count)."""
    with Receiver() as rx:
        send_trace(trace, rx.base_url, {})  # warm-up: imports, connection
        t0 = time.perf_counter()
        count = send_trace(trace, rx.base_url, {})
        proto = count / (time.perf_counter() - t0)
        exporter = LiveExporter(rx.url, max_queue=10**7, batch_size=512)
        t0 = time.perf_counter()
        exporter.submit(spans_for_calls(trace.calls))
        exporter.flush(300)
        json_rate = count / (time.perf_counter() - t0)
        assert exporter.stats()["sent"] == count, exporter.stats()
    return proto, json_rate, count


class _Hello(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # NOTE: headers and body go out in two writes; without this, Nagle + delayed ACK
        # add ~40 ms to every kept-alive request and drown what is being measured.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


LOOP = textwrap.dedent(
    """
    import sys, time
    import requests
    # NOTE: nothing about export here: the bootstrap turns it on from the environment.
    url, n = sys.argv[1], int(sys.argv[2])
    session = requests.Session()
    for _ in range(20):
        session.get(url)
    t0 = time.perf_counter()
    for _ in range(n):
        session.get(url)
    print((time.perf_counter() - t0) / n)
    """
)


def traced_loop(db: str, run_id: str, url: str, requests: int, live_endpoint: str | None) -> float:
    """Seconds per request in a traced program, live export on (endpoint) or off."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("STACKTAP_OTLP", "OTEL_"))}
    if live_endpoint:
        base["STACKTAP_OTLP_ENDPOINT"] = live_endpoint
    env = tracing_env(db, run_id=run_id, base=base)
    out = subprocess.run([sys.executable, "-c", LOOP, url, str(requests)], env=env, capture_output=True,
                         text=True, timeout=600, check=True)
    return float(out.stdout.split()[-1])


def bench_live_overhead(requests: int, rounds: int) -> tuple[float, float, int]:
    """(median s/request live off, live on, spans the receiver got)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    off: list[float] = []
    on: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, Receiver() as rx:
        db = os.path.join(tmp, "loop.db")
        with Store(db) as store:
            run = Run(started=time.time(), label="bench-live")
            store.add_run(run)
        for _ in range(rounds):
            off.append(traced_loop(db, run.id, url, requests, None))
            on.append(traced_loop(db, run.id, url, requests, rx.base_url))
        received = sum(body.count(b'"spanId"') for body in rx.bodies())
    server.shutdown()
    server.server_close()
    return statistics.median(off), statistics.median(on), received


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="client calls in the synthetic run")
    parser.add_argument("--requests", type=int, default=300, help="requests per traced loop")
    parser.add_argument("--rounds", type=int, default=3, help="alternating off/on rounds")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        trace = synthetic_trace(os.path.join(tmp, "bench.db"), args.calls)
    proto, json_rate, count = bench_send_trace(trace)
    off, on, received = bench_live_overhead(args.requests, args.rounds)
    print(f"export of a stored run ({count} spans, to a local receiver)")
    print(f"  send_trace, SDK protobuf     {proto:10.0f} spans/s")
    ratio = json_rate / proto
    print(f"  live path, stdlib OTLP/JSON  {json_rate:10.0f} spans/s   (ratio json/protobuf {ratio:.2f})")
    print(f"traced loop of {args.requests} local requests x {args.rounds} rounds (median per request)")
    print(f"  live export off              {off * 1e6:10.1f} us")
    print(f"  live export on               {on * 1e6:10.1f} us   (overhead ratio on/off {on / off:.2f})")
    print(f"  spans received live          {received:10d}")


if __name__ == "__main__":
    main()
