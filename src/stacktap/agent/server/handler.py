"""Name what served a request: the routes controller/action and the final WSGI app.

What the services put in the WSGI environ (read from their code):

- nova and glance route with ``routes.middleware.RoutesMiddleware``: it sets
  ``environ['wsgiorg.routing_args'] = (url, match)`` (also ``routes.route``); ``match``
  holds ``action`` (``detail``) and ``controller``, a ``wsgi.Resource`` whose
  ``.controller`` is the real controller object (``ServersController``).
- keystone is Flask: werkzeug stores the request in ``environ['werkzeug.request']``;
  its ``url_rule.endpoint`` names the view, and the Flask app's ``view_functions``
  lead to the flask-restful Resource class.

The final app is found by following the attributes middlewares keep their next app in
(``application``, ``app``, ``_app``...) and, through a urlmap, the branch the path takes.

NOTE: standard library only, Python 3.8+ (runs inside service processes).
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

# Where middlewares keep the app they wrap, most common first.
_NEXT_ATTRS = ("application", "app", "_app", "_application", "wrapped", "wrap_app", "next_app", "wsgi_app")


def _object_name(obj: Any) -> str:
    """``ServersController`` for a controller (or the Resource around it), a function's name."""
    if isinstance(obj, str):
        return obj
    if not isinstance(obj, type):
        inner = getattr(obj, "controller", None)  # nova/glance wsgi.Resource
        if inner is not None:
            obj = inner
    if isinstance(obj, type):
        return obj.__name__
    if hasattr(obj, "__code__") or hasattr(obj, "__func__"):  # function or bound method
        return str(getattr(obj, "__qualname__", obj))
    return type(obj).__name__


def routes_handler(environ: Dict[str, Any]) -> Optional[str]:
    """``ServersController.detail`` from the routes match in ``environ``, if any."""
    args = environ.get("wsgiorg.routing_args")
    if not args or len(args) < 2 or not isinstance(args[1], dict):
        return None
    match = args[1]
    controller = match.get("controller")
    action = match.get("action")
    if controller is None and action is None:
        return None
    name = _object_name(controller) if controller is not None else "?"
    return "%s.%s" % (name, action) if action else name


def routes_handler_callable(environ: Dict[str, Any]) -> Any:
    """The controller method the routes match in ``environ`` leads to (``ServersController.detail``
    as a bound method), or None."""
    args = environ.get("wsgiorg.routing_args")
    if not args or len(args) < 2 or not isinstance(args[1], dict):
        return None
    controller = args[1].get("controller")
    action = args[1].get("action")
    if controller is None or not isinstance(action, str):
        return None
    inner = getattr(controller, "controller", controller)  # nova/glance wsgi.Resource
    return getattr(inner, action, None)


def _flask_view(
    request: Any, method: str, final_app: Any, path_info: Optional[str]
) -> Tuple[Optional[str], Any]:
    """The endpoint and view function that serve ``method`` on a Flask app (see ``flask_handler``)."""
    rule = getattr(request, "url_rule", None)
    endpoint = getattr(rule, "endpoint", None)
    if not endpoint and path_info is not None:
        endpoint = flask_endpoint(final_app, method, path_info)
    if not endpoint:
        return None, None
    return str(endpoint), getattr(final_app, "view_functions", {}).get(endpoint)


def flask_handler(
    request: Any, method: str, final_app: Any, path_info: Optional[str] = None
) -> Optional[str]:
    """``AuthTokenResource.get`` (keystone) from werkzeug's request and the Flask app.

    Without the request (see ``flask_endpoint``), the endpoint is matched again from
    ``path_info`` against the app's URL map.
    """
    endpoint, view = _flask_view(request, method, final_app, path_info)
    if endpoint is None:
        return None
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        return "%s.%s" % (view_class.__name__, method.lower())
    if view is not None:
        return getattr(view, "__qualname__", endpoint)
    return endpoint


def flask_handler_callable(request: Any, method: str, final_app: Any, path_info: Optional[str] = None) -> Any:
    """The function behind ``flask_handler``'s name: the Resource's method, or the view."""
    _endpoint, view = _flask_view(request, method, final_app, path_info)
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        return getattr(view_class, method.lower(), None)
    return view


def flask_endpoint(app: Any, method: str, path_info: str) -> Optional[str]:
    """The endpoint a Flask app's URL map gives ``method path_info``, if it has a URL map.

    NOTE: keystone's middlewares are webob ``wsgify`` filters: they answer the server only after
    Flask has popped its request context and cleared ``environ['werkzeug.request']``, so the
    request the filter could keep is gone; matching the URL map again costs one werkzeug match.
    """
    url_map = getattr(app, "url_map", None)
    if url_map is None:
        return None
    try:
        endpoint, _args = url_map.bind("localhost").match(path_info, method=method)
    except Exception:  # no match, 405, a strict-slashes redirect: no name, no fault
        return None
    return str(endpoint)


def describe_app(app: Any) -> str:
    """``nova.api.openstack.compute.routes.APIRouterV21`` for an app object or function."""
    if hasattr(app, "__self__") and not isinstance(app.__self__, type):  # bound method
        app = app.__self__
    if isinstance(app, type) or hasattr(app, "__code__"):
        return "%s.%s" % (getattr(app, "__module__", "?"), getattr(app, "__qualname__", "?"))
    cls = type(app)
    return "%s.%s" % (cls.__module__, cls.__qualname__)


def _urlmap_choice(app: Any, path: str) -> Optional[tuple]:
    """(app, rest of path) for a paste/nova URLMap, by longest matching prefix."""
    applications = getattr(app, "applications", None)
    if not isinstance(applications, list):
        return None
    for entry in applications:  # NOTE: URLMap keeps them longest first
        try:
            (_domain, prefix), target = entry
        except (TypeError, ValueError):
            return None
        if prefix.endswith("/+"):
            base = prefix[:-1]
            if path.startswith(base) and len(path) > len(base):
                return target, path[len(base) - 1 :]
        elif path == prefix or path.startswith(prefix.rstrip("/") + "/"):
            return target, path[len(prefix.rstrip("/")) :]
    return None


def _next_app(app: Any) -> Any:
    if hasattr(app, "url_map") and hasattr(app, "view_functions"):
        # NOTE: a Flask app routes itself: it is final, even when middlewares were slid into
        # its ``wsgi_app`` (keystone's), which would otherwise lead the walk past it.
        return None
    for attr in _NEXT_ATTRS:
        nxt = getattr(app, attr, None)
        if nxt is None or nxt is app:
            continue
        if getattr(nxt, "__self__", None) is app:  # Flask.wsgi_app: the app itself
            continue
        if callable(nxt):
            return nxt
    func = getattr(app, "func", None)  # webob.dec.wsgify around a bound method
    owner = getattr(func, "__self__", None)
    if owner is not None and owner is not app:
        return owner
    return None


def find_final_app(app: Any, path: str, limit: int = 64) -> Any:
    """The innermost app below ``app`` for a request on ``path``."""
    seen = set()
    for _ in range(limit):
        seen.add(id(app))
        choice = _urlmap_choice(app, path)
        if choice is not None:
            nxt, path = choice
        else:
            nxt = _next_app(app)
        if nxt is None or id(nxt) in seen:
            return app
        app = nxt
    return app
