"""The neutral sequence model: participants, arrows, notes, nesting, folding, limits."""

from __future__ import annotations

import json
from pathlib import Path

from sample_traces import GLANCE, KEYSTONE, NOVA, T0, sample_trace

from stacktap.model import Body, Call, Layer, Peer, Run
from stacktap.render.sequence import (
    NOTE_DISCOVERY,
    NOTE_HANDLER,
    NOTE_LIMIT,
    NOTE_REAUTH,
    NOTE_TOKEN,
    NOTE_VALIDATION,
    Arrow,
    Note,
    build_sequence,
    client_label,
    is_version_discovery,
    service_name,
)
from stacktap.store import Store, load_trace


def _texts(diagram) -> list[str]:
    out = []
    for step in diagram.steps:
        if isinstance(step, Arrow):
            source, target = diagram.participant(step.source), diagram.participant(step.target)
            out.append(f"{source.label}>{target.label} {step.text}")
        else:
            out.append("note[{}] {}".format(step.kind, " | ".join(step.lines)))
    return out


def test_sample_run_tells_the_whole_story(tmp_path: Path) -> None:
    diagram = build_sequence(sample_trace(tmp_path))
    assert [p.label for p in diagram.participants] == ["openstack", "keystone", "glance", "nova",
                                                      "127.0.0.1:9696"]
    assert diagram.participants[0].kind == "client"
    assert _texts(diagram) == [
        "openstack>keystone GET /",
        "keystone>openstack 300 Multiple Choices",
        "note[discovery] version discovery",
        "openstack>keystone POST /v3/auth/tokens",
        "keystone>openstack 201 Created",
        "note[token] token + catalog issued",
        "openstack>glance GET /v2/images",
        "note[handler] ImagesController.index | layers: cors → http_proxy_to_wsgi → versionnegotiation"
        " → osprofiler | → authtoken → context",
        "glance>keystone GET /v3/auth/tokens",
        "keystone>glance 200 OK",
        "note[validation] token validated",
        "glance>openstack 200 OK",
        "openstack>nova GET /v2.1/flavors/{flavor_id}",
        "nova>openstack 401 Unauthorized",
        "note[reauth] 401: token rejected, re-authenticate",
        "openstack>keystone POST /v3/auth/tokens",
        "keystone>openstack 201 Created",
        "note[token] token + catalog issued",
        "openstack>nova GET /v2.1/flavors/{flavor_id}",
        "nova>openstack 200 OK",
        "openstack>nova POST /v2.1/servers",
        "nova>openstack 202 Accepted",
        "openstack>nova GET /v2.1/servers/{server_id} (x5)",
        "nova>openstack 200 OK (x5)",
        "openstack>127.0.0.1:9696 GET /v2.0/ports",
        "127.0.0.1:9696>openstack ConnectionError",
    ]
    arrows = diagram.arrows
    assert [a.number for a in arrows] == list(range(1, len(arrows) + 1))
    assert diagram.calls_drawn == diagram.calls_total == 15


def test_requests_activate_and_responses_deactivate_in_nested_order(tmp_path: Path) -> None:
    arrows = build_sequence(sample_trace(tmp_path)).arrows
    open_bars: list[str] = []
    for arrow in arrows:
        if arrow.activate:
            open_bars.append(arrow.target)
        if arrow.deactivate:
            assert open_bars.pop() == arrow.source
    assert open_bars == []
    assert all(a.activate != a.response for a in arrows)
    failed = [a for a in arrows if a.failed]
    assert [a.text for a in failed] == ["ConnectionError"]


def test_polling_folds_into_one_arrow_that_keeps_every_span(tmp_path: Path) -> None:
    trace = sample_trace(tmp_path)
    folded = [a for a in build_sequence(trace).arrows if a.count > 1]
    polls = [c.span_id for c in trace.calls if c.path_template == "/v2.1/servers/{server_id}"]
    assert len(folded) == 2 and all(a.count == 5 for a in folded)
    assert folded[0].span_ids == polls


def _run_with(tmp_path: Path, calls: list[Call], argv: list[str] | None = None) -> object:
    with Store(str(tmp_path / "t.db")) as store:
        run = Run(id="r1", argv=argv or ["openstack", "x"], started=T0)
        store.add_run(run)
        for call in calls:
            call.run_id = call.run_id or run.id
        store.add_calls(calls)
        return load_trace(store, run.id)


def test_polling_with_changing_status_is_not_folded(tmp_path: Path) -> None:
    calls = [Call(run_id="", method="GET", url=NOVA + "/servers/1", start=T0 + i, status=s,
                  peer=Peer(service_name="nova")) for i, s in enumerate([200, 200, 404])]
    diagram = build_sequence(_run_with(tmp_path, calls))
    assert [a.text for a in diagram.arrows] == ["GET /v2.1/servers/{server_id} (x2)", "200 OK (x2)",
                                                "GET /v2.1/servers/{server_id}", "404 Not Found"]


