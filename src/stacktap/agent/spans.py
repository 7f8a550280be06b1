"""Map stored Calls (and their Layers) to span records, the shape OTLP wants.

One mapping serves both exports: ``otlp.py`` turns the records into OpenTelemetry SDK
spans (protobuf, from the CLI) and ``otlp_json.py`` into OTLP/JSON (live, from services).

- A Call is a CLIENT or SERVER span with the recorded trace id, span id and parent.
- Each Layer of a server call is an INTERNAL span; layers nest like the middleware does
  (layer 0 is a child of the call, layer 1 a child of layer 0, ...). Their span ids are
  derived from the call's span id and the layer order, so exporting twice gives the same ids.
- Attributes follow the stable HTTP semantic conventions, OpenStack facts go under
  ``openstack.``, the call site under ``code.``.

NOTE: imported inside traced programs and services for live export (Python 3.8+,
standard library only).
"""

from __future__ import annotations

import hashlib
import os
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union
from urllib.parse import urlsplit

from stacktap.model import (
    BODY_NONE,
    KIND_DB,
    POLICY_ALLOWED,
    RPC_KINDS,
    SERVER,
    Body,
    Call,
    Layer,
    PolicyCheck,
)
from stacktap.paths import default_port, path_template

AttrValue = Union[str, bool, int, float, List[str]]
Attributes = Dict[str, AttrValue]

KIND_INTERNAL = "internal"
KIND_SERVER = "server"
KIND_CLIENT = "client"

#: Characters of a body kept in a span event (bodies are already redacted and capped).
from stacktap.settings import DEFAULT_SPAN_BODY_CAP as DEFAULT_BODY_CAP  # noqa: E402

#: Methods the HTTP conventions know; anything else is reported as ``_OTHER``.
_KNOWN_METHODS = frozenset(["CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"])


class EventRecord(object):
    """A timestamped span event (a body, an exception)."""

    __slots__ = ("attributes", "name", "time_ns")

    def __init__(self, name: str, time_ns: int, attributes: Attributes) -> None:
        self.name = name
        self.time_ns = time_ns
        self.attributes = attributes


class SpanRecord(object):
    """One span, independent of any OpenTelemetry library.

    ``resource`` holds the attributes of the process that recorded the span
    (``service.name``...): exporters group spans by it.
    """

    __slots__ = (
        "attributes",
        "end_ns",
        "error",
        "events",
        "kind",
        "name",
        "parent_span_id",
        "resource",
        "span_id",
        "start_ns",
        "status_message",
        "trace_id",
    )

    def __init__(
        self,
        name: str,
        kind: str,
        trace_id: str,
        span_id: str,
        parent_span_id: Optional[str],
        start_ns: int,
        end_ns: int,
        attributes: Attributes,
        resource: Tuple[Tuple[str, AttrValue], ...],
        events: Optional[List[EventRecord]] = None,
        error: bool = False,
        status_message: Optional[str] = None,
    ) -> None:
        self.name = name
        self.kind = kind
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_span_id = parent_span_id
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.attributes = attributes
        self.resource = resource
        self.events = events or []
        self.error = error
        self.status_message = status_message


def to_ns(seconds: float) -> int:
    """Epoch seconds (float) to integer nanoseconds."""
    return round(seconds * 1e9)


def layer_span_id(call_span_id: str, order: int) -> str:
    """A stable span id for layer ``order`` of a call: same inputs, same id."""
    digest = hashlib.sha256(("%s/layer/%d" % (call_span_id, order)).encode("ascii")).hexdigest()
    # NOTE: an all-zero span id is invalid in OTLP; astronomically unlikely, but cheap to avoid.
    return digest[:16] if digest[:16] != "0" * 16 else digest[16:32]


def process_service_name(call: Call) -> str:
    """``service.name`` of the process that recorded a call.

    The service it belongs to (``glance-api``) on the server side and for calls a service
    makes; for a client command, the program's name (``openstack``).
    """
    if call.local_service:
        return call.local_service
    if call.process_name:
        return call.process_name
    if call.process_argv:
        return os.path.basename(call.process_argv[0]) or "unknown_service"
    return "unknown_service"


