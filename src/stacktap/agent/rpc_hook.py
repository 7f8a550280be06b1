"""Record oslo.messaging RPC: each call and cast a traced request or message sends, and each
message a service dispatches to an endpoint on behalf of one.

Two patches, applied when the service imports oslo.messaging (``stacktap.agent.import_hook``):

- ``Transport._send`` (every ``call``, ``cast`` and fanout goes through it, after the client
  serialized the context and the arguments): a client record of kind ``rpc.call`` (timed until
  the reply) or ``rpc.cast`` (until published), its target as ``rabbit://exchange/topic.server``,
  the arguments as a JSON body (redacted by the recorder like any body: ``admin_password`` of a
  rebuild never reaches the store), the context's request ids, the reply's type and size or the
  remote exception's class. The W3C trace context travels in the message context under
  :data:`CONTEXT_KEY`.
- ``RPCDispatcher._do_dispatch`` (the endpoint method is known there): the receiving side takes
  :data:`CONTEXT_KEY` out of the context before the service deserializes it, and records a
  server record of kind ``rpc.server`` naming ``EndpointClass.method``, its duration and its
  exception, child of the sending record (a cast's handling is the cast's child, not part of
  its caller's reply). While it runs it is the current span, so the HTTP calls, SQL and RPC the
  handler makes nest under it.

NOTE: only traced work is recorded: a send outside any traced request or message (periodic
tasks, heartbeats, compute's resource updates through the conductor) and a message that came
without stacktap's key are left alone, so a command's trace holds what the command caused.
A service without stacktap that receives a message with the key ignores it (oslo.context's
``from_dict`` reads the keys it knows). Standard library only, Python 3.8+.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from types import ModuleType
from typing import Any, Dict, Optional

from stacktap.agent import context
from stacktap.agent.faults import report_fault
from stacktap.agent.recorder import get_recorder
from stacktap.agent.server.handler_source import handler_site
from stacktap.model import (
    CLIENT,
    KIND_RPC_CALL,
    KIND_RPC_CAST,
    KIND_RPC_SERVER,
    SERVER,
    Body,
    Call,
    Peer,
    new_span_id,
)

#: The message-context key the trace context travels under (removed on receipt).
CONTEXT_KEY = "stacktap_traceparent"
_MARK = "_stacktap_rpc_hooked"
_JSON = [("Content-Type", "application/json")]


def _scheme(transport: Any) -> str:
    driver = type(getattr(transport, "_driver", None)).__name__.lower()
    return "rabbit" if "rabbit" in driver else ("kafka" if "kafka" in driver else "rpc")


def _target_url(transport: Any, target: Any) -> str:
    exchange = getattr(target, "exchange", None)
    if not exchange:
        conf = getattr(transport, "conf", None)
        exchange = getattr(conf, "control_exchange", None) if conf is not None else None
    where = str(getattr(target, "topic", None) or "")
    server = getattr(target, "server", None)
    if server:
        where += "." + str(server)
    return "%s://%s/%s" % (_scheme(transport), exchange or "", where)


def _json_bytes(value: Any) -> Optional[bytes]:
    try:
        return json.dumps(value, default=str, sort_keys=True).encode("utf-8")
    except Exception:
        return None


def _wrap_send(original: Any) -> Any:
    @functools.wraps(original)
    def _send(
        self: Any, target: Any, ctxt: Any, message: Any, wait_for_reply: Any = None, *args: Any, **kw: Any
    ) -> Any:
        parent = context.current_span()
        if parent is None or not isinstance(ctxt, dict) or not isinstance(message, dict):
            return original(self, target, ctxt, message, wait_for_reply, *args, **kw)
        try:
            recorder = get_recorder()
            if not recorder.enabled:
                return original(self, target, ctxt, message, wait_for_reply, *args, **kw)
            span_id = new_span_id()
            if recorder.propagate:
                # NOTE: a copy: the caller's dict is not ours to change.
                ctxt = dict(ctxt)
                ctxt[CONTEXT_KEY] = context.format_traceparent(parent.trace_id, span_id)
            start, t0 = time.time(), time.perf_counter()
        except Exception as exc:
            report_fault("the RPC hook", exc)
            return original(self, target, ctxt, message, wait_for_reply, *args, **kw)
        result: Any = None
        error: Optional[BaseException] = None
        try:
            result = original(self, target, ctxt, message, wait_for_reply, *args, **kw)
            return result
        except BaseException as exc:
            error = exc
            raise
        finally:
            try:
                _record_send(recorder, target, self, ctxt, message, bool(wait_for_reply), parent,
                             span_id, start, time.perf_counter() - t0, result, error)  # fmt: skip
            except Exception as exc:
                report_fault("the RPC hook", exc)

    return _send


def _record_send(
    recorder: Any,
    target: Any,
    transport: Any,
    ctxt: Dict[str, Any],
    message: Dict[str, Any],
    is_call: bool,
    parent: context.SpanContext,
    span_id: str,
    start: float,
    duration: float,
    result: Any,
    error: Optional[BaseException],
) -> None:
    fanout = bool(getattr(target, "fanout", False))
    attributes: Dict[str, Any] = {
        "system": _scheme(transport),
        "exchange": getattr(target, "exchange", None),
        "topic": getattr(target, "topic", None),
        "server": getattr(target, "server", None),
        "fanout": fanout,
        "version": message.get("version"),
        "namespace": message.get("namespace"),
    }
    if is_call and error is None:
        reply = _json_bytes(result)
        attributes["reply_type"] = type(result).__name__
        attributes["reply_size"] = len(reply) if reply is not None else None
    url = _target_url(transport, target)
    topic = str(getattr(target, "topic", None) or "?")
    call = Call(
        run_id="",
        method=str(message.get("method") or "?"),
        url=url,
        # NOTE: who is called is the topic's service (``conductor``, ``scheduler``, ``compute``):
        # named here, as no catalog names a message bus.
        peer=Peer(service_type="rpc", service_name=topic),
        path_template=url.split("://", 1)[1],
        start=start,
        trace_id=parent.trace_id,
        span_id=span_id,
        parent_span_id=parent.span_id,
        side=CLIENT,
        thread=threading.current_thread().name,
        duration=duration,
        request_headers=list(_JSON),
        request_body=Body(content_type="application/json"),
        request_id=_text(ctxt.get("request_id")),
        global_request_id=_text(ctxt.get("global_request_id")),
        kind=KIND_RPC_CALL if is_call else KIND_RPC_CAST,
        attributes=_present(attributes),
    )
    _note_error(call, error)
    recorder.submit(call, request_bytes=_json_bytes(message.get("args", {})))


def _note_error(call: Call, error: Optional[BaseException]) -> None:
    """The exception a send or a handler raised (for a call: the remote one), on its record."""
    if error is not None:
        call.error_type = type(error).__name__
        call.error_message = str(error)[:500]


def _present(facts: Dict[str, Any]) -> Dict[str, Any]:
    """The facts that are known (attributes keep no ``None``)."""
    return {k: v for k, v in facts.items() if v is not None}


def _text(value: Any) -> Optional[str]:
    return value if isinstance(value, str) and value else None


def _wrap_dispatch(original: Any) -> Any:
    @functools.wraps(original)
    def _do_dispatch(self: Any, endpoint: Any, method: Any, ctxt: Any, args: Any) -> Any:
        try:
            raw = ctxt.pop(CONTEXT_KEY, None) if isinstance(ctxt, dict) else None
            parent = context.parse_traceparent(raw) if isinstance(raw, str) else None
            recorder = get_recorder() if parent is not None else None
            if parent is None or recorder is None or not recorder.enabled:
                return original(self, endpoint, method, ctxt, args)
            span_id = new_span_id()
            token = context.set_current_span(parent.trace_id, span_id)
            start, t0 = time.time(), time.perf_counter()
        except Exception as exc:
            report_fault("the RPC hook", exc)
            return original(self, endpoint, method, ctxt, args)
        error: Optional[BaseException] = None
        try:
            return original(self, endpoint, method, ctxt, args)
        except BaseException as exc:
            error = exc
            raise
        finally:
            context.reset_current_span(token)
            try:
                _record_dispatch(recorder, endpoint, str(method), ctxt, parent, span_id, start,
                                 time.perf_counter() - t0, error)  # fmt: skip
            except Exception as exc:
                report_fault("the RPC hook", exc)

    return _do_dispatch


def _real_endpoint(endpoint: Any, method: str) -> Any:
    """The object that defines ``method``: nova wraps its managers (``_TrackingEndpointWrapper``
    keeps the real one in ``_endpoint``) to track in-progress tasks."""
    for _ in range(4):
        inner = getattr(endpoint, "_endpoint", None) or getattr(endpoint, "endpoint", None)
        if inner is None or not hasattr(inner, method):
            break
        endpoint = inner
    return endpoint


def _record_dispatch(
    recorder: Any,
    endpoint: Any,
    method: str,
    ctxt: Any,
    parent: context.SpanContext,
    span_id: str,
    start: float,
    duration: float,
    error: Optional[BaseException],
) -> None:
    target = getattr(endpoint, "target", None)
    endpoint = _real_endpoint(endpoint, method)
    handler = "%s.%s" % (type(endpoint).__name__, method)
    service = getattr(recorder, "service", None) or "rpc"
    ctxt = ctxt if isinstance(ctxt, dict) else {}
    call = Call(
        run_id="",
        method=method,
        url="rpc://%s/%s" % (service, handler),
        start=start,
        trace_id=parent.trace_id,
        span_id=span_id,
        parent_span_id=parent.span_id,
        side=SERVER,
        thread=threading.current_thread().name,
        duration=duration,
        handler=handler,
        app=type(endpoint).__module__,
        request_id=_text(ctxt.get("request_id")),
        global_request_id=_text(ctxt.get("global_request_id")),
        path_template=handler,
        kind=KIND_RPC_SERVER,
        attributes=_present(
            {"namespace": getattr(target, "namespace", None), "version": getattr(target, "version", None)}
        ),
    )
    _note_error(call, error)
    call.call_site = handler_site(getattr(endpoint, method, None))
    recorder.submit(call)


def patch_transport(module: ModuleType) -> None:
    """Wrap ``Transport._send`` once."""
    transport = getattr(module, "Transport", None)
    if transport is None or getattr(transport, _MARK, False):
        return
    transport._send = _wrap_send(transport._send)
    setattr(transport, _MARK, True)


def patch_dispatcher(module: ModuleType) -> None:
    """Wrap ``RPCDispatcher._do_dispatch`` once."""
    dispatcher = getattr(module, "RPCDispatcher", None)
    if dispatcher is None or getattr(dispatcher, _MARK, False):
        return
    dispatcher._do_dispatch = _wrap_dispatch(dispatcher._do_dispatch)
    setattr(dispatcher, _MARK, True)
