"""Naming the handler of a Flask app (keystone) when webob middlewares sit inside it."""

from __future__ import annotations

from typing import Any

import flask
import flask.views
import webob.dec
from serve import make_environ, serve
from wsgi_apps import CollectingRecorder

from stacktap.agent.server.filter import TraceMiddleware
from stacktap.agent.server.handler import flask_endpoint


class TokensResource(flask.views.MethodView):
    def get(self) -> str:
        return "token"

    def post(self) -> tuple[str, int]:
        return "issued", 201


def _keystone_like() -> flask.Flask:
    """A Flask app whose ``wsgi_app`` is wrapped by a webob filter, as keystone's middlewares are.

    The filter answers its caller only after Flask has popped the request context, so
    ``environ['werkzeug.request']`` is already cleared when the response starts.
    """
    app = flask.Flask("keystone_like")
    app.add_url_rule("/v3/auth/tokens", view_func=TokensResource.as_view("tokens"))
    inner = app.wsgi_app

    @webob.dec.wsgify
    def request_id(req: webob.Request) -> Any:
        response = req.get_response(inner)
        response.headers["x-openstack-request-id"] = "req-1"
        return response

    app.wsgi_app = request_id  # type: ignore[method-assign]
    return app


def test_flask_behind_webob_middleware_still_names_the_view() -> None:
    recorder = CollectingRecorder()
    app = TraceMiddleware(_keystone_like(), service="keystone", recorder=recorder, layers=False)
    status, _, body = serve(app, make_environ("/v3/auth/tokens", method="POST"))
    assert (status, body) == ("201 CREATED", b"issued")
    [call] = recorder.calls
    assert call.handler == "TokensResource.post"


def test_flask_endpoint_matches_the_url_map() -> None:
    app = _keystone_like()
    assert flask_endpoint(app, "GET", "/v3/auth/tokens") == "tokens"
    assert flask_endpoint(app, "GET", "/nowhere") is None
    assert flask_endpoint(app, "DELETE", "/v3/auth/tokens") is None  # 405: no name, no fault
    assert flask_endpoint(object(), "GET", "/v3/auth/tokens") is None