def resource_of(call: Call) -> Tuple[Tuple[str, AttrValue], ...]:
    """The resource attributes of the recording process, hashable so spans can be grouped."""
    attrs: List[Tuple[str, AttrValue]] = [("service.name", process_service_name(call))]
    if call.host:
        attrs.append(("host.name", call.host))
    if call.pid:
        attrs.append(("process.pid", int(call.pid)))
    if call.process_name:
        attrs.append(("process.executable.name", call.process_name))
    return tuple(attrs)


def span_name(call: Call, template: str) -> str:
    """``GET /v2/images/{image_id}``: low-cardinality, as the conventions ask."""
    return "%s %s" % (call.method.upper(), template or "/")


def _is_error(call: Call) -> bool:
    # NOTE: 4xx answers are not span errors here, on either side: the OpenStack client
    # probes with 404s and 300s (lookups by name, version discovery) as a matter of course.
    return call.failed or (call.status is not None and call.status >= 500)


def _put(attrs: Attributes, key: str, value: Optional[AttrValue]) -> None:
    if value is None or value == "":
        return
    attrs[key] = value


def _url_attributes(call: Call, attrs: Attributes) -> None:
    parts = urlsplit(call.url)
    attrs["url.full"] = call.url
    _put(attrs, "server.address", parts.hostname)
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None and parts.scheme in ("http", "https"):
        port = default_port(parts.scheme)
    _put(attrs, "server.port", port)
    if call.side == SERVER:
        _put(attrs, "url.scheme", parts.scheme)
        _put(attrs, "url.path", parts.path or "/")
        _put(attrs, "url.query", parts.query)


def db_attributes(call: Call) -> Attributes:
    """The attributes of a DB statement's span (OpenTelemetry database conventions)."""
    attrs: Attributes = {}
    _put(attrs, "db.system.name", call.attributes.get("system"))
    _put(attrs, "db.query.text", call.attributes.get("statement"))  # placeholders only
    _put(attrs, "db.operation.name", call.method)
    _put(attrs, "db.response.returned_rows", call.attributes.get("rowcount"))
    if call.error_type:
        attrs["error.type"] = call.error_type
    _put(attrs, "thread.name", call.thread)
    _put(attrs, "stacktap.run_id", call.run_id)
    return attrs


def rpc_attributes(call: Call) -> Attributes:
    """The attributes of an RPC record's span (OpenTelemetry RPC and messaging conventions)."""
    facts = call.attributes
    attrs: Attributes = {"rpc.system": "oslo_messaging", "rpc.method": call.method}
    _put(attrs, "messaging.system", facts.get("system"))
    _put(attrs, "messaging.destination.name", facts.get("topic"))
    _put(attrs, "openstack.rpc.kind", call.kind)
    _put(attrs, "openstack.rpc.exchange", facts.get("exchange"))
    _put(attrs, "openstack.rpc.server", facts.get("server"))
    _put(attrs, "openstack.rpc.version", facts.get("version"))
    _put(attrs, "openstack.rpc.namespace", facts.get("namespace"))
    _put(attrs, "openstack.rpc.reply_type", facts.get("reply_type"))
    _put(attrs, "openstack.rpc.reply_size", facts.get("reply_size"))
    _put(attrs, "code.function", call.handler)
    _put(attrs, "openstack.request_id", call.request_id)
    if call.error_type:
        attrs["error.type"] = call.error_type
    _put(attrs, "thread.name", call.thread)
    _put(attrs, "stacktap.run_id", call.run_id)
    return attrs


