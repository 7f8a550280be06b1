"""Small real WSGI apps and paste factories for the wsgi tests.

``make_router`` routes like nova and glance do (routes.middleware.RoutesMiddleware, a
Resource wrapping the controller); ``deny_factory`` is a filter that answers 401 itself
without ``X-Auth-Token`` (like authtoken); ``tag_factory`` passes requests on and tags the
response; ``CollectingRecorder`` keeps submitted calls in memory.
"""

from __future__ import annotations

import json
from typing import Any

import routes
import routes.middleware
import webob
import webob.dec
import webob.exc


class ImagesController:
    def index(self, req: webob.Request) -> dict:
        return {"images": [{"id": "1"}]}

    def show(self, req: webob.Request, image_id: str) -> dict:
        return {"image": {"id": image_id}}

    def create(self, req: webob.Request) -> dict:
        body = json.loads(req.body or b"{}")
        return {"image": body, "size": len(req.body)}

    def call_out(self, req: webob.Request) -> dict:
        """Makes an outbound HTTP call (to the URL in X-Call-Out) while serving."""
        import requests

        response = requests.get(req.headers["X-Call-Out"], timeout=10)
        return {"status": response.status_code}


class Resource:
    """Like nova/glance ``wsgi.Resource``: keeps the controller, dispatches by action."""

    def __init__(self, controller: Any) -> None:
        self.controller = controller

    @webob.dec.wsgify
    def __call__(self, req: webob.Request) -> webob.Response:
        match = dict(req.environ["wsgiorg.routing_args"][1])
        match.pop("controller")
        action = match.pop("action")
        result = getattr(self.controller, action)(req, **match)
        return webob.Response(json=result)


class Router:
    """Like nova's ``APIRouterV21``: a RoutesMiddleware in front of the resources."""

    def __init__(self) -> None:
        mapper = routes.Mapper()
        images = Resource(ImagesController())
        mapper.connect("/images", controller=images, action="index", conditions={"method": ["GET"]})
        mapper.connect("/images", controller=images, action="create", conditions={"method": ["POST"]})
        mapper.connect("/images/{image_id}", controller=images, action="show", conditions={"method": ["GET"]})
        mapper.connect("/call-out", controller=images, action="call_out")
        self._router = routes.middleware.RoutesMiddleware(self._dispatch, mapper)

    @webob.dec.wsgify
    def __call__(self, req: webob.Request) -> Any:
        return self._router

    @staticmethod
    @webob.dec.wsgify
    def _dispatch(req: webob.Request) -> Any:
        match = req.environ["wsgiorg.routing_args"][1]
        if not match:
            return webob.exc.HTTPNotFound()
        return match["controller"]


def make_router(global_conf: dict, **local_conf: Any) -> Router:
    return Router()


def versions_app(environ: dict, start_response: Any) -> list:
    start_response("300 Multiple Choices", [("Content-Type", "application/json")])
    return [b'{"versions": []}']


def make_versions(global_conf: dict, **local_conf: Any) -> Any:
    return versions_app


class Deny:
    """Answers 401 itself unless the request carries X-Auth-Token."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Any) -> Any:
        if "HTTP_X_AUTH_TOKEN" not in environ:
            start_response("401 Unauthorized", [("Content-Type", "text/plain")])
            return [b"authentication required"]
        return self.app(environ, start_response)


def deny_factory(global_conf: dict, **local_conf: Any) -> Any:
    return Deny


class Tag:
    def __init__(self, app: Any, tag: str) -> None:
        self.app = app
        self.tag = tag

    def __call__(self, environ: dict, start_response: Any) -> Any:
        def tagged(status: str, headers: list, exc_info: Any = None) -> Any:
            return start_response(status, [*headers, ("X-Tag-" + self.tag, "1")])

        return self.app(environ, tagged)


def tag_factory(global_conf: dict, **local_conf: Any) -> Any:
    tag = local_conf.get("tag", "tag")
    return lambda app: Tag(app, tag)


def tag_filter_app_factory(app: Any, global_conf: dict, **local_conf: Any) -> Any:
    return Tag(app, local_conf.get("tag", "tag"))


class CollectingRecorder:
    """The Recorder's submit(), keeping calls in memory (body captures as given)."""

    def __init__(self) -> None:
        self.submitted: list = []

    def submit(self, call: Any, request_bytes: Any = None, response_bytes: Any = None) -> None:
        self.submitted.append((call, request_bytes, response_bytes))

    @property
    def calls(self) -> list:
        return [c for c, _, _ in self.submitted]
