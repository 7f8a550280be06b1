from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from serve import make_environ, serve
from wsgi_apps import CollectingRecorder, Router

from stacktap.agent.context import current_span, format_traceparent
from stacktap.agent.server.filter import TraceMiddleware, filter_factory
from stacktap.agent.server.switch import Switch
from stacktap.model import BODY_UNREAD, SERVER

TRACE = "0af7651916cd43dd8448eb211c80319c"
PARENT = "b7ad6b7169203331"


def traced(recorder: CollectingRecorder, app: Any = None, **options: Any) -> TraceMiddleware:
    return TraceMiddleware(app or Router(), service="glance-api", recorder=recorder, **options)


def test_records_a_server_call_with_routes_handler(recorder: CollectingRecorder) -> None:
    app = traced(recorder)
    status, _headers, body = serve(
        app,
        make_environ(
            "/images/42", headers={"X-Auth-Token": "tok", "X-Openstack-Request-Id": "req-g"}, query="a=1"
        ),
    )
    assert status == "200 OK"
    assert json.loads(body) == {"image": {"id": "42"}}
    [call] = recorder.calls
    assert call.side == SERVER
    assert call.local_service == "glance-api"
    assert call.method == "GET"
    assert call.url == "http://127.0.0.1:9292/images/42?a=1"
    assert (call.status, call.reason) == (200, "OK")
    assert call.handler == "ImagesController.show"
    assert call.app is not None and call.app.endswith("wsgi_apps.Router")
    assert ("X-Auth-Token", "tok") in call.request_headers
    assert call.global_request_id == "req-g"
    assert call.header("content-type") == "application/json"
    assert call.peer.label is None
    assert call.time_to_headers is not None and call.duration is not None
    assert 0 <= call.time_to_headers <= call.duration
    assert call.parent_span_id is None and len(call.trace_id) == 32


def test_continues_the_inbound_traceparent(recorder: CollectingRecorder) -> None:
    app = traced(recorder)
    serve(app, make_environ("/images", headers={"traceparent": format_traceparent(TRACE, PARENT)}))
    [call] = recorder.calls
    assert call.trace_id == TRACE
    assert call.parent_span_id == PARENT
    assert call.span_id != PARENT and len(call.span_id) == 16


def test_malformed_traceparent_starts_a_new_trace(recorder: CollectingRecorder) -> None:
    serve(traced(recorder), make_environ("/images", headers={"traceparent": "junk"}))
    [call] = recorder.calls
    assert call.parent_span_id is None and call.trace_id != TRACE


def test_current_span_is_the_request_while_the_app_runs(recorder: CollectingRecorder) -> None:
    seen = []

    def app(environ: dict, start_response: Any) -> list:
        seen.append(current_span())
        start_response("204 No Content", [])
        return []

    serve(
        traced(recorder, app), make_environ("/", headers={"traceparent": format_traceparent(TRACE, PARENT)})
    )
    [call] = recorder.calls
    assert seen == [(TRACE, call.span_id)]
    assert current_span() is None


def test_request_body_is_teed_as_the_app_reads_it(recorder: CollectingRecorder) -> None:
    payload = json.dumps({"name": "cirros", "password": "x"}).encode()
    status, _, body = serve(traced(recorder), make_environ("/images", "POST", payload))
    assert status == "200 OK"
    assert json.loads(body)["size"] == len(payload)
    [(call, request_body, response_body)] = recorder.submitted
    assert request_body.data == payload and request_body.complete
    assert response_body.data == body and response_body.complete
    assert call.handler == "ImagesController.create"


def test_a_body_the_app_never_reads_is_not_read_ahead(recorder: CollectingRecorder) -> None:
    environ = make_environ("/images", "PUT", b"x" * 100)
    stream = environ["wsgi.input"]

    def app(environ: dict, start_response: Any) -> list:
        start_response("200 OK", [])
        return [b"ok"]

    serve(traced(recorder, app), environ)
    assert stream.tell() == 0
    [(call, request_body, _)] = recorder.submitted
    assert request_body is None
    assert call.request_body.kind == BODY_UNREAD and call.request_body.size == 100