def call_attributes(call: Call, template: str) -> Attributes:
    """The attributes of a call's span."""
    if call.kind == KIND_DB:
        return db_attributes(call)
    if call.kind in RPC_KINDS:
        return rpc_attributes(call)
    attrs: Attributes = {}
    method = call.method.upper()
    if method in _KNOWN_METHODS:
        attrs["http.request.method"] = method
    else:
        attrs["http.request.method"] = "_OTHER"
        attrs["http.request.method_original"] = call.method
    _url_attributes(call, attrs)
    _put(attrs, "http.route", template)
    if call.side != SERVER:
        _put(attrs, "url.template", template)
    _put(attrs, "http.response.status_code", call.status)
    if call.error_type:
        attrs["error.type"] = call.error_type
    elif _is_error(call):
        attrs["error.type"] = str(call.status)
    _put(attrs, "user_agent.original", call.header("User-Agent", response=False))
    _put(attrs, "thread.name", call.thread)
    # OpenStack: which service (from the catalog), which request, which handler.
    _put(attrs, "openstack.service.type", call.peer.service_type)
    _put(attrs, "openstack.service.name", call.peer.service_name)
    _put(attrs, "openstack.interface", call.peer.interface)
    _put(attrs, "openstack.region", call.peer.region)
    _put(attrs, "openstack.request_id", call.request_id)
    _put(attrs, "openstack.global_request_id", call.global_request_id)
    _put(attrs, "openstack.handler", call.handler)
    _put(attrs, "openstack.app", call.app)
    if call.policy_checks:
        attrs["openstack.policy.rules"] = [check.rule for check in call.policy_checks]
        denied = [check.rule for check in call.policy_checks if check.result != POLICY_ALLOWED]
        if denied:
            attrs["openstack.policy.denied"] = denied
        refused = call.denied_by
        if refused is not None:
            attrs["openstack.policy.denied_by"] = refused.rule
    _put(attrs, "stacktap.run_id", call.run_id)
    # The code that issued the call.
    site = call.call_site
    if site is not None:
        _put(attrs, "code.filepath", site.file)
        _put(attrs, "code.lineno", site.line or None)
        _put(attrs, "code.function", site.function)
        namespace = ".".join(p for p in (site.module, site.cls) if p)
        _put(attrs, "code.namespace", namespace)
    if call.stack:
        attrs["code.stacktrace"] = "\n".join(call.stack)
    return attrs


def _body_event(name: str, body: Body, time_ns: int, cap: int) -> Optional[EventRecord]:
    if body.kind == BODY_NONE and not body.size:
        return None
    attrs: Attributes = {"stacktap.body.kind": body.kind}
    _put(attrs, "stacktap.body.content_type", body.content_type)
    _put(attrs, "stacktap.body.size", body.size)
    _put(attrs, "stacktap.body.sha256", body.sha256)
    text = body.text
    truncated = body.truncated
    if text is not None:
        if len(text) > cap:
            text, truncated = text[:cap], True
        attrs["stacktap.body.text"] = text
    if truncated:
        attrs["stacktap.body.truncated"] = True
    return EventRecord(name, time_ns, attrs)


def policy_event(call: Call, check: PolicyCheck) -> EventRecord:
    """An ``openstack.policy.check`` event: one oslo.policy rule the service checked."""
    attrs: Attributes = {"openstack.policy.rule": check.rule, "openstack.policy.result": check.result}
    _put(attrs, "openstack.policy.check", check.check)
    _put(attrs, "openstack.policy.error", check.error)
    roles = check.creds.get("roles")
    if roles:
        attrs["openstack.policy.roles"] = [str(role) for role in roles]
    for key in ("project_id", "domain_id", "system_scope", "user_id"):
        value = check.creds.get(key)
        if value:
            attrs["openstack.policy." + key] = str(value)
    _put(attrs, "openstack.policy.duration_ms", None if check.duration is None else check.duration * 1000.0)
    if check.count > 1:
        attrs["openstack.policy.count"] = check.count
    return EventRecord("openstack.policy.check", to_ns(call.start + check.offset), attrs)


