"""The sequence diagram drawn as SVG in Python, for the offline HTML report.

Mermaid cannot run when the report is written (no browser, no network), so this draws the
same ``SequenceDiagram`` model directly: participant boxes, dashed lifelines, activation
bars, numbered arrows with labels, notes. Text is monospace so its width can be computed
without a font engine; every text is XML-escaped; long labels are cut with ``…`` and kept
whole in a ``<title>`` tooltip.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

from stacktap.render.sequence import Arrow, Note, SequenceDiagram

CHAR_WIDTH = 7.25  # px per character of 12px monospace (DejaVu Sans Mono: 0.602 em)
FONT = "ui-monospace,SFMono-Regular,Menlo,Consolas,'DejaVu Sans Mono',monospace"
MARGIN = 16
BOX_HEIGHT = 34
ROW = 34  # an arrow: its label above the line
SELF_ROW = 46  # an arrow from a participant to itself loops down
NOTE_LINE = 16
MIN_GAP = 150
MAX_LABEL = 64  # arrow labels longer than this are cut
MAX_NOTE_LINE = 72
MAX_BOX_LABEL = 28
BAR = 5  # half the width of an activation bar

_DEFAULT_FILL = "#eef2f7"


def text_width(text: str) -> float:
    return len(text) * CHAR_WIDTH


def cut(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class _Layout:
    x: dict[str, float]
    box_width: dict[str, float]
    parts: list[str] = field(default_factory=list)  # drawn over the lifelines and bars
    bars: list[str] = field(default_factory=list)
    left: float = 0.0
    right: float = 0.0

    def widen(self, left: float, right: float) -> None:
        self.left = min(self.left, left)
        self.right = max(self.right, right)


def sequence_svg(diagram: SequenceDiagram, colors: dict[str, str] | None = None) -> str:
    """An ``<svg>`` element (no XML prolog: meant to be inlined in HTML) for ``diagram``.

    ``colors`` maps participant labels to fill colours (the report's service colours).
    Each arrow is a ``<g class="msg" data-spans="...">`` so the report can link it to its calls.
    """
    colors = colors or {}
    layout = _columns(diagram)
    y = MARGIN + BOX_HEIGHT + 24.0
    active: dict[str, list[float]] = {p.key: [] for p in diagram.participants}
    for step in diagram.steps:
        if isinstance(step, Arrow):
            y = _arrow(layout, step, y, active)
        elif isinstance(step, Note):
            y = _note(layout, step, y)
    for key, starts in active.items():  # bars left open by a cut diagram
        while starts:
            _bar(layout, key, starts.pop(), y, len(starts))
    height = y + 12 + BOX_HEIGHT + MARGIN
    heads = []
    for participant in diagram.participants:
        heads.append(_box(layout, participant.key, participant.label, MARGIN, colors.get(participant.label)))
        heads.append(_box(layout, participant.key, participant.label, y + 12, colors.get(participant.label)))
    lifelines = [
        f'<line class="lifeline" x1="{x:.1f}" y1="{MARGIN + BOX_HEIGHT:.1f}" x2="{x:.1f}" y2="{y + 12:.1f}"/>'
        for x in layout.x.values()
    ]
    left, width = layout.left - MARGIN, layout.right - layout.left + 2 * MARGIN
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" class="sequence" role="img" viewBox="{:.1f} 0 {:.1f} {:.1f}"'
        ' width="{:.0f}" height="{:.0f}" font-family="{}" font-size="12">'
        "<title>{}</title>{}{}{}{}{}</svg>".format(
            left,
            width,
            height,
            width,
            height,
            escape(FONT),
            escape(diagram.title),
            _DEFS,
            "".join(lifelines),
            "".join(layout.bars),
            "".join(layout.parts),
            "".join(heads),
        )
    )


_DEFS = (
    "<defs>"
    '<marker id="st-head" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8"'
    ' orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#333"/></marker>'
    "<style>"
    ".sequence .lifeline{stroke:#999;stroke-dasharray:4 4}"
    ".sequence .bar{fill:#fff;stroke:#555}"
    ".sequence .msg line,.sequence .msg path{stroke:#333;stroke-width:1.3;fill:none}"
    ".sequence .msg.response line,.sequence .msg.response path{stroke-dasharray:5 3}"
    ".sequence .msg.failed line{stroke:#c0392b}"
    ".sequence .msg text{fill:#111}"
    ".sequence .msg .num{fill:#333}"
    ".sequence .msg .numtext{fill:#fff;font-size:10px}"
    ".sequence .msg{cursor:pointer}"
    ".sequence .msg:hover text{fill:#0b5cad}"
    ".sequence .note rect{fill:#fff8c4;stroke:#c9b458}"
    ".sequence .note.limit rect{fill:#fde2e1;stroke:#c0392b}"
    ".sequence .head rect{stroke:#445}"
    "</style></defs>"
)


def _columns(diagram: SequenceDiagram) -> _Layout:
    """x of every lifeline: far enough apart for the boxes and the labels between them."""
    keys = [p.key for p in diagram.participants]
    index = {key: i for i, key in enumerate(keys)}
    widths = {
        p.key: max(100.0, text_width(cut(p.label, MAX_BOX_LABEL)) + 24) for p in diagram.participants
    }
    # need[j]: (i, distance) pairs: lifeline j must be at least ``distance`` right of i.
    need: dict[int, list[tuple[int, float]]] = {}
    for step in diagram.steps:
        if not isinstance(step, Arrow):
            continue
        label = text_width(cut(step.text, MAX_LABEL)) + 48
        a, b = index[step.source], index[step.target]
        if a == b:
            if a + 1 < len(keys):
                need.setdefault(a + 1, []).append((a, label + 40))
            continue
        need.setdefault(max(a, b), []).append((min(a, b), label))
    x: dict[str, float] = {}
    for j, key in enumerate(keys):
        if j == 0:
            x[key] = MARGIN + widths[key] / 2
            continue
        prev = keys[j - 1]
        pos = x[prev] + max(MIN_GAP, (widths[prev] + widths[key]) / 2 + 24)
        for i, distance in need.get(j, ()):
            pos = max(pos, x[keys[i]] + distance)
        x[key] = pos
    layout = _Layout(x=x, box_width=widths)
    if keys:
        layout.left = x[keys[0]] - widths[keys[0]] / 2
        layout.right = x[keys[-1]] + widths[keys[-1]] / 2
        for step in diagram.steps:  # a self-arrow on the last lifeline loops out to the right
            if isinstance(step, Arrow) and step.source == step.target:
                layout.widen(layout.left, x[step.source] + text_width(cut(step.text, MAX_LABEL)) + 60)
    return layout


def _box(layout: _Layout, key: str, label: str, y: float, fill: str | None) -> str:
    x, width = layout.x[key], layout.box_width[key]
    return (
        f'<g class="head"><title>{escape(label)}</title><rect x="{x - width / 2:.1f}" y="{y:.1f}"'
        f' width="{width:.1f}" height="{BOX_HEIGHT}" rx="4" fill="{escape(fill or _DEFAULT_FILL)}"/>'
        f'<text x="{x:.1f}" y="{y + BOX_HEIGHT / 2 + 4:.1f}" text-anchor="middle" font-weight="bold">'
        f"{escape(cut(label, MAX_BOX_LABEL))}</text></g>"
    )


def _bar(layout: _Layout, key: str, top: float, bottom: float, depth: int) -> None:
    x = layout.x[key] - BAR + depth * 4
    layout.bars.append(
        f'<rect class="bar" x="{x:.1f}" y="{top:.1f}" width="{2 * BAR}" height="{bottom - top:.1f}"/>'
    )


def _edge(layout: _Layout, key: str, active: dict[str, list[float]], toward: float) -> float:
    """Where an arrow meets a lifeline: at the side of its activation bar, if any."""
    x = layout.x[key]
    depth = len(active[key])
    if not depth:
        return x
    offset = BAR + (depth - 1) * 4
    return x + offset if toward > x else x - BAR


def _arrow(layout: _Layout, arrow: Arrow, y: float, active: dict[str, list[float]]) -> float:
    line_y = y + 14
    label = cut(arrow.text, MAX_LABEL)
    classes = "msg" + (" response" if arrow.response else "") + (" failed" if arrow.failed else "")
    if arrow.deactivate and active[arrow.source]:
        start = active[arrow.source].pop()
        _bar(layout, arrow.source, start, line_y, len(active[arrow.source]))
    spans = escape(" ".join(arrow.span_ids))
    parts = [f'<g class="{classes}" data-spans="{spans}"><title>{arrow.number}. {escape(arrow.text)}</title>']
    if arrow.source == arrow.target:
        x = _edge(layout, arrow.source, active, layout.x[arrow.source] + 1)
        parts.append(f'<path d="M{x:.1f},{line_y:.1f} h36 v16 h-34" marker-end="url(#st-head)"/>')
        parts.append(f'<text x="{x + 44:.1f}" y="{line_y + 4:.1f}">{escape(label)}</text>')
        x1 = x
        height = SELF_ROW
    else:
        x1 = _edge(layout, arrow.source, active, layout.x[arrow.target])
        x2 = _edge(layout, arrow.target, active, layout.x[arrow.source])
        if arrow.failed:
            parts.append(f'<line x1="{x1:.1f}" y1="{line_y:.1f}" x2="{x2:.1f}" y2="{line_y:.1f}"/>')
            parts.append(
                f'<path d="M{x2 - 5:.1f},{line_y - 5:.1f} l10,10 m0,-10 l-10,10" stroke="#c0392b"/>'
            )
        else:
            parts.append(
                f'<line x1="{x1:.1f}" y1="{line_y:.1f}" x2="{x2:.1f}" y2="{line_y:.1f}"'
                ' marker-end="url(#st-head)"/>'
            )
        middle = (x1 + x2) / 2
        parts.append(
            f'<text x="{middle + 6:.1f}" y="{line_y - 5:.1f}" text-anchor="middle">{escape(label)}</text>'
        )
        height = ROW
    parts.append(
        f'<circle class="num" cx="{x1:.1f}" cy="{line_y:.1f}" r="8"/><text class="numtext" x="{x1:.1f}"'
        f' y="{line_y + 3.5:.1f}" text-anchor="middle">{arrow.number}</text>'
    )
    parts.append("</g>")
    layout.parts.append("".join(parts))
    if arrow.activate:
        active[arrow.target].append(line_y)
    return y + height


def _note(layout: _Layout, note: Note, y: float) -> float:
    lines = [cut(line, MAX_NOTE_LINE) for line in note.lines] or [""]
    xs = [layout.x[key] for key in note.over]
    content = max(text_width(line) for line in lines) + 16
    left, right = min(xs) - 30, max(xs) + 30
    if right - left < content:
        middle = (left + right) / 2
        left, right = middle - content / 2, middle + content / 2
    height = 8 + NOTE_LINE * len(lines)
    layout.widen(left, right)
    texts = "".join(
        f'<text x="{left + 8:.1f}" y="{y + 4 + NOTE_LINE * (i + 1) - 3:.1f}">{escape(line)}</text>'
        for i, line in enumerate(lines)
    )
    title = escape("\n".join(note.lines))
    layout.parts.append(
        f'<g class="note {escape(note.kind)}"><title>{title}</title><rect x="{left:.1f}" y="{y + 2:.1f}"'
        f' width="{right - left:.1f}" height="{height}"/>{texts}</g>'
    )
    return y + height + 10
