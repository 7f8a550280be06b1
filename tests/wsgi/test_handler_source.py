"""The server side's ``call_site``: the file and ``def`` line of the handler that answered."""

from __future__ import annotations

import functools
import linecache
from collections.abc import Callable
from typing import Any

from serve import make_environ, serve
from test_handler import _keystone_like
from wsgi_apps import CollectingRecorder, make_router

from stacktap.agent.server.filter import TraceMiddleware
from stacktap.agent.server.handler_source import handler_site


def _served_call(app: Any, path: str, method: str = "GET") -> Any:
    recorder = CollectingRecorder()
    serve(
        TraceMiddleware(app, service="svc", recorder=recorder, layers=False),
        make_environ(path, method=method),
    )
    [call] = recorder.calls
    return call


def _line(site: Any) -> str:
    return linecache.getline(site.file, site.line).strip()


def test_a_routes_controller_method_is_located_at_its_def_line() -> None:
    call = _served_call(make_router({}), "/images/42")
    assert call.handler == "ImagesController.show"
    site = call.call_site
    assert site.file.endswith("wsgi_apps.py") and site.file.startswith("/")
    assert _line(site).startswith("def show(")
    assert (site.function, site.cls) == ("show", "ImagesController")


def test_a_flask_resource_method_is_located() -> None:
    call = _served_call(_keystone_like(), "/v3/auth/tokens", method="POST")
    assert call.handler == "TokensResource.post"
    assert call.call_site.file.endswith("test_handler.py")
    assert _line(call.call_site).startswith("def post(")


def _expected_errors(*codes: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Like nova's ``wsgi.expected_errors``: a ``functools.wraps`` decorator with arguments."""

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            return func(*args, **kwargs)

        return wrapped

    return decorator


class FlavorsController:
    @_expected_errors(
        400,
        404,
    )
    @_expected_errors(403)
    def show(self, req: Any, flavor_id: str) -> dict:
        return {}


def test_decorators_are_seen_through_to_the_real_function() -> None:
    site = handler_site(FlavorsController().show)
    assert site is not None
    assert site.file == __file__
    assert _line(site).startswith("def show(")
    assert site.cls == "FlavorsController"
    assert site.module == __name__


def test_callables_without_python_code_have_no_site() -> None:
    assert handler_site(len) is None
    assert handler_site(None) is None
