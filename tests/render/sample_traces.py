"""Realistic traces for the picture tests, written to a real Store and loaded back.

``write_sample`` records what ``openstack server create --wait`` looks like: keystone
version discovery, a token + catalog, an image lookup that glance serves (with its own
token validation against keystone and its paste layers), a 401 and re-authentication,
the create, polling, and a call that fails with a connection error.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.fixtures.cloud import GLANCE, KEYSTONE, NOVA

from stacktap.model import Body, Call, CallSite, CatalogEntry, Layer, Peer, Run, new_span_id
from stacktap.store import Store, Trace, load_trace

SERVER_ID = "4b7f2c1e-8a6d-4e0b-9f3a-1c2d3e4f5a6b"
IMAGE_ID = "9e8d7c6b-5a49-4838-a271-605f4e3d2c1b"
T0 = 1_750_000_000.0  # epoch seconds: June 2025
SECRET_TOKEN = "{SHA256}5d41402abc4b2a76"

CATALOG = [
    CatalogEntry(service_type="identity", service_name="keystone", interface="public",
                 region="RegionOne", url=KEYSTONE + "/v3"),
    CatalogEntry(service_type="image", service_name="glance", interface="public",
                 region="RegionOne", url=GLANCE),
    CatalogEntry(service_type="compute", service_name="nova", interface="public",
                 region="RegionOne", url=NOVA),
]


def _token_body() -> Body:
    catalog = [
        {"type": e.service_type, "name": e.service_name,
         "endpoints": [{"interface": e.interface, "region": e.region, "url": e.url}]}
        for e in CATALOG
    ]
    text = json.dumps({"token": {"methods": ["password"], "catalog": catalog,
                                 "expires_at": "2030-01-01T00:00:00Z"}})
    return Body(kind="json", text=text, content_type="application/json", size=len(text))


def _json(obj: object) -> Body:
    text = json.dumps(obj)
    return Body(kind="json", text=text, content_type="application/json", size=len(text))


def _client(run: Run, method: str, url: str, start: float, status: int | None, **kw: object) -> Call:
    kw.setdefault("duration", 0.04)
    kw.setdefault("request_headers", [("User-Agent", "openstacksdk/4.0 keystoneauth1/5.0"),
                                      ("X-Auth-Token", SECRET_TOKEN), ("Accept", "application/json")])
    kw.setdefault("response_headers", [("Content-Type", "application/json"),
                                       ("X-Openstack-Request-Id", f"req-{new_span_id()}")])
    kw.setdefault("call_site", CallSite(file="/venv/lib/python3.12/site-packages/openstackclient/"
                                        "compute/v2/server.py", line=1800, function="take_action",
                                        cls="CreateServer"))
    kw.setdefault("stack", ["openstackclient/shell.py:140:main", "cliff/app.py:410:run_subcommand"])
    kw.setdefault("process_name", "openstack")
    kw.setdefault("pid", 4242)
    return Call(run_id=run.id, method=method, url=url, start=start, status=status, **kw)  # type: ignore[arg-type]


def sample_calls(run: Run, t0: float = T0) -> list[Call]:
    """The calls of one ``openstack server create --wait`` run (client and server side)."""
    calls: list[Call] = []
    add = calls.append
    add(_client(run, "GET", KEYSTONE + "/", t0, 300, reason="Multiple Choices",
                response_body=_json({"versions": {"values": [{"id": "v3.14", "status": "stable"}]}})))
    add(_client(run, "POST", KEYSTONE + "/v3/auth/tokens", t0 + 0.05, 201, reason="Created",
                request_body=_json({"auth": {"identity": {"password": {"user": {
                    "name": "admin", "password": "{SHA256}0000aaaabbbbcccc"}}}}}),
                response_body=_token_body()))
    images = _client(run, "GET", GLANCE + "/v2/images?name=cirros", t0 + 0.20, 200, reason="OK",
                     duration=0.12, response_body=_json({"images": [{"id": IMAGE_ID, "name": "cirros"}]}))
    add(images)
    glance = Call(run_id="glance-run", method="GET", url=GLANCE + "/v2/images?name=cirros",
                  start=t0 + 0.205, side="server", trace_id=images.trace_id,
                  parent_span_id=images.span_id, status=200, reason="OK", duration=0.10,
                  pid=777, process_name="glance-api", local_service="glance-api",
                  handler="ImagesController.index", app="glance.api.v2.router:API")
    names = ["cors", "http_proxy_to_wsgi", "versionnegotiation", "osprofiler", "authtoken", "context"]
    glance.layers = [
        Layer(span_id=glance.span_id, order=i, name=name, factory=f"{name}:filter_factory",
              enter_offset=0.001 * i, exit_offset=0.1 - 0.001 * i)
        for i, name in enumerate(names)
    ]
    add(glance)
    add(Call(run_id="glance-run", method="GET", url=KEYSTONE + "/v3/auth/tokens", start=t0 + 0.21,
             trace_id=images.trace_id, parent_span_id=glance.span_id, status=200, reason="OK",
             duration=0.03, pid=777, process_name="glance-api", local_service="glance-api",
             request_headers=[("X-Subject-Token", SECRET_TOKEN)], response_body=_token_body()))
    add(_client(run, "GET", NOVA + "/flavors/1", t0 + 0.40, 401, reason="Unauthorized",
                response_body=_json({"error": {"code": 401, "message": "The request you have made "
                                     "requires authentication."}})))
    add(_client(run, "POST", KEYSTONE + "/v3/auth/tokens", t0 + 0.45, 201, reason="Created",
                response_body=_token_body()))
    add(_client(run, "GET", NOVA + "/flavors/1", t0 + 0.55, 200, reason="OK",
                response_body=_json({"flavor": {"id": "1", "name": "m1.tiny"}})))
    add(_client(run, "POST", NOVA + "/servers", t0 + 0.60, 202, reason="Accepted",
                request_body=_json({"server": {"name": "vm1", "imageRef": IMAGE_ID, "flavorRef": "1",
                                               "adminPass": "{SHA256}1111222233334444"}}),
                response_body=_json({"server": {"id": SERVER_ID}})))
    for i in range(5):
        add(_client(run, "GET", NOVA + "/servers/" + SERVER_ID, t0 + 0.8 + i, 200, reason="OK",
                    response_body=_json({"server": {"id": SERVER_ID, "status": "BUILD"}})))
    add(_client(run, "GET", "http://127.0.0.1:9696/v2.0/ports?device_id=" + SERVER_ID, t0 + 6.0, None,
                duration=0.002, error_type="ConnectionError",
                error_message="HTTPConnectionPool(host='127.0.0.1', port=9696): Max retries exceeded",
                response_headers=[]))
    return calls


def write_sample(store: Store) -> Run:
    """Store one sample run (its catalog too) and return it."""
    run = Run(argv=["openstack", "server", "create", "--wait", "vm1"], started=T0 - 0.1, ended=T0 + 6.1,
              exit_code=1, label="server create --wait", host="devbox", user="me")
    store.add_run(run)
    store.add_calls(sample_calls(run))
    store.add_catalog(run.id, CATALOG)
    return run


def sample_trace(tmp_path: Path) -> Trace:
    with Store(str(tmp_path / "sample.db")) as store:
        run = write_sample(store)
        return load_trace(store, run.id)


NASTY = '</script><script>alert("x")</script> a;b #c {d} "e" \'f\' <b>g</b> & %% end --> //i// \\n'


def write_nasty(store: Store) -> Run:
    """A run whose every text field tries to break the diagram syntax or the HTML."""
    run = Run(argv=["openstack", NASTY], started=10.0, ended=11.0, exit_code=0, label=NASTY)
    store.add_run(run)
    peer = Peer(service_type="evil", service_name='ev"il;#{x}<svc>')
    call = Call(run_id=run.id, method="GET", url="http://127.0.0.1:1234/a;b/%23c/{d}/<e>", start=10.1,
                status=418, reason=NASTY, peer=peer, duration=0.01, path_template="/a;b/#c/{d}/<e>\"q\"",
                request_headers=[("X-Evil", NASTY)],
                response_headers=[("Content-Type", "application/json")],
                response_body=_json({"html": NASTY, "nested": {"k": [NASTY]}}),
                error_message=NASTY)
    server = Call(run_id="evil-run", method="GET", url=call.url, start=10.11, side="server",
                  trace_id=call.trace_id, parent_span_id=call.span_id, status=418, duration=0.005,
                  local_service="evil-api", handler=NASTY,
                  process_name="evil")
    server.layers = [Layer(span_id=server.span_id, order=0, name=NASTY, answered=True, status=418)]
    failed = Call(run_id=run.id, method="DELETE", url="http://127.0.0.1:1234/x", start=10.2,
                  error_type="Boom<b>;#", error_message=NASTY)
    store.add_calls([call, server, failed])
    return run


def nasty_trace(tmp_path: Path) -> Trace:
    with Store(str(tmp_path / "nasty.db")) as store:
        run = write_nasty(store)
        return load_trace(store, run.id)


def clone_calls(template: list[Call], run: Run, copies: int, step: float = 7.0) -> list[Call]:
    """``copies`` copies of ``template`` in one run, later in time, with fresh span ids."""
    out: list[Call] = []
    for n in range(copies):
        spans = {c.span_id: new_span_id() for c in template}
        for call in template:
            clone = Call(**{**call.__dict__})
            clone.span_id = spans[call.span_id]
            clone.parent_span_id = spans.get(call.parent_span_id or "", call.parent_span_id)
            clone.start = call.start + n * step
            clone.run_id = run.id if call.run_id != "glance-run" else "glance-run"
            clone.layers = [Layer(**{**la.__dict__, "span_id": clone.span_id}) for la in call.layers]
            out.append(clone)
    return out


def big_trace(tmp_path: Path, calls: int) -> Trace:
    """A run of about ``calls`` calls: the sample, cloned."""
    with Store(str(tmp_path / f"big{calls}.db")) as store:
        run = Run(argv=["openstack", "server", "create"], started=T0 - 1, exit_code=0)
        store.add_run(run)
        template = sample_calls(run)
        copies = max(1, -(-calls // len(template)))  # rounded up, then cut to size
        cloned = clone_calls(template, run, copies)
        store.add_calls(cloned[:calls])
        store.add_catalog(run.id, CATALOG)
        return load_trace(store, run.id)
