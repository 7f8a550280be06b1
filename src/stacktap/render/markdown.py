"""Markdown export: one MkDocs page per run, to drop into a team's docs.

Layout: the run summary, the Mermaid sequence diagram (when ``stacktap.render.mermaid``
is installed), a table of calls, then one section per client call
(``## [3] GET /v2/images — glance — 200``) with MkDocs Material content tabs
``=== "Request"`` / ``=== "Response"`` holding the headers and the pretty body in
indented fenced blocks. Needs the ``pymdownx.tabbed`` (alternate_style) and
``pymdownx.superfences`` (with the mermaid custom fence) extensions, as Material's own
docs set them up. Calls are numbered as ``stacktap log`` and ``show`` number them.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from urllib.parse import urlsplit

from stacktap.model import BODY_BINARY, BODY_JSON, BODY_NONE, BODY_STREAM, CLIENT, SERVER, Body, Call, Headers
from stacktap.render.calls import status_text
from stacktap.render.har import body_comment
from stacktap.store.trace import Trace, service_label

_INDENT = "    "
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def render_markdown(trace: Trace) -> str:
    """The trace as an MkDocs-friendly Markdown page."""
    run = trace.run
    clients = [c for c in trace.calls if c.side == CLIENT]
    server_of = {c.parent_span_id: c for c in trace.calls if c.side == SERVER and c.parent_span_id}
    title = run.label or " ".join(run.argv) or run.id
    out: list[str] = [f"# {_escape(title)}", ""]
    out += _summary(trace, clients)
    diagram = _mermaid(trace)
    if diagram:
        out += ["## Sequence", "", "```mermaid", diagram.rstrip("\n"), "```", ""]
    out += _call_table(clients)
    for number, call in enumerate(clients, 1):
        out += _call_section(call, call.seq or number, server_of.get(call.span_id))
    return "\n".join(out).rstrip("\n") + "\n"


def _escape(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", text)


def _code(text: str) -> str:
    """Inline code that survives backticks in ``text``."""
    fence = "``" if "`" in text else "`"
    return "{}{}{}".format(fence, text.replace("\n", " "), fence)


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _ms(seconds: float | None) -> str:
    return "" if seconds is None else "%.1f" % (seconds * 1000.0)


def _outcome(call: Call) -> str:
    text = status_text(call)
    return "no response" if text == "-" else text


def _summary(trace: Trace, clients: list[Call]) -> list[str]:
    run = trace.run
    failed = sum(1 for c in clients if c.failed or (c.status or 0) >= 400)
    rows = [
        ("Run", _code(run.id)),
        ("Command", _code(" ".join(run.argv)) if run.argv else ""),
        ("Started", _when(run.started) if run.started else ""),
        ("Duration", f"{_ms(run.ended - run.started)} ms" if run.ended and run.started else ""),
        ("Exit code", "" if run.exit_code is None else str(run.exit_code)),
        ("Calls", f"{len(clients)} ({failed} failed or 4xx/5xx)"),
        ("Services", ", ".join(_escape(s) for s in trace.services)),
    ]
    out = ["| | |", "|---|---|"]
    out += [f"| {name} | {value} |" for name, value in rows if value]
    return [*out, ""]


def _mermaid(trace: Trace) -> str | None:
    """The diagram from ``stacktap.render.mermaid.render_mermaid``, or None when that
    renderer is not there (it is optional for this page)."""
    try:
        from stacktap.render import mermaid
    except ImportError:
        return None
    render = getattr(mermaid, "render_mermaid", None)
    if render is None:
        return None
    text = render(trace)
    return text if isinstance(text, str) and text.strip() else None


def _call_table(clients: list[Call]) -> list[str]:
    out = ["## Calls", "", "| # | Method | Path | Service | Status | ms |", "|---:|---|---|---|---|---:|"]
    for number, call in enumerate(clients, 1):
        out.append(
            "| {} | {} | {} | {} | {} | {} |".format(
                call.seq or number,
                call.method,
                _code(call.path_template or urlsplit(call.url).path or "/"),
                _escape(service_label(call)),
                _escape(_outcome(call)),
                _ms(call.duration),
            )
        )
    return [*out, ""]


def _call_section(call: Call, number: int, served: Call | None) -> list[str]:
    path = urlsplit(call.url).path or "/"
    heading = " — ".join(
        [f"{call.method} {_escape(path)}", _escape(service_label(call)), _escape(_outcome(call))]
    )
    out = [f"## [{number}] {heading}", ""]
    facts = [_code(f"{call.method} {call.url}")]
    if call.duration is not None:
        facts.append(f"{_ms(call.duration)} ms")
    if call.request_id:
        facts.append(f"request id {_code(call.request_id)}")
    if call.call_site:
        site = call.call_site
        facts.append("from " + _code(f"{site.label} (line {site.line})"))
    if call.local_service:
        facts.append(f"made by {_escape(call.local_service)}")
    out += [" · ".join(facts), ""]
    if call.failed:
        out += [
            '!!! failure "%s"' % (call.error_type or "error"),
            "",
            _INDENT + _escape(call.error_message or ""),
            "",
        ]
    if served is not None:
        out += [_served_line(served), ""]
    # NOTE: "HTTP/1.1" makes the heads valid HTTP for Pygments' http lexer (MkDocs highlights).
    request_head = f"{call.method} {call.url} HTTP/1.1"
    out += _tab("Request", request_head, call.request_headers, call.request_body)
    if call.status is not None:
        response_head = ("HTTP/1.1 {} {}".format(call.status, call.reason or "")).strip()
        out += _tab("Response", response_head, call.response_headers, call.response_body)
    return out


def _served_line(served: Call) -> str:
    layers = " → ".join(layer.name + (" (answered)" if layer.answered else "") for layer in served.layers)
    text = "Served by {}".format(_escape(served.local_service or "the service"))
    if served.handler:
        text += f" in {_code(served.handler)}"
    if layers:
        text += f", through {_escape(layers)}"
    return text + "."


def _tab(name: str, head: str, headers: Headers, body: Body) -> list[str]:
    out = [f'=== "{name}"', ""]
    head_text = "\n".join([head] + [f"{k}: {v}" for k, v in headers])
    out += _fenced("http", head_text)
    if body.kind != BODY_NONE:
        comment = body_comment(body)
        if body.text is not None and body.kind not in (BODY_STREAM, BODY_BINARY):
            language, text = _pretty(body)
            out += _fenced(language, text)
        if comment:
            out += [_INDENT + f"*{_escape(comment)}*", ""]
    return out


def _pretty(body: Body) -> tuple[str, str]:
    text = body.text or ""
    if body.kind == BODY_JSON:
        try:
            return "json", json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except ValueError:
            return "text", text
    return "text", text


def _fenced(language: str, text: str) -> list[str]:
    """A fenced block indented into a tab; the fence outgrows any backtick run in ``text``."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    lines = [fence + language, *text.splitlines(), fence]
    return [(_INDENT + line) if line else "" for line in lines] + [""]