def test_bodies_beyond_the_cap_keep_only_the_first_bytes(recorder: CollectingRecorder) -> None:
    def app(environ: dict, start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return (bytes([i]) * 1000 for i in range(5))

    _, _, body = serve(traced(recorder, app, body_cap=64), make_environ("/file"))
    assert len(body) == 5000
    [(_, _, response_body)] = recorder.submitted
    assert response_body.size == 5000 and response_body.truncated and len(response_body.data) == 64


def test_an_app_that_raises_is_recorded_and_the_error_goes_on(recorder: CollectingRecorder) -> None:
    def app(environ: dict, start_response: Any) -> list:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        serve(traced(recorder, app), make_environ("/"))
    [call] = recorder.calls
    assert call.error_type == "RuntimeError" and call.error_message == "boom"
    assert current_span() is None


def test_a_failing_recorder_never_fails_the_request() -> None:
    class Broken:
        def submit(self, *args: Any) -> None:
            raise OSError("disk full")

    status, _, body = serve(
        TraceMiddleware(Router(), service="x", recorder=Broken()), make_environ("/images")
    )
    assert status == "200 OK" and b"images" in body


def test_an_unwritable_store_never_fails_a_request(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    script = textwrap.dedent(
        """
        import sys
        sys.path.insert(0, HERE)
        from serve import make_environ, serve
        from wsgi_apps import Router
        from stacktap.agent.server.filter import TraceMiddleware
        from stacktap.agent.recorder import get_recorder
        app = TraceMiddleware(Router(), service="glance-api")
        for _ in range(3):
            status, _, body = serve(app, make_environ("/images"))
            assert status == "200 OK" and b"images" in body, status
        get_recorder().flush(5)
        print("served")
        """
    ).replace("HERE", repr(str(Path(__file__).parent)))
    env = dict(os.environ, STACKTAP_DB=str(blocker / "stacktap.db"))
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "served" in done.stdout
    assert done.stderr.count("stacktap: warning") == 1


def test_switch_file_turns_tracing_off_and_on(tmp_path: Path, recorder: CollectingRecorder) -> None:
    db = tmp_path / "stacktap.db"
    app = traced(recorder, db=str(db))
    app.switch = Switch(str(db), "glance-api", interval=0.0)
    serve(app, make_environ("/images"))
    off = tmp_path / "stacktap.glance-api.disabled"
    off.touch()
    serve(app, make_environ("/images"))
    off.unlink()
    (tmp_path / "stacktap.disabled").touch()
    serve(app, make_environ("/images"))
    (tmp_path / "stacktap.disabled").unlink()
    serve(app, make_environ("/images/1"))
    assert [c.path_template or c.url.rsplit("/", 1)[1] for c in recorder.calls] == ["images", "1"]


def test_enabled_false_passes_everything_through(recorder: CollectingRecorder) -> None:
    status, _, _ = serve(traced(recorder, enabled=False), make_environ("/images"))
    assert status == "200 OK" and recorder.calls == []


def test_ignore_rules_drop_matching_requests(recorder: CollectingRecorder) -> None:
    app = traced(recorder, ignore="method=GET path=/images/{image_id}; from=nova-compute path=/images")
    serve(app, make_environ("/images/7"))
    serve(app, make_environ("/images", headers={"User-Agent": "nova-compute keystoneauth1/5.0"}))
    serve(app, make_environ("/images", headers={"User-Agent": "openstacksdk/4.0"}))
    assert [c.url for c in recorder.calls] == ["http://127.0.0.1:9292/images"]


def test_ignore_paths_match_below_the_mount_point(recorder: CollectingRecorder) -> None:
    # NOTE: devstack mounts placement at /placement: the README's rule must match there too.
    app = traced(recorder, ignore="from=nova-compute path=/resource_providers*")
    mounted = {"SCRIPT_NAME": "/placement"}
    agent = {"User-Agent": "nova-compute keystoneauth1/5.0"}
    for path, headers in (("/resource_providers/1", agent), ("/resource_providers", {}), ("/traits", agent)):
        serve(app, {**make_environ(path, headers=headers), **mounted})
    serve(app, make_environ("/resource_providers", headers=agent))
    assert [c.url for c in recorder.calls] == [
        "http://127.0.0.1:9292/placement/resource_providers",
        "http://127.0.0.1:9292/placement/traits",
    ]


def test_a_second_stacktap_filter_passes_through(recorder: CollectingRecorder) -> None:
    serve(traced(recorder, traced(recorder)), make_environ("/images"))
    assert len(recorder.calls) == 1


def test_filter_factory_reads_paste_options(recorder: CollectingRecorder) -> None:
    make = filter_factory({}, service="nova-api", layers="false", ignore="path=/healthcheck", body_cap="10")
    middleware = make(Router())
    assert isinstance(middleware, TraceMiddleware)
    assert middleware.service == "nova-api"
    assert middleware.record_layers is False and middleware.body_cap == 10
    assert middleware.ignore.matches("GET", "/healthcheck")


def test_flask_views_name_the_handler(recorder: CollectingRecorder) -> None:
    import flask
    import flask.views

    app = flask.Flask("keystone_like")

    class TokensResource(flask.views.MethodView):
        def get(self) -> str:
            return "token"

    app.add_url_rule("/v3/auth/tokens", view_func=TokensResource.as_view("tokens"))
    status, _, body = serve(traced(recorder, app), make_environ("/v3/auth/tokens"))
    assert (status, body) == ("200 OK", b"token")
    [call] = recorder.calls
    assert call.handler == "TokensResource.get"
    assert call.app == "flask.app.Flask"


def test_paste_body_cap_takes_a_size_as_the_cli_does() -> None:
    """``body_cap = 2M`` in api-paste.ini: the same parser as ``--body-cap 2M`` (stacktap.settings)."""
    from stacktap import settings

    middleware = filter_factory({}, body_cap="2M", db="unused.db")(Router())
    assert middleware.body_cap == 2 * 1024 * 1024 == settings.parse_size("2M")
    assert filter_factory({}, body_cap="4096", db="unused.db")(Router()).body_cap == 4096


def test_body_cap_2m_in_an_api_paste_ini_loads(tmp_path: Path) -> None:
    """What paste deploy itself does with ``body_cap = 2M`` (failed with int() before)."""
    from paste.deploy import loadapp

    ini = tmp_path / "api-paste.ini"
    ini.write_text(
        "[pipeline:main]\npipeline = stacktap router\n\n"
        "[filter:stacktap]\npaste.filter_factory = stacktap.wsgi:filter_factory\n"
        f"service = glance-api\ndb = {tmp_path / 'stacktap.db'}\nbody_cap = 2M\n\n"
        "[app:router]\npaste.app_factory = wsgi_apps:make_router\n"
    )
    app = loadapp(f"config:{ini}")
    assert isinstance(app, TraceMiddleware) and app.body_cap == 2 * 1024 * 1024