def test_token_without_catalog_and_unknown_reason(tmp_path: Path) -> None:
    calls = [
        Call(run_id="", method="POST", url=KEYSTONE + "/v3/auth/tokens?nocatalog", start=T0, status=201,
             response_body=Body(kind="json", text='{"token": {"methods": ["password"]}}')),
        Call(run_id="", method="GET", url=KEYSTONE + "/v3/users", start=T0 + 1, status=299),
    ]
    diagram = build_sequence(_run_with(tmp_path, calls))
    assert [n.lines for n in diagram.notes if n.kind == NOTE_TOKEN] == [["token issued"]]
    assert diagram.arrows[-1].text == "299"


def test_limit_cuts_the_diagram_with_a_note_and_balanced_bars(tmp_path: Path) -> None:
    diagram = build_sequence(sample_trace(tmp_path), limit=4)
    assert diagram.calls_drawn < diagram.calls_total
    last = diagram.steps[-1]
    assert isinstance(last, Note) and last.kind == NOTE_LIMIT
    assert last.lines == [f"{diagram.calls_total - diagram.calls_drawn} more calls not drawn (limit 4)"]
    arrows = diagram.arrows
    assert sum(a.activate for a in arrows) == sum(a.deactivate for a in arrows)
    assert arrows[-1].text == "200 OK"  # the glance call still gets its response


def test_server_records_without_a_client_side_come_from_a_caller(tmp_path: Path) -> None:
    server = Call(run_id="", method="GET", url=GLANCE + "/v2/images", start=T0, side="server", status=200,
                  local_service="glance-api", handler="ImagesController.index")
    server.layers = [Layer(span_id=server.span_id, order=0, name="authtoken", answered=True, status=401)]
    inner = Call(run_id="", method="GET", url=KEYSTONE + "/v3/auth/tokens", start=T0 + 0.01, status=404,
                 local_service="glance-api", parent_span_id=server.span_id, trace_id=server.trace_id)
    diagram = build_sequence(_run_with(tmp_path, [server, inner], argv=["glance-api"]))
    assert _texts(diagram) == [
        "caller>glance GET /v2/images",
        "note[handler] ImagesController.index | layers: authtoken (answered 401)",
        "glance>keystone GET /v3/auth/tokens",
        "keystone>glance 404 Not Found",
        "glance>caller 200 OK",
    ]
    assert NOTE_VALIDATION not in [n.kind for n in diagram.notes]  # a 404 validated nothing


def test_client_label_from_argv_or_process() -> None:
    run = Run(argv=["/usr/bin/openstack", "token", "issue"])
    assert client_label(run, []) == "openstack"
    assert client_label(Run(argv=["python3.12", "-u", "tools/seed.py", "x"]), []) == "seed.py"
    assert client_label(Run(argv=["python", "-m", "openstackclient.shell"]), []) == "openstackclient.shell"
    call = Call(run_id="r", method="GET", url="http://x/", start=0, process_name="ansible")
    assert client_label(Run(id="r", argv=[]), [call]) == "ansible"
    assert client_label(Run(id="r", argv=["python3", "-c", "print()"]), []) == "client"


def test_service_name_strips_api_suffix_only() -> None:
    assert service_name("glance-api") == "glance"
    assert service_name("nova-wsgi") == "nova"
    assert service_name("keystone") == "keystone"
    assert service_name("-api") == "-api"


def test_version_discovery_by_path_or_by_body() -> None:
    def call(url: str, body: str | None = None, status: int = 200, method: str = "GET") -> Call:
        return Call(run_id="r", method=method, url=url, start=0, status=status,
                    response_body=Body(kind="json", text=body) if body else Body())

    assert is_version_discovery(call("http://h/compute/v2.1/"))
    assert is_version_discovery(call("http://h:5000"))
    assert is_version_discovery(call("http://h/image", json.dumps({"versions": [{"id": "v2.16"}]}), 300))
    assert not is_version_discovery(call("http://h/image", json.dumps({"images": []})))
    assert not is_version_discovery(call("http://h/v2/images"))
    assert not is_version_discovery(call("http://h/v3", status=404))
    assert not is_version_discovery(call("http://h/v3", method="POST"))


def test_notes_kinds_present_in_sample(tmp_path: Path) -> None:
    kinds = [n.kind for n in build_sequence(sample_trace(tmp_path)).notes]
    assert kinds == [NOTE_DISCOVERY, NOTE_TOKEN, NOTE_HANDLER, NOTE_VALIDATION, NOTE_REAUTH, NOTE_TOKEN]
