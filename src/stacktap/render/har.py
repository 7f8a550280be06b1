"""HAR 1.2 export: a run as the HTTP Archive that browsers' devtools, mitmproxy and HAR
viewers read.

The run is the one page; each client-side call is an entry (the command's own calls and
the calls services made while serving them). The server-side record of a call is not an
entry of its own — it is the same exchange seen from the other end — so its handler and
middleware layers go into the client entry's ``_stacktap.server``. Custom fields start
with ``_`` as the HAR spec allows.

Bodies are stored redacted; streamed and binary bodies were never kept, so their entries
carry the size only, with a comment saying why there is no text. Header sizes are ``-1``
(unknown: stacktap stores headers redacted, not their wire bytes).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from stacktap import __version__
from stacktap.model import (
    BODY_BINARY,
    BODY_NONE,
    BODY_REDACTED,
    BODY_STREAM,
    BODY_UNREAD,
    CLIENT,
    KIND_HTTP,
    SERVER,
    Body,
    Call,
    Headers,
)
from stacktap.store.trace import Trace, service_label

HAR_VERSION = "1.2"
HTTP_VERSION = "HTTP/1.1"

# NOTE: characters a URI may hold (RFC 3986) plus "%" so existing escapes survive; anything
# else (the braces of a redaction mark, spaces) is percent-encoded so the url is a valid uri.
_URI_SAFE = ":/?#[]@!$&'()*+,;=-._~%"


def har_document(trace: Trace) -> dict[str, Any]:
    """The HAR 1.2 ``{"log": ...}`` dict of a trace."""
    run = trace.run
    server_of = {c.parent_span_id: c for c in trace.calls if c.side == SERVER and c.parent_span_id}
    entries = [
        _entry(call, server_of.get(call.span_id), run.id)
        for call in trace.calls
        if call.side == CLIENT and call.kind == KIND_HTTP
    ]
    clients = [c for c in trace.calls if c.side == CLIENT]
    on_load = (max(c.end for c in clients) - run.started) * 1000.0 if clients and run.started else -1
    title = run.label or " ".join(run.argv) or run.id
    return {
        "log": {
            "version": HAR_VERSION,
            "creator": {"name": "stacktap", "version": __version__},
            "pages": [
                {
                    "startedDateTime": _iso(run.started or (clients[0].start if clients else 0.0)),
                    "id": run.id,
                    "title": title,
                    "pageTimings": {"onContentLoad": -1, "onLoad": round(max(on_load, -1), 3)},
                    "_stacktap": {"kind": run.kind, "argv": run.argv, "exit_code": run.exit_code},
                }
            ],
            "entries": entries,
            "comment": "Recorded by stacktap; secrets are redacted as {SHA256}<16 hex>.",
        }
    }


def render_har(trace: Trace) -> str:
    """The trace as HAR 1.2 JSON text."""
    return json.dumps(har_document(trace), indent=2, ensure_ascii=False) + "\n"


def _iso(epoch: float) -> str:
    """``2023-11-14T22:13:20.250Z``: what HAR's startedDateTime pattern wants."""
    stamp = datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def _ms(seconds: float | None) -> float:
    return round(max(seconds or 0.0, 0.0) * 1000.0, 3)


def _timings(call: Call) -> dict[str, float]:
    """send/wait/receive in ms. stacktap measures time to headers and time to the body's end;
    the request is sent inside "wait" (send is 0), the body arrives in "receive"."""
    wait = call.time_to_headers if call.time_to_headers is not None else call.duration
    total = call.duration if call.duration is not None else wait
    wait_ms = _ms(wait)
    return {"send": 0.0, "wait": wait_ms, "receive": round(max(_ms(total) - wait_ms, 0.0), 3)}


def _entry(call: Call, served: Call | None, page: str) -> dict[str, Any]:
    timings = _timings(call)
    entry: dict[str, Any] = {
        "pageref": page,
        "startedDateTime": _iso(call.start),
        "time": round(timings["send"] + timings["wait"] + timings["receive"], 3),
        "request": _request(call),
        "response": _response(call),
        "cache": {},
        "timings": timings,
        "_stacktap": _custom(call, served),
    }
    if call.failed:
        entry["comment"] = "failed: {}: {}".format(call.error_type, call.error_message or "")
    return entry


def _headers(headers: Headers) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in headers]


