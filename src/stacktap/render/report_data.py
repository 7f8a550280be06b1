"""What the HTML report knows about each call, as plain JSON-able dicts.

The report embeds these as one ``<script type="application/json">`` blob and builds a
call's detail view only when it is expanded, so a run of thousands of calls opens fast.
Bodies stay as stored (already redacted); the browser pretty-prints JSON on expand.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from stacktap.model import BODY_NONE, Body, Call, CallSite
from stacktap.render.curl import ShellVariables, body_note, curl_command
from stacktap.render.sequence import request_text, response_text, service_name
from stacktap.store.trace import Trace, service_label


def call_service(call: Call) -> str:
    """The service a waterfall row is coloured by: the peer for a client call, the
    service itself for a server record (so ``glance`` and ``glance-api`` share a colour)."""
    if call.side == "server":
        return service_name(call.local_service or service_label(call))
    return service_label(call)


def curl_line(call: Call, variables: ShellVariables | None = None) -> str:
    """The call as a runnable ``curl`` line (secrets as shell variables, shared across a run
    through ``variables``), preceded by the note on a body that was not kept, if any."""
    note = body_note(call)
    command = curl_command(call, variables)
    return f"{note}\n{command}" if note else command


def _body(body: Body) -> dict[str, Any] | None:
    if body.kind == BODY_NONE and not body.size:
        return None
    return {
        "kind": body.kind,
        "text": body.text,
        "type": body.content_type,
        "size": body.size,
        "sha256": body.sha256,
        "truncated": body.truncated,
    }


def _error(call: Call) -> str | None:
    if not call.error_type:
        return None
    return f"{call.error_type}: {call.error_message}" if call.error_message else call.error_type


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000.0, 3)


def source_links(site: CallSite | None) -> dict[str, str] | None:
    """Links that open ``site`` in an editor: VS Code's URL handler (``vscode://file/PATH:LINE``)
    and a plain ``file:`` URL (any browser or file manager)."""
    if site is None or not site.file.startswith("/"):
        return None  # NOTE: a relative or ``<string>`` file name leads nowhere
    path = quote(site.file)
    return {"vscode": f"vscode://file{path}:{site.line}", "file": f"file://{path}"}


def call_detail(
    call: Call, base: float, depth: int, variables: ShellVariables | None = None
) -> dict[str, Any]:
    """Everything the detail view of one call shows."""
    site = call.call_site
    return {
        "seq": call.seq,
        "span": call.span_id,
        "parent": call.parent_span_id,
        "trace": call.trace_id,
        "side": call.side,
        "depth": depth,
        "service": call_service(call),
        "peer": {
            "type": call.peer.service_type,
            "name": call.peer.service_name,
            "interface": call.peer.interface,
            "region": call.peer.region,
            "endpoint": call.peer.endpoint,
        },
        "process": {
            "name": call.process_name,
            "pid": call.pid,
            "service": call.local_service,
            "host": call.host,
            "thread": call.thread,
        },
        "request": request_text(call),
        "response": response_text(call),
        "method": call.method,
        "url": call.url,
        "status": call.status,
        "reason": call.reason,
        "offset_ms": _ms(call.start - base),
        "ttfb_ms": _ms(call.time_to_headers),
        "duration_ms": _ms(call.duration),
        "request_headers": [list(h) for h in call.request_headers],
        "response_headers": [list(h) for h in call.response_headers],
        "request_body": _body(call.request_body),
        "response_body": _body(call.response_body),
        "request_id": call.request_id,
        "global_request_id": call.global_request_id,
        "call_site": site.label if site else None,
        "call_site_at": f"{site.file}:{site.line}" if site else None,
        "source_links": source_links(site),
        "stack": list(call.stack),
        "error": _error(call),
        "handler": call.handler,
        "app": call.app,
        "layers": [
            {
                "order": layer.order,
                "name": layer.name,
                "factory": layer.factory,
                "enter_ms": _ms(layer.enter_offset),
                "exit_ms": _ms(layer.exit_offset),
                "answered": layer.answered,
                "status": layer.status,
            }
            for layer in sorted(call.layers, key=lambda item: item.order)
        ],
        "policy": [
            {
                "rule": check.rule,
                "result": check.result,
                "error": check.error,
                "check": check.check,
                "roles": [str(role) for role in check.creds.get("roles") or []],
                "at_ms": _ms(check.offset),
                "duration_ms": _ms(check.duration),
                "count": check.count,
            }
            for check in call.policy_checks
        ],
        "denied_by": call.denied_by.rule if call.denied_by is not None else None,
        "curl": curl_line(call, variables) if call.side == "client" else None,
    }


def script_json(data: Any) -> str:
    """JSON that is safe inside ``<script type="application/json">``: no ``<``, ``>`` or
    ``&`` survive (``</script>`` in a body cannot end the element), yet it parses the same."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def trace_details(trace: Trace, calls: list[Call], base: float) -> list[dict[str, Any]]:
    """``call_detail`` of ``calls`` (the waterfall's order)."""
    variables = ShellVariables()
    return [call_detail(call, base, trace.depth(call), variables) for call in calls]
