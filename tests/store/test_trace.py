"""load_trace: services named from the run's catalog, path templates, the call tree."""

from __future__ import annotations

from pathlib import Path

from stacktap.model import Call, CatalogEntry, Peer, Run
from stacktap.store import Store, load_trace, service_label

KEYSTONE = "http://127.0.0.1:5000"
NOVA = "http://127.0.0.1:8774/v2.1"


def test_names_discovery_token_and_catalog_calls(tmp_path: Path) -> None:
    with Store(str(tmp_path / "s.db")) as store:
        run = Run(started=1.0)
        store.add_run(run)
        discovery = Call(run_id=run.id, method="GET", url=KEYSTONE + "/", start=1.0)
        token = Call(run_id=run.id, method="POST", url=KEYSTONE + "/v3/auth/tokens", start=1.1)
        servers = Call(run_id=run.id, method="GET", url=NOVA + "/servers/detail", start=1.2)
        flavor = Call(run_id=run.id, method="GET", url=NOVA + "/flavors/3", start=1.25)
        other = Call(run_id=run.id, method="GET", url="http://10.9.9.9:1234/x", start=1.3)
        store.add_calls([discovery, token, servers, flavor, other])
        store.add_catalog(run.id, [CatalogEntry(service_type="compute", service_name="nova",
                                                interface="public", region="RegionOne", url=NOVA)])
        trace = load_trace(store, "last")
    labels = [service_label(c) for c in trace.calls]
    assert labels == ["keystone", "keystone", "nova", "nova", "10.9.9.9:1234"]
    assert trace.calls[3].path_template == "/v2.1/flavors/{flavor_id}"
    assert trace.services == ["keystone", "nova", "10.9.9.9:1234"]


def test_tree_nests_server_records_under_client_calls(tmp_path: Path) -> None:
    with Store(str(tmp_path / "s.db")) as store:
        run = Run(started=1.0)
        store.add_run(run)
        client = Call(run_id=run.id, method="GET", url="http://127.0.0.1:9292/v2/images", start=1.0,
                      peer=Peer(service_type="image", service_name="glance"))
        server = Call(run_id="glance-run", method="GET", url="http://127.0.0.1:9292/v2/images",
                      start=1.01, side="server", trace_id=client.trace_id, parent_span_id=client.span_id)
        validate = Call(run_id="glance-run", method="GET", url=KEYSTONE + "/v3/auth/tokens", start=1.02,
                        trace_id=client.trace_id, parent_span_id=server.span_id)
        after = Call(run_id=run.id, method="GET", url="http://127.0.0.1:9292/v2/schemas/image", start=1.5)
        store.add_calls([client, server, validate, after])
        trace = load_trace(store, run.id)
    assert [c.span_id for c in trace.walk()] == [client.span_id, server.span_id, validate.span_id,
                                                 after.span_id]
    assert [trace.depth(c) for c in trace.walk()] == [0, 1, 2, 0]
    assert trace.children(client) == [trace.call(server.span_id)]
    assert service_label(trace.calls[2]) == "keystone"