def _mime(body: Body, headers: Headers) -> str:
    if body.content_type:
        return body.content_type
    for name, value in headers:
        if name.lower() == "content-type":
            return value
    return ""


def _body_size(body: Body) -> int:
    if body.kind == BODY_NONE:
        return 0
    if body.size is not None:
        return body.size
    return len(body.text.encode("utf-8")) if body.text is not None else -1


def body_comment(body: Body) -> str | None:
    """Why a body has no (or partial) text, or None when the text is all there."""
    digest = f" sha256 {body.sha256}" if body.sha256 else ""
    if body.kind == BODY_STREAM:
        return f"streamed body, not kept: {_size_text(body)} bytes{digest}"
    if body.kind == BODY_BINARY:
        return f"binary body, not kept: {_size_text(body)} bytes{digest}"
    if body.kind == BODY_UNREAD:
        return "body not read by the program"
    if body.kind == BODY_REDACTED:
        return "body replaced whole by a redaction mark (unparsable, might hold a secret)"
    if body.truncated:
        return f"body text truncated; {_size_text(body)} bytes in all{digest}"
    return None


def _size_text(body: Body) -> str:
    return "?" if body.size is None else str(body.size)


def _has_text(body: Body) -> bool:
    return body.text is not None and body.kind not in (BODY_STREAM, BODY_BINARY, BODY_NONE)


def _request(call: Call) -> dict[str, Any]:
    body = call.request_body
    request: dict[str, Any] = {
        "method": call.method,
        "url": quote(call.url, safe=_URI_SAFE),
        "httpVersion": HTTP_VERSION,
        "cookies": [],
        "headers": _headers(call.request_headers),
        "queryString": [
            {"name": name, "value": value}
            for name, value in parse_qsl(urlsplit(call.url).query, keep_blank_values=True)
        ],
        "headersSize": -1,
        "bodySize": _body_size(body),
    }
    if body.kind != BODY_NONE:
        post: dict[str, Any] = {"mimeType": _mime(body, call.request_headers)}
        post["text"] = body.text if _has_text(body) and body.text is not None else ""
        comment = body_comment(body)
        if comment:
            post["comment"] = comment
        request["postData"] = post
    return request


def _response(call: Call) -> dict[str, Any]:
    body = call.response_body
    content: dict[str, Any] = {
        "size": max(_body_size(body), 0),
        "mimeType": _mime(body, call.response_headers),
    }
    if _has_text(body):
        content["text"] = body.text
    comment = body_comment(body)
    if comment:
        content["comment"] = comment
    response: dict[str, Any] = {
        # NOTE: HAR uses status 0 for a request that got no response (refused, timed out).
        "status": call.status or 0,
        "statusText": call.reason or "",
        "httpVersion": HTTP_VERSION,
        "cookies": [],
        "headers": _headers(call.response_headers),
        "content": content,
        "redirectURL": call.header("location") or "",
        "headersSize": -1,
        "bodySize": _body_size(body) if call.status is not None else -1,
    }
    return response


def _custom(call: Call, served: Call | None) -> dict[str, Any]:
    """stacktap's own fields: who called whom, from where, with which ids."""
    site = call.call_site
    custom: dict[str, Any] = {
        "service": service_label(call),
        "service_type": call.peer.service_type,
        "path_template": call.path_template,
        "call_site": site.label if site else None,
        "call_site_file": site.file if site else None,
        "call_site_line": site.line if site else None,
        "request_id": call.request_id,
        "global_request_id": call.global_request_id,
        "trace_id": call.trace_id,
        "span_id": call.span_id,
        "parent_span_id": call.parent_span_id,
        "process": call.process_name,
        "pid": call.pid,
        "local_service": call.local_service,
    }
    if call.failed:
        custom["error"] = {"type": call.error_type, "message": call.error_message}
    if served is not None:
        custom["server"] = {
            "span_id": served.span_id,
            "service": served.local_service,
            "handler": served.handler,
            "app": served.app,
            "status": served.status,
            "duration_ms": _ms(served.duration),
            "layers": [
                {
                    "name": layer.name,
                    "factory": layer.factory,
                    "enter_ms": _ms(layer.enter_offset),
                    "exit_ms": None if layer.exit_offset is None else _ms(layer.exit_offset),
                    "answered": layer.answered,
                    "status": layer.status,
                }
                for layer in served.layers
            ],
        }
    return custom
