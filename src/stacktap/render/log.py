"""The classic request/response dump, as home-made ``HTTPAdapter.send`` hooks print it::

    # [3] trove (database) | troveclient/v1/instances.py:Instances.list | +120.5 ms, took 35.2 ms
    ----- REQUEST [3] ------------------------------
    GET http://10.0.0.5:8779/v1.0/<project>/instances
    X-Auth-Token: {SHA256}5d41402abc4b2a76
    DATA={}
    ----- RESPONSE [3] -----------------------------
    200 OK http://10.0.0.5:8779/v1.0/<project>/instances
    Content-Type: application/json
    DATA={ ...pretty JSON... }
    ----- END OF REQUEST [3] -----------------------

The ``#`` line is stacktap's addition (who was called, from where, when, request id); the
classic lines below it are unchanged so existing greps keep working. A call that failed
without a response gets an ``----- ERROR [n] ---`` block instead of the response.
"""

from __future__ import annotations

from collections.abc import Sequence

from stacktap.model import SERVER, Call
from stacktap.render.body_text import body_text, has_body
from stacktap.render.calls import format_ms, offset_ms, pick_calls
from stacktap.store.trace import Trace, service_label

RULE_WIDTH = 48


def rule(title: str, number: int | None) -> str:
    """``----- TITLE [n] -------...`` padded with dashes to ``RULE_WIDTH``."""
    head = "----- {} [{}] ".format(title, "?" if number is None else number)
    return head + "-" * max(3, RULE_WIDTH - len(head))


def comment_line(trace: Trace, call: Call) -> str:
    """The ``# [n] ...`` line: service, where the call came from, timing, request id."""
    if call.side == SERVER:
        who = f"{call.local_service or service_label(call)} (server side)"
        where = ", ".join(
            part
            for part in (call.handler or call.app, f"{len(call.layers)} layers" if call.layers else "")
            if part
        )
    else:
        label = service_label(call)
        kind = call.peer.service_type
        who = f"{label} ({kind})" if kind and kind != label else label
        if call.local_service:
            who = f"{call.local_service} -> {who}"
        where = call.call_site.label if call.call_site else ""
    parts = [f"# [{call.seq}] {who}"]
    if where:
        parts.append(where)
    parts.append(f"+{format_ms(offset_ms(trace, call) / 1000.0)} ms, took {format_ms(call.duration)} ms")
    if call.request_id:
        parts.append(f"request id {call.request_id}")
    return " | ".join(parts)


def _data(text: str) -> str:
    return "DATA=" + (text or "{}")


def render_call(trace: Trace, call: Call) -> str:
    """One call's block, from the ``#`` line to ``----- END OF REQUEST [n] ---``."""
    n = call.seq
    lines = [comment_line(trace, call), rule("REQUEST", n), f"{call.method} {call.url}"]
    lines += [f"{k}: {v}" for k, v in call.request_headers]
    lines.append(_data(body_text(call.request_body) if has_body(call.request_body) else ""))
    if call.status is not None:
        lines.append(rule("RESPONSE", n))
        lines.append(" ".join(str(p) for p in (call.status, call.reason or "", call.url) if p != ""))
        lines += [f"{k}: {v}" for k, v in call.response_headers]
        lines.append(_data(body_text(call.response_body) if has_body(call.response_body) else ""))
    if call.failed or call.status is None:
        lines.append(rule("ERROR", n))
        if call.failed:
            message = call.error_message or ""
            lines.append(f"{call.error_type}: {message}" if message else str(call.error_type))
        else:
            lines.append("no response recorded")
    lines.append(rule("END OF REQUEST", n))
    return "\n".join(lines)


def render_log(trace: Trace, numbers: Sequence[int] = ()) -> str:
    """The dump of calls ``numbers`` (default: every client call, in tree order)."""
    blocks = [render_call(trace, call) for call in pick_calls(trace, numbers)]
    return "\n".join(blocks) + "\n" if blocks else ""
