"""The server-side tap: a WSGI middleware (and paste filter) recording each inbound request.

Each request becomes a ``Call`` with side="server", handed to the capture Recorder (which
redacts, describes the bodies and stores it off the request thread). The W3C
``traceparent`` the client sent is continued, and while the app runs the request's span
is the current span, so calls the service makes (token validation, image lookups) become
its children.

Paste::

    [filter:stacktap]
    paste.filter_factory = stacktap.wsgi:filter_factory
    service = glance-api      # default: $STACKTAP_SERVICE
    db = /path/stacktap.db    # used when $STACKTAP_DB is not set
    layers = true             # record the layers wrapped by stacktap.paste.install
    enabled = true            # false: pass everything through
    ignore = method=GET path=/healthcheck   # see stacktap.agent.rules
    body_cap = 1048576        # bytes of each body kept (default: $STACKTAP_BODY_CAP or 1 MiB)
    otlp_endpoint = http://127.0.0.1:4318   # also send spans live to this OTLP/HTTP backend
    otlp_headers = X-Scope-OrgID=team-a     # k=v,k2=v2 added to each export request
    otlp_bodies = true        # bodies (redacted, capped) as span events; default $STACKTAP_OTLP_BODIES

Live export is on when ``otlp_endpoint`` is given, or when the service's environment asks for
it (``STACKTAP_OTLP_ENDPOINT``, or ``STACKTAP_OTLP=1`` with the usual ``OTEL_EXPORTER_OTLP_*``
variables; see ``stacktap.agent.live``). One exporter per process: the first configuration wins.

Without paste: ``TraceMiddleware(app, service="keystone")``.

NOTE: standard library only, Python 3.8+ (runs inside service processes). Whatever goes
wrong inside stacktap is reported once and the request goes on untraced.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Union

from stacktap import settings
from stacktap.agent.body_capture import BodyCapture
from stacktap.agent.context import parse_traceparent, reset_current_span, set_current_span
from stacktap.agent.faults import report_fault
from stacktap.agent.rules import IgnoreRules
from stacktap.agent.server.handler import (
    describe_app,
    find_final_app,
    flask_handler,
    flask_handler_callable,
    routes_handler,
    routes_handler_callable,
)
from stacktap.agent.server.handler_source import handler_site
from stacktap.agent.server.server_exchange import (
    ENVIRON_KEY,
    ServerExchange,
    reset_current_exchange,
    set_current_exchange,
)
from stacktap.agent.server.switch import Switch
from stacktap.model import new_span_id, new_trace_id

WSGIApp = Callable[[Dict[str, Any], Callable[..., Any]], Iterable[bytes]]

DB_ENV = settings.DB
SERVICE_ENV = settings.SERVICE
DEFAULT_BODY_CAP = settings.DEFAULT_BODY_CAP


def as_bool(value: Any, default: bool = True) -> bool:
    """Paste option text (``true``/``no``/``0``...) as a bool."""
    return settings.parse_bool(value, default)


def _default_db() -> Optional[str]:
    try:
        from stacktap.store import default_db_path

        return default_db_path()
    except Exception:
        return None


def _default_recorder() -> Any:
    from stacktap.agent.recorder import get_recorder

    return get_recorder()


class TraceMiddleware(object):
    """Records every request through ``app`` as a server Call of ``service``."""

    def __init__(
        self,
        app: WSGIApp,
        service: Optional[str] = None,
        db: Optional[str] = None,
        layers: bool = True,
        enabled: bool = True,
        ignore: Union[str, IgnoreRules, None] = None,
        body_cap: Optional[int] = None,
        recorder: Any = None,
        otlp_endpoint: Optional[str] = None,
        otlp_headers: Union[str, Dict[str, str], None] = None,
        otlp_bodies: Optional[bool] = None,
    ) -> None:
        self.app = app
        self.service = service or os.environ.get(SERVICE_ENV) or "wsgi"
        # NOTE: $STACKTAP_DB (set by stacktap for the services it starts) wins over the option.
        self.db = os.environ.get(DB_ENV) or db
        self.record_layers = layers
        self.switch = Switch(self.db or _default_db(), self.service, enabled=enabled)
        self.ignore = ignore if isinstance(ignore, IgnoreRules) else IgnoreRules.parse(ignore)
        if body_cap is None:
            body_cap = settings.body_cap_from_env()
        self.body_cap = body_cap
        self._recorder = recorder
        #: SCRIPT_NAME -> (the final app's name, the app itself when it is a Flask app)
        self._final_apps: Dict[str, Tuple[str, Any]] = {}
        if recorder is None:
            self._configure_process_recorder()
        if enabled:
            self._start_live_export(otlp_endpoint, otlp_headers, otlp_bodies)
            self._hook_policy()

    def _hook_policy(self) -> None:
        """Patch oslo.policy now if the service imported it before stacktap's import hook
        could see it (a filter loaded without ``stacktap run``): policy checks get recorded."""
        try:
            import sys

            module = sys.modules.get("oslo_policy.policy")
            if module is not None:
                from stacktap.agent.server.policy import patch

                patch(module)
        except Exception as exc:
            report_fault("stacktap filter (policy hook)", exc)

    def _configure_process_recorder(self) -> None:
        """Point the process's recorder at our store and service when nothing else did."""
        try:
            recorder = _default_recorder()
            if self.db and not getattr(recorder, "db", None):
                recorder.configure(db=self.db, enabled=True)
            if not getattr(recorder, "service", None):
                recorder.configure(service=self.service)
        except Exception as exc:
            report_fault("stacktap filter (recorder)", exc)

    def _start_live_export(
        self, endpoint: Optional[str], headers: Union[str, Dict[str, str], None], bodies: Optional[bool]
    ) -> None:
        """Send this process's spans live when the options or the environment say so.

        NOTE: ``stacktap.agent.live`` is imported only then: a service without live export
        never loads it.
        """
        try:
            from stacktap.agent.endpoint import wants_live_export

            if not endpoint and not wants_live_export(os.environ):
                return
            from stacktap.agent.live import install_from_options

            install_from_options(endpoint, headers, bodies, recorder=self._recorder)
        except Exception as exc:
            report_fault("stacktap filter (live export)", exc)

    # -- the request path -------------------------------------------------------------

    def __call__(self, environ: Dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        exchange = None
        try:
            exchange = self._begin(environ)
        except Exception as exc:
            report_fault("stacktap filter (request start)", exc)
        if exchange is None:
            return self.app(environ, start_response)
        token = set_current_span(exchange.trace_id, exchange.span_id)
        exchange_token = set_current_exchange(exchange)
        try:
            result = self.app(environ, exchange.wrap_start_response(environ, start_response))
        except BaseException as exc:
            self._failed(exchange, environ, exc)
            raise
        finally:
            reset_current_exchange(exchange_token)
            reset_current_span(token)
        try:
            from stacktap.agent.server.taps import tap_app_iter

            exchange.response_capture = BodyCapture(self.body_cap)
            return tap_app_iter(
                result,
                exchange.response_capture,
                lambda: self._finish(exchange, environ),
                lambda exc: self._note_error(exchange, exc),
            )
        except Exception as exc:
            report_fault("stacktap filter (response)", exc)
            return result

    def _begin(self, environ: Dict[str, Any]) -> Optional[ServerExchange]:
        """A new ServerExchange, or None when this request is not traced."""
        if ENVIRON_KEY in environ or not self.switch.on():
            return None  # NOTE: a second stacktap filter further in passes through
        if self.ignore and self._ignored(environ):
            return None
        parent = parse_traceparent(environ.get("HTTP_TRACEPARENT"))
        if parent is not None:
            trace_id, parent_span_id = parent.trace_id, parent.span_id
        else:
            trace_id, parent_span_id = new_trace_id(), None
        exchange = ServerExchange(
            environ, self.service, trace_id, new_span_id(), parent_span_id, self.record_layers
        )
        environ[ENVIRON_KEY] = exchange
        wsgi_input = environ.get("wsgi.input")
        if wsgi_input is not None and environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            from stacktap.agent.server.taps import InputTap

            exchange.request_capture = BodyCapture(self.body_cap)
            environ["wsgi.input"] = InputTap(wsgi_input, exchange.request_capture)
        return exchange

    def _ignored(self, environ: Dict[str, Any]) -> bool:
        """Whether the ignore rules drop this request.

        ``path`` matches the whole path or, for a service mounted below a prefix (devstack's
        ``/placement``, ``/compute``: ``SCRIPT_NAME``), the path below it, as the client hook
        matches the path below the endpoint: one rule serves both sides.
        """
        script = environ.get("SCRIPT_NAME", "")
        below = environ.get("PATH_INFO", "") or "/"
        agent = environ.get("HTTP_USER_AGENT") or ""
        source = agent.split(None, 1)[0].split("/", 1)[0] if agent.strip() else None
        method = environ.get("REQUEST_METHOD", "GET")
        paths = (script + below, below) if script.strip("/") else (below,)
        return any(self.ignore.matches(method, path, source, self.service) for path in paths)

    def _note_error(self, exchange: ServerExchange, exc: BaseException) -> None:
        exchange.error = exc

    def _failed(self, exchange: ServerExchange, environ: Dict[str, Any], exc: BaseException) -> None:
        """The app raised instead of answering: record that, then let it propagate."""
        try:
            exchange.error = exc
            self._finish(exchange, environ)
        except Exception as fault:
            report_fault("stacktap filter (error)", fault)

    def _finish(self, exchange: ServerExchange, environ: Dict[str, Any]) -> None:
        """The response is done (iterable closed): build the Call and hand it over."""
        try:
            exchange.duration = exchange.elapsed()
            self._name_handler(exchange, environ)
            call = exchange.to_call()
            request_body, response_body = exchange.body_records()
            recorder = self._recorder if self._recorder is not None else _default_recorder()
            # NOTE: the recorder takes BodyCapture objects as well as bytes (capture.bodies).
            recorder.submit(call, request_body, response_body)
        except Exception as exc:
            report_fault("stacktap filter (record)", exc)

    def _name_handler(self, exchange: ServerExchange, environ: Dict[str, Any]) -> None:
        """Fill the routes controller/action (or Flask view) and the final app's name."""
        if exchange.handler is None:
            exchange.handler = routes_handler(environ)
            if exchange.handler is not None:
                exchange.handler_site = handler_site(routes_handler_callable(environ))
        if exchange.final_app is not None and exchange.handler is not None:
            return
        # NOTE: urlmaps extend SCRIPT_NAME in place: by now it names the branch taken.
        key = environ.get("SCRIPT_NAME", "")
        known = self._final_apps.get(key)
        if known is None:
            app = find_final_app(self.app, _path_of(exchange.url))
            known = (describe_app(app), app if hasattr(app, "url_map") else None)
            if len(self._final_apps) < 256:
                self._final_apps[key] = known
        final_name, flask_app = known
        if exchange.final_app is None:
            exchange.final_app = final_name
        if exchange.handler is None and (exchange.werkzeug_request is not None or flask_app is not None):
            exchange.handler = flask_handler(
                exchange.werkzeug_request, exchange.method, flask_app, exchange.path_info
            )
            if exchange.handler is not None:
                exchange.handler_site = handler_site(
                    flask_handler_callable(
                        exchange.werkzeug_request, exchange.method, flask_app, exchange.path_info
                    )
                )


def _path_of(url: str) -> str:
    from urllib.parse import unquote, urlsplit

    return unquote(urlsplit(url).path)


def filter_factory(global_conf: Dict[str, Any], **local_conf: Any) -> Callable[[WSGIApp], TraceMiddleware]:
    """Paste ``filter_factory`` for ``[filter:stacktap]`` (options in the module docstring)."""
    cap_text = local_conf.get("body_cap")
    bodies_text = local_conf.get("otlp_bodies")
    options = dict(
        service=local_conf.get("service") or global_conf.get("stacktap_service"),
        db=local_conf.get("db"),
        layers=as_bool(local_conf.get("layers"), True),
        enabled=as_bool(local_conf.get("enabled"), True),
        ignore=local_conf.get("ignore"),
        body_cap=settings.parse_size(cap_text) if cap_text else None,
        otlp_endpoint=(local_conf.get("otlp_endpoint") or "").strip() or None,
        otlp_headers=local_conf.get("otlp_headers"),
        otlp_bodies=None if bodies_text in (None, "") else as_bool(bodies_text),
    )

    def make_filter(app: WSGIApp) -> TraceMiddleware:
        return TraceMiddleware(app, **options)  # type: ignore[arg-type]

    return make_filter


__all__: List[str] = ["TraceMiddleware", "as_bool", "filter_factory"]
