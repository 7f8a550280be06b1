"""The self-contained HTML report of a run: one file that opens offline.

Sections: the run summary, the sequence diagram as inline SVG (drawn in Python from the
same model as the Mermaid output), a waterfall of every call (bars by offset and duration,
coloured by service, server-side records indented under the call they served), then the RPC
messages and the database statements when the run has any (:mod:`~stacktap.render.report_sections`).
Each waterfall row is a ``<details>``; its content (headers, bodies, call site and stack,
layers with timing, curl line) is built by the inline script from a JSON blob only when
the row is opened, so runs of thousands of calls stay fast to open.

Nothing is fetched: CSS, JS and SVG are inline, and a Content-Security-Policy allows no
network at all and only the report's own script (by hash). Every text is escaped.
"""

from __future__ import annotations

import base64
import hashlib
import shlex
import time
from html import escape
from pathlib import Path

from stacktap.model import Call
from stacktap.render.calls import status_text
from stacktap.render.mermaid import sequence_to_mermaid
from stacktap.render.report_data import call_service, script_json, trace_details
from stacktap.render.report_sections import db_section, rpc_section
from stacktap.render.sequence import SequenceDiagram, build_sequence, request_text, response_text
from stacktap.render.sequence_svg import sequence_svg
from stacktap.store.trace import Trace

#: Calls drawn in the report's sequence diagram; bigger runs get a cut diagram and a note.
DIAGRAM_LIMIT = 200

#: Service colours (colour-blind friendly first), reused in order of first appearance.
PALETTE = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948",
    "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#1f77b4", "#8c564b",
]  # fmt: skip

_ASSETS = Path(__file__).parent / "assets"


def _asset(name: str) -> str:
    return (_ASSETS / name).read_text(encoding="utf-8")


def service_colors(calls: list[Call]) -> dict[str, str]:
    """A colour per service, in order of first appearance."""
    colors: dict[str, str] = {}
    for call in calls:
        name = call_service(call)
        if name not in colors:
            colors[name] = PALETTE[len(colors) % len(PALETTE)]
    return colors


def render_report(trace: Trace, diagram_limit: int = DIAGRAM_LIMIT) -> str:
    """The report of ``trace`` as one HTML document."""
    calls = trace.walk()
    colors = service_colors(calls)
    base, span = _time_frame(trace)
    script = _asset("report.js")
    script_hash = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    diagram = build_sequence(trace, limit=diagram_limit)
    parts = [
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        # NOTE: nothing may be fetched (the report must open offline, and a body could
        # carry markup): no network for any kind of resource, only our own script runs.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        f"img-src data:; style-src 'unsafe-inline'; script-src 'sha256-{script_hash}'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',
        f"<title>stacktap: {escape(_command(trace))}</title>",
        "<style>{}{}</style>".format(_asset("report.css"), _color_css(colors)),
        "</head><body>",
        _summary(trace, calls, colors),
        _diagram_section(diagram, colors, diagram_limit),
        _waterfall(trace, calls, colors, base, span),
        rpc_section(trace),
        db_section(trace),
        '<script type="application/json" id="calls-data">',
        script_json(trace_details(trace, calls, base)),
        "</script>",
        f"<script>{script}</script>",
        "</body></html>\n",
    ]
    return "".join(parts)


def _command(trace: Trace) -> str:
    run = trace.run
    if run.argv:
        return shlex.join(run.argv)
    return run.label or run.id


def _time_frame(trace: Trace) -> tuple[float, float]:
    """(time zero, total length) of the waterfall, in epoch seconds and seconds."""
    if not trace.calls:
        return trace.run.started, 1.0
    first = min(call.start for call in trace.calls)
    base = trace.run.started if 0 < trace.run.started <= first else first
    end = max([call.end for call in trace.calls] + [trace.run.ended or 0.0])
    return base, max(end - base, 1e-6)


def _color_css(colors: dict[str, str]) -> str:
    return "".join(f".c{i}{{--svc:{color}}}" for i, color in enumerate(colors.values()))


def _color_class(colors: dict[str, str], name: str) -> str:
    return f"c{list(colors).index(name)}" if name in colors else ""