def call_events(call: Call, bodies: bool, body_cap: int) -> List[EventRecord]:
    """An ``exception`` event for failed calls, an ``openstack.policy.check`` event per policy
    check; with ``bodies``, the (redacted) bodies."""
    start_ns = to_ns(call.start)
    events: List[EventRecord] = []
    if bodies:
        request = _body_event("http.request.body", call.request_body, start_ns, body_cap)
        if request is not None:
            events.append(request)
        answered_ns = to_ns(call.start + (call.time_to_headers or call.duration or 0.0))
        response = _body_event("http.response.body", call.response_body, answered_ns, body_cap)
        if response is not None:
            events.append(response)
    for check in call.policy_checks:
        events.append(policy_event(call, check))
    if call.error_type:
        attrs: Attributes = {"exception.type": call.error_type}
        _put(attrs, "exception.message", call.error_message)
        events.append(EventRecord("exception", to_ns(call.end), attrs))
    return events


def layer_spans(
    call: Call, resource: Tuple[Tuple[str, AttrValue], ...], layers: Sequence[Layer]
) -> List[SpanRecord]:
    """INTERNAL spans for a server call's middleware layers, nested outermost first."""
    spans: List[SpanRecord] = []
    parent = call.span_id
    call_end = call.end
    for layer in sorted(layers, key=lambda la: la.order):
        span_id = layer_span_id(call.span_id, layer.order)
        start = call.start + (layer.enter_offset or 0.0)
        end = call.start + layer.exit_offset if layer.exit_offset is not None else call_end
        attrs: Attributes = {"openstack.layer.order": layer.order, "openstack.layer.name": layer.name}
        _put(attrs, "openstack.layer.factory", layer.factory)
        if layer.answered:
            attrs["openstack.layer.answered"] = True
        _put(attrs, "http.response.status_code", layer.status)
        error = layer.status is not None and layer.status >= 500
        spans.append(
            SpanRecord(
                name=layer.name,
                kind=KIND_INTERNAL,
                trace_id=call.trace_id,
                span_id=span_id,
                parent_span_id=parent,
                start_ns=to_ns(start),
                end_ns=max(to_ns(end), to_ns(start)),
                attributes=attrs,
                resource=resource,
                error=error,
            )
        )
        parent = span_id
    return spans


def spans_for_call(call: Call, bodies: bool = False, body_cap: int = DEFAULT_BODY_CAP) -> List[SpanRecord]:
    """The span of one call, followed by the spans of its layers."""
    template = call.path_template or path_template(call.url)
    resource = resource_of(call)
    error = _is_error(call)
    message = None
    if error:
        message = call.error_message or (
            "%s %s" % (call.status, call.reason or "") if call.status is not None else None
        )
    start_ns = to_ns(call.start)
    span = SpanRecord(
        name=call.method if call.kind == KIND_DB else (
            (call.handler or call.method) if call.kind in RPC_KINDS else span_name(call, template)
        ),
        kind=KIND_SERVER if call.side == SERVER else KIND_CLIENT,
        trace_id=call.trace_id,
        span_id=call.span_id,
        parent_span_id=call.parent_span_id or None,
        start_ns=start_ns,
        end_ns=max(to_ns(call.end), start_ns),
        attributes=call_attributes(call, template),
        resource=resource,
        events=call_events(call, bodies, body_cap),
        error=error,
        status_message=message.strip() if message else None,
    )
    return [span, *layer_spans(call, resource, call.layers)]


def spans_for_calls(
    calls: Iterable[Call], bodies: bool = False, body_cap: int = DEFAULT_BODY_CAP
) -> List[SpanRecord]:
    """Spans for many calls, in the order given."""
    out: List[SpanRecord] = []
    for call in calls:
        out.extend(spans_for_call(call, bodies=bodies, body_cap=body_cap))
    return out


def group_by_resource(
    spans: Iterable[SpanRecord],
) -> List[Tuple[Tuple[Tuple[str, AttrValue], ...], List[SpanRecord]]]:
    """Spans grouped by the process that recorded them, groups in first-seen order."""
    groups: Dict[Tuple[Tuple[str, AttrValue], ...], List[SpanRecord]] = {}
    for span in spans:
        groups.setdefault(span.resource, []).append(span)
    return list(groups.items())
