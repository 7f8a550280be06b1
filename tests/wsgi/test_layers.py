from __future__ import annotations

from pathlib import Path
from typing import Any

from paste.deploy import loadapp
from serve import make_environ, serve
from wsgi_apps import CollectingRecorder

from stacktap.agent.server.filter import TraceMiddleware
from stacktap.agent.server.layers import LayerEntry, layer_filter_factory
from stacktap.paste.install import instrument_paste_ini

PASTE_INI = """\
[composite:main]
use = egg:Paste#urlmap
/: versions
/v2: api

[pipeline:versions]
pipeline = tag versionsapp

[composite:api]
use = call:wsgi_apps_pipelines:choose_pipeline
keystone = tag prefix deny router

# the tag filter adds a response header
[filter:tag]
paste.filter_factory = wsgi_apps:tag_factory
tag = outer

[filter:deny]
paste.filter_factory = wsgi_apps:deny_factory

[filter:prefix]
use = egg:PasteDeploy#prefix

[app:router]
paste.app_factory = wsgi_apps:make_router

[app:versionsapp]
paste.app_factory = wsgi_apps:make_versions
"""


def load(tmp_path: Path, recorder: CollectingRecorder, layers: bool = True) -> Any:
    ini = tmp_path / "api-paste.ini"
    ini.write_text(instrument_paste_ini(PASTE_INI, "glance-api", layers=layers))
    app = loadapp(f"config:{ini}")
    for middleware in _middlewares(app):
        middleware._recorder = recorder
    return app


def _middlewares(app: Any) -> list:
    """Every TraceMiddleware under the urlmap (one per pipeline)."""
    found = []
    for _, branch in app.applications:
        assert isinstance(branch, TraceMiddleware)
        found.append(branch)
    return found


def test_layers_are_recorded_in_order_with_the_answering_one(
    tmp_path: Path, recorder: CollectingRecorder
) -> None:
    app = load(tmp_path, recorder)
    status, headers, _ = serve(app, make_environ("/v2/images"))
    assert status.startswith("401")
    assert ("X-Tag-outer", "1") in headers
    [call] = recorder.calls
    assert [(layer.order, layer.name, layer.answered, layer.status) for layer in call.layers] == [
        (0, "tag", False, 401),
        (1, "prefix", False, 401),
        (2, "deny", True, 401),
    ]
    assert call.layers[0].factory == "wsgi_apps:tag_factory"
    assert call.layers[1].factory == "egg:PasteDeploy#prefix"
    assert all(layer.span_id == call.span_id for layer in call.layers)
    for outer, inner in zip(call.layers, call.layers[1:], strict=False):
        assert outer.enter_offset <= inner.enter_offset
        assert inner.exit_offset is not None and outer.exit_offset is not None
        assert inner.exit_offset <= outer.exit_offset
    assert call.handler is None


def test_a_request_that_passes_every_layer_reaches_the_controller(
    tmp_path: Path, recorder: CollectingRecorder
) -> None:
    app = load(tmp_path, recorder)
    status, _, _ = serve(app, make_environ("/v2/images/9", headers={"X-Auth-Token": "t"}))
    assert status == "200 OK"
    [call] = recorder.calls
    assert [layer.answered for layer in call.layers] == [False, False, False]
    assert [layer.status for layer in call.layers] == [200, 200, 200]
    assert call.handler == "ImagesController.show"
    assert call.app is not None and call.app.endswith("Router")


def test_urlmap_branches_each_get_the_filter(tmp_path: Path, recorder: CollectingRecorder) -> None:
    app = load(tmp_path, recorder)
    status, _, _ = serve(app, make_environ("/"))
    assert status.startswith("300")
    [call] = recorder.calls
    assert [layer.name for layer in call.layers] == ["tag"]
    assert call.app is not None and call.app.endswith("versions_app")


def test_without_layers_filters_are_not_wrapped(tmp_path: Path, recorder: CollectingRecorder) -> None:
    app = load(tmp_path, recorder, layers=False)
    serve(app, make_environ("/v2/images"))
    [call] = recorder.calls
    assert call.layers == []


def test_layer_wrappers_pass_through_untraced_requests() -> None:
    make = layer_filter_factory(
        {}, **{"stacktap.factory": "wsgi_apps:deny_factory", "stacktap.layer": "deny"}
    )

    def app(environ: dict, start_response: Any) -> list:
        start_response("200 OK", [])
        return [b"ok"]

    layered = make(app)
    assert isinstance(layered, LayerEntry)
    status, _, body = serve(layered, make_environ("/", headers={"X-Auth-Token": "t"}))
    assert (status, body) == ("200 OK", b"ok")


def test_filter_app_factories_are_wrapped_too(recorder: CollectingRecorder) -> None:
    make = layer_filter_factory(
        {},
        **{
            "stacktap.factory": "wsgi_apps:tag_filter_app_factory",
            "stacktap.layer": "t",
            "stacktap.kind": "filter_app",
            "tag": "x",
        },
    )

    def app(environ: dict, start_response: Any) -> list:
        start_response("200 OK", [])
        return [b"ok"]

    traced = TraceMiddleware(make(app), service="s", recorder=recorder)
    _, headers, _ = serve(traced, make_environ("/"))
    assert ("X-Tag-x", "1") in headers
    [call] = recorder.calls
    assert [(layer.name, layer.answered) for layer in call.layers] == [("t", False)]
