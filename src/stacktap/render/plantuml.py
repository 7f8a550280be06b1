"""The sequence diagram of a run as PlantUML text (``@startuml`` ... ``@enduml``).

Same model as the Mermaid output; participants get short ids with the service name as
display name; text is escaped so Creole markup (``//``, ``--``, ``**``) and HTML-like
tags in paths or error messages show as written.
"""

from __future__ import annotations

from stacktap.render.sequence import Arrow, Note, SequenceDiagram, build_sequence
from stacktap.store.trace import Trace

# NOTE: PlantUML reads ``<U+XXXX>`` as one character: used for the characters that start
# markup (tags, the ``~`` escape, ``\n`` line breaks) and the second of a doubled Creole
# marker (``//italic//``, ``--strike--``, ``__underline__``, ``**bold**``, ``""mono""``).
_SINGLE = {c: f"<U+{ord(c):04X}>" for c in "<>~\\\""}
_DOUBLED = "/-_*=^,'"


def escape(text: str) -> str:
    """``text`` made safe in a PlantUML message, note line or display name."""
    text = " ".join(text.split())
    out = []
    previous = ""
    for char in text:
        if char in _SINGLE:
            out.append(_SINGLE[char])
        elif char in _DOUBLED and char == previous:
            out.append(f"<U+{ord(char):04X}>")
            char = ""  # a third marker in a row is safe again: its neighbour is encoded
        else:
            out.append(char)
        previous = char
    return "".join(out) or " "


def render_plantuml(trace: Trace, limit: int | None = None) -> str:
    """The PlantUML sequence diagram of ``trace`` (at most ``limit`` calls drawn)."""
    return sequence_to_plantuml(build_sequence(trace, limit=limit))


def sequence_to_plantuml(diagram: SequenceDiagram) -> str:
    """PlantUML text for a diagram built by ``build_sequence``."""
    lines = ["@startuml", f"title {escape(diagram.title)}", "autonumber"]
    for participant in diagram.participants:
        word = "actor" if participant.kind == "client" else "participant"
        lines.append(f'{word} "{escape(participant.label)}" as {participant.key}')
    for step in diagram.steps:
        if isinstance(step, Arrow):
            lines.append(_arrow(step))
        elif isinstance(step, Note):
            lines.extend(_note(step))
    lines.append("@enduml")
    return "\n".join(lines) + "\n"


def _arrow(arrow: Arrow) -> str:
    line = ("-->x" if arrow.failed else "-->") if arrow.response else "->"
    mark = " ++" if arrow.activate else " --" if arrow.deactivate else ""
    return f"{arrow.source} {line} {arrow.target}{mark} : {escape(arrow.text)}"


def _note(note: Note) -> list[str]:
    over = ", ".join(note.over)
    return [f"note over {over}", *("  " + escape(line) for line in note.lines), "end note"]
