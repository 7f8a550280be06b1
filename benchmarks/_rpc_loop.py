"""One mode of bench_rpc.py, run by the dev cloud's Python: N RPC calls and casts over
oslo.messaging's in-memory ``fake://`` transport to a threading RPC server in this process.

argv: MODE (plain | stacktap | otel) ROUNDS BLOCK. Prints one JSON line: seconds per call and
per cast, one value per block.
"""

from __future__ import annotations

import json
import sys
import threading
import time

import oslo_messaging
from oslo_config import cfg

MODE, ROUNDS, BLOCK = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])


class Endpoint:
    target = oslo_messaging.Target(version="1.0")

    def __init__(self) -> None:
        self.casts = threading.Semaphore(0)

    def ping(self, ctxt, value):
        return value

    def note(self, ctxt, value):
        self.casts.release()


def main() -> None:
    conf = cfg.CONF
    conf([], project="bench")
    if MODE == "otel":
        conf.set_override("tracing_enabled", True, group="oslo_messaging_tracing")
    transport = oslo_messaging.get_rpc_transport(conf, url="fake:///")
    endpoint = Endpoint()
    server = oslo_messaging.get_rpc_server(
        transport, oslo_messaging.Target(topic="bench", server="here"), [endpoint], executor="threading"
    )
    server.start()
    client = oslo_messaging.get_rpc_client(transport, oslo_messaging.Target(topic="bench", version="1.0"))
    ctxt = {"request_id": "req-bench", "user_id": "u", "project_id": "p"}
    token = None
    if MODE == "stacktap":
        from stacktap.agent import context

        token = context.set_current_span("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")
    calls, casts = [], []
    try:
        for _ in range(ROUNDS):
            start = time.perf_counter()
            for i in range(BLOCK):
                client.call(ctxt, "ping", value=i)
            calls.append((time.perf_counter() - start) / BLOCK)
            start = time.perf_counter()
            for i in range(BLOCK):
                client.cast(ctxt, "note", value=i)
            for _ in range(BLOCK):
                endpoint.casts.acquire(timeout=30)
            casts.append((time.perf_counter() - start) / BLOCK)
    finally:
        if token is not None:
            from stacktap.agent import context

            context.reset_current_span(token)
        server.stop()
        server.wait()
    if MODE == "stacktap":
        from stacktap.agent.recorder import get_recorder

        get_recorder().flush(30)
    print(json.dumps({"call": calls, "cast": casts}))


if __name__ == "__main__":
    main()