def _summary(trace: Trace, calls: list[Call], colors: dict[str, str]) -> str:
    run = trace.run
    duration = f"{run.ended - run.started:.3f} s" if run.ended and run.started else "-"
    client = [c for c in calls if c.side == "client"]
    failed = [c for c in calls if c.failed or (c.status is not None and c.status >= 400)]
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run.started)) if run.started else "-"
    chips = "".join(
        f'<span class="chip {_color_class(colors, name)}">{escape(name)}</span>' for name in colors
    )
    label = " &mdash; " + escape(run.label) if run.label and run.argv else ""
    rows = [
        ("Command", f'<code class="cmd">{escape(_command(trace))}</code>'),
        ("Run", f"{escape(run.id)} ({escape(run.kind)}){label}"),
        ("Exit code", escape("-" if run.exit_code is None else str(run.exit_code))),
        ("Started", f"{escape(started)} on {escape(run.host or '?')} as {escape(run.user or '?')}"),
        ("Duration", escape(duration)),
        ("Calls", f"{len(calls)} ({len(client)} client, {len(calls) - len(client)} server side,"
                  f" {len(failed)} failed)"),
        ("Services", chips or "-"),
    ]
    body = "".join("<tr><th>{}</th><td>{}</td></tr>".format(*row) for row in rows)
    return (
        '<header><h1>stacktap <span class="sub">what the command did on the wire</span></h1>'
        f'<table class="summary" id="summary">{body}</table></header>'
    )


def _diagram_section(diagram: SequenceDiagram, colors: dict[str, str], limit: int) -> str:
    cut = diagram.calls_drawn < diagram.calls_total
    note = ""
    if cut:
        note = (
            f'<p class="note">This run has {diagram.calls_total} calls: the diagram draws the first'
            f" {diagram.calls_drawn} (limit {limit}). The waterfall below lists every call.</p>"
        )
    svg = sequence_svg(diagram, colors)
    mermaid = sequence_to_mermaid(diagram)
    # NOTE: a cut diagram of a big run starts folded: it is long and the waterfall is
    # what such a run needs first.
    return (
        '<section id="diagram-section"><details class="diagram"{}><summary><h2>Sequence diagram</h2>'
        "</summary>{}<div class=\"svgwrap\">{}</div>"
        '<details class="mermaid-src"><summary>Mermaid source</summary><pre>{}</pre></details>'
        "</details></section>".format("" if cut else " open", note, svg, escape(mermaid))
    )


def _waterfall(trace: Trace, calls: list[Call], colors: dict[str, str], base: float, span: float) -> str:
    rows = []
    for index, call in enumerate(calls):
        depth = trace.depth(call)
        service = call_service(call)
        left = (call.start - base) / span * 100.0
        width = max((call.end - call.start) / span * 100.0, 0.15)
        status = status_text(call)
        state = "err" if call.failed or (call.status or 0) >= 400 else "ok"
        if call.side == "server":
            handler = call.handler or request_text(call)
            what = f"{escape(call.local_service or service)} &#8592; {escape(handler)}"
        else:
            what = escape(request_text(call))
        if depth:
            what = "&#8627; " + what  # ↳: made while serving the call above
        duration = f"{call.duration * 1000:.1f} ms" if call.duration is not None else "-"
        number = call.seq if call.seq is not None else index + 1
        color = _color_class(colors, service)
        left = min(left, 100.0)
        width = min(width, 100.0 - min(left, 99.85))
        rows.append(
            f'<details class="call {escape(call.side)} {state}" id="call-{number}" data-i="{index}"'
            f' data-span="{escape(call.span_id)}"><summary><span class="seq">{number}</span>'
            f'<span class="what" style="padding-left:{depth * 22}px"><span class="chip {color}">'
            f"{escape(service)}</span> {what}</span>"
            f'<span class="status {state}" title="{escape(response_text(call))}">{escape(str(status))}</span>'
            f'<span class="dur">{escape(duration)}</span><span class="track"><span class="bar {color}"'
            f' style="left:{left:.3f}%;width:{width:.3f}%"></span></span>'
            '</summary><div class="detail"></div></details>'
        )
    return (
        '<section id="waterfall-section"><h2>Calls</h2>'
        '<div class="tools"><input id="filter" type="search" placeholder="filter calls (text in the row)">'
        '<span class="scale">0 ms</span><span class="scale right">{:.1f} ms</span></div>'
        '<div class="waterfall" id="waterfall">{}</div></section>'.format(span * 1000.0, "".join(rows))
    )
