"""load_trace: services named from the run's catalog, path templates, the call tree; the
summary counts of ``stacktap run``."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.fixtures.cloud import KEYSTONE, NOVA

from stacktap.model import Call, CatalogEntry, Peer, Run
from stacktap.store import Store, count_calls_and_services, load_trace, service_label


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


URLS = [
    KEYSTONE + "/",
    KEYSTONE + "/v3",
    KEYSTONE + "/v3/auth/tokens",
    NOVA + "/servers/detail",
    "http://127.0.0.1:8774/",
    "http://127.0.0.1:9292/v2/images",
    "http://10.9.9.9:1234/x",
    "https://cloud.example/identity/v2.0/tokens",
]
PEERS = [
    Peer(),
    Peer(service_type="image", service_name="glance"),
    Peer(service_type="compute"),
    Peer(service_name="nova"),
    Peer(service_type="", service_name="odd"),
    Peer(service_type="identity", service_name=""),
]
CATALOG = [CatalogEntry(service_type="compute", service_name="nova", interface="public", url=NOVA)]


@settings(max_examples=60, deadline=None)
@given(
    calls=st.lists(
        st.tuples(st.sampled_from(URLS), st.sampled_from(PEERS), st.sampled_from(["client", "server"]),
                  st.booleans()),
        max_size=8,
    ),
    catalog=st.sampled_from(["run", "other run", "none"]),
)
def test_summary_counts_are_load_traces(calls: list[tuple[str, Peer, str, bool]], catalog: str) -> None:
    """``count_calls_and_services`` gives what ``load_trace`` would, however calls are named."""
    with tempfile.TemporaryDirectory() as tmp, Store(str(Path(tmp) / "s.db")) as store:
        run, other = Run(started=1.0), Run(started=2.0)
        store.add_run(run)
        store.add_run(other)
        store.add_calls(
            Call(run_id=run.id if ours else other.id, method="GET", url=url, start=1.0 + i / 10,
                 peer=Peer(**vars(peer)), side=side)
            for i, (url, peer, side, ours) in enumerate(calls)
        )
        if catalog != "none":
            store.add_catalog(run.id if catalog == "run" else other.id, CATALOG)
        trace = load_trace(store, run.id, with_traces=False)
        assert count_calls_and_services(store, run.id) == (len(trace.client_calls), len(trace.services))


def test_summary_counts_name_the_discovery_call(tmp_path: Path) -> None:
    with Store(str(tmp_path / "s.db")) as store:
        run = Run(started=1.0)
        store.add_run(run)
        store.add_calls([
            Call(run_id=run.id, method="GET", url=KEYSTONE + "/v3", start=1.0),
            Call(run_id=run.id, method="POST", url=KEYSTONE + "/v3/auth/tokens", start=1.1,
                 peer=Peer(service_type="identity", service_name="keystone")),
            Call(run_id=run.id, method="GET", url=NOVA + "/servers", start=1.2,
                 peer=Peer(service_type="compute", service_name="nova")),
        ])
        assert count_calls_and_services(store, run.id) == (3, 2)
