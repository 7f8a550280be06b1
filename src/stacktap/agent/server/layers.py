"""Layer timing: each paste filter of a pipeline, wrapped so entering and leaving it is timed
and "did it call the next app?" is known.

``stacktap.paste.install.instrument_paste_ini`` rewrites every ``[filter:X]`` to::

    paste.filter_factory = stacktap.wsgi.layers:layer_filter_factory
    stacktap.factory = keystonemiddleware.auth_token:filter_factory   # or egg:Pkg#name, call:m:f
    stacktap.layer = authtoken
    stacktap.kind = filter          # filter_app for paste.filter_app_factory
    ...the filter's own options, passed on untouched...

At load time the wrapper calls the original factory with the remaining options; the filter
it returns is placed between a ``LayerEntry`` (outside) and a ``LayerExit`` (in front of
the next app). For each traced request the entry appends a ``stacktap.model.Layer`` to
the server call (order, enter/exit offsets, status it returned upward); reaching the exit
means the layer passed the request on, else it ``answered`` it itself (authtoken's 401).

NOTE: standard library only, Python 3.8+ (runs inside service processes).
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Dict, Iterable, Optional, Tuple

from stacktap.agent.server.handler import routes_handler, routes_handler_callable
from stacktap.agent.server.handler_source import handler_site
from stacktap.agent.server.server_exchange import ENVIRON_KEY
from stacktap.model import Layer

FACTORY_KEY = "stacktap.factory"
LAYER_KEY = "stacktap.layer"
KIND_KEY = "stacktap.kind"
LAYER_FACTORY = "stacktap.wsgi.layers:layer_filter_factory"

WSGIApp = Callable[[Dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _import_object(spec: str) -> Any:
    module_name, _, attr = spec.partition(":")
    obj: Any = importlib.import_module(module_name.strip())
    for part in attr.strip().split("."):
        obj = getattr(obj, part)
    return obj


def _egg_entry_point(spec: str) -> Tuple[Any, str]:
    """(factory, kind) for ``egg:Pkg#name``, from the package's paste entry points."""
    from importlib import metadata

    dist_name, _, name = spec[len("egg:") :].partition("#")
    name = name or "main"
    candidates = [dist_name, dist_name.lower(), dist_name.replace("-", "_"), dist_name.replace("_", "-")]
    for candidate in candidates:
        try:
            dist = metadata.distribution(candidate)
        except metadata.PackageNotFoundError:
            continue
        for group, kind in (("paste.filter_factory", "filter"), ("paste.filter_app_factory", "filter_app")):
            for entry in dist.entry_points:
                if entry.group == group and entry.name == name:
                    return entry.load(), kind
        raise LookupError("%s: no paste.filter_factory entry point %r in %s" % (spec, name, dist_name))
    raise LookupError("%s: package %r is not installed" % (spec, dist_name))


def resolve_factory(spec: str, kind: str = "filter") -> Tuple[Any, str]:
    """(factory, kind) for ``mod:func``, ``call:mod:func`` or ``egg:Pkg#name``."""
    spec = spec.strip()
    if spec.startswith("egg:"):
        return _egg_entry_point(spec)
    if spec.startswith("call:"):
        spec = spec[len("call:") :]
    return _import_object(spec), kind


class LayerExit(object):
    """In front of the next app: reaching it means the layer passed the request on."""

    __slots__ = ("app", "entry_id")

    def __init__(self, app: WSGIApp, entry_id: int) -> None:
        self.app = app
        self.entry_id = entry_id

    def __call__(self, environ: Dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        exchange = environ.get(ENVIRON_KEY)
        if exchange is not None:
            layer = exchange.open_layers.get(self.entry_id)
            if layer is not None:
                layer.answered = False
        try:
            return self.app(environ, start_response)
        finally:
            # NOTE: the environ the next app saw is the likeliest to hold the routes match.
            if exchange is not None and exchange.handler is None:
                try:
                    exchange.handler = routes_handler(environ)
                    if exchange.handler is not None:
                        exchange.handler_site = handler_site(routes_handler_callable(environ))
                except Exception:
                    pass


class LayerEntry(object):
    """Outside one filter: times it and notes the status it returns upward."""

    __slots__ = ("__weakref__", "app", "factory", "name")

    def __init__(self, app: WSGIApp, name: str, factory: Optional[str]) -> None:
        self.app = app
        self.name = name
        self.factory = factory

    def __call__(self, environ: Dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        exchange = environ.get(ENVIRON_KEY)
        if exchange is None or exchange.layers is None:
            return self.app(environ, start_response)
        layer = Layer(
            span_id="",
            order=len(exchange.layers),
            name=self.name,
            factory=self.factory,
            enter_offset=exchange.elapsed(),
            answered=True,
        )
        exchange.layers.append(layer)
        exchange.open_layers[id(self)] = layer

        def layer_start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            try:  # noqa: SIM105 (hot path)
                layer.status = int(status.split(None, 1)[0])
            except (ValueError, IndexError):
                pass
            if exc_info is None:
                return start_response(status, headers)
            return start_response(status, headers, exc_info)

        try:
            return self.app(environ, layer_start_response)
        finally:
            layer.exit_offset = exchange.elapsed()


def wrap_filter(
    filter_: Callable[[WSGIApp], WSGIApp], name: str, factory: Optional[str]
) -> Callable[[WSGIApp], WSGIApp]:
    """A paste filter (``app -> app``) whose instances are timed as layer ``name``."""

    def make_layer(app: WSGIApp) -> WSGIApp:
        entry = LayerEntry(app, name, factory)  # app replaced below, once the filter exists
        entry.app = filter_(LayerExit(app, id(entry)))
        return entry

    return make_layer


def layer_filter_factory(global_conf: Dict[str, Any], **local_conf: Any) -> Callable[[WSGIApp], WSGIApp]:
    """Paste filter factory: build the original filter, wrapped for layer timing."""
    spec = local_conf.pop(FACTORY_KEY, None)
    if not spec:
        raise ValueError("stacktap layer wrapper: the filter section has no %s option" % FACTORY_KEY)
    name = local_conf.pop(LAYER_KEY, None) or spec
    factory, kind = resolve_factory(spec, local_conf.pop(KIND_KEY, "filter"))
    label = spec[len("call:") :] if spec.startswith("call:") else spec
    if kind == "filter_app":

        def filter_app(app: WSGIApp) -> WSGIApp:
            return factory(app, global_conf, **local_conf)

        return wrap_filter(filter_app, name, label)
    return wrap_filter(factory(global_conf, **local_conf), name, label)
