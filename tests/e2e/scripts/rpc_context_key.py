"""Run with the dev cloud's Python: an oslo.messaging RPC server and client on the in-memory
``fake://`` transport, the endpoint answering with the context keys it was handed.

argv[1] is ``traced`` (stacktap's hooks loaded: the client sends under a traced span) or
``plain`` (no stacktap: the client puts stacktap's key into the context itself, as a traced
sender would). Prints one JSON line: the keys the endpoint saw, and what nova's real
RequestContext made of that context.
"""

from __future__ import annotations

import json
import sys

import oslo_messaging
from nova import context as nova_context
from oslo_config import cfg

MODE = sys.argv[1]


class Endpoint:
    target = oslo_messaging.Target(namespace="probe", version="1.0")

    def keys(self, ctxt, **kwargs):
        restored = nova_context.RequestContext.from_dict(ctxt)
        return {"seen": sorted(ctxt), "nova": sorted(restored.to_dict())}


def main() -> None:
    conf = cfg.CONF  # NOTE: oslo.messaging registers some of its options on the global one
    conf([], project="probe")
    transport = oslo_messaging.get_rpc_transport(conf, url="fake:///")
    target = oslo_messaging.Target(topic="probe", server="here")
    server = oslo_messaging.get_rpc_server(transport, target, [Endpoint()], executor="threading")
    server.start()
    try:
        to = oslo_messaging.Target(topic="probe", namespace="probe", version="1.0")
        client = oslo_messaging.get_rpc_client(transport, to)
        ctxt = {"request_id": "req-probe", "user_id": "u1", "project_id": "p1"}
        if MODE == "traced":
            from stacktap.agent import context

            context.set_current_span("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")
        else:
            ctxt["stacktap_traceparent"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        answer = client.prepare(timeout=30).call(ctxt, "keys", size=3)
    finally:
        server.stop()
        server.wait()
    print(json.dumps(answer))


if __name__ == "__main__":
    main()
