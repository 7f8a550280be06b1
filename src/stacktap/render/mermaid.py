"""The sequence diagram of a run as Mermaid ``sequenceDiagram`` text.

Participants get short ids (``P1``...) with the service name as alias, so no name can
break the syntax; every text is escaped with Mermaid's entity codes (``#59;``).
"""

from __future__ import annotations

from stacktap.render.sequence import Arrow, Note, SequenceDiagram, build_sequence
from stacktap.store.trace import Trace

# NOTE: Mermaid's lexer ends a message at ``#`` or ``;``, and reads ``{}``, quotes and
# ``<>`` as markup in places: write them as entity codes, which it decodes when drawing.
_ENTITIES = {c: f"#{ord(c)};" for c in "#;{}\"'<>&%`\\"}


def escape(text: str) -> str:
    """``text`` made safe anywhere Mermaid reads free text (messages, notes, aliases)."""
    text = " ".join(text.split())  # no newlines or tabs: one statement per line
    out = "".join(_ENTITIES.get(char, char) for char in text)
    return out or "#32;"


#: Mermaid's default ``maxTextSize``: longer text draws only "Maximum text size in diagram
#: exceeded" (mermaid-cli, GitHub and mermaid.live alike, and mmdc still exits 0).
MAX_TEXT_SIZE = 50_000


def render_mermaid(trace: Trace, limit: int | None = None, max_size: int = MAX_TEXT_SIZE) -> str:
    """The Mermaid ``sequenceDiagram`` of ``trace``: at most ``limit`` calls drawn, and no more
    than fit in ``max_size`` characters (the rest summed up in a note), so it always draws."""
    text = sequence_to_mermaid(build_sequence(trace, limit=limit))
    if len(text) <= max_size:
        return text
    # NOTE: text grows with the calls drawn: search the largest limit that fits.
    fits, low, high = None, 1, limit or max(len(trace.calls), 1)
    while low <= high:
        middle = (low + high) // 2
        candidate = sequence_to_mermaid(build_sequence(trace, limit=middle))
        if len(candidate) <= max_size:
            fits, low = candidate, middle + 1
        else:
            high = middle - 1
    return fits if fits is not None else sequence_to_mermaid(build_sequence(trace, limit=1))


def sequence_to_mermaid(diagram: SequenceDiagram) -> str:
    """Mermaid text for a diagram built by ``build_sequence``."""
    lines = ["sequenceDiagram", f"    title {escape(diagram.title)}", "    autonumber"]
    for participant in diagram.participants:
        word = "actor" if participant.kind == "client" else "participant"
        lines.append(f"    {word} {participant.key} as {escape(participant.label)}")
    for step in diagram.steps:
        if isinstance(step, Arrow):
            lines.append("    " + _arrow(step))
        elif isinstance(step, Note):
            lines.append("    " + _note(step))
    return "\n".join(lines) + "\n"


def _arrow(arrow: Arrow) -> str:
    line = ("--x" if arrow.failed else "-->>") if arrow.response else "->>"
    mark = "+" if arrow.activate else "-" if arrow.deactivate else ""
    return f"{arrow.source}{line}{mark}{arrow.target}: {escape(arrow.text)}"


def _note(note: Note) -> str:
    text = "<br/>".join(escape(line) for line in note.lines)
    return "Note over {}: {}".format(",".join(note.over), text)
