"""PlantUML output: the same story as Mermaid, in PlantUML syntax, with Creole escaped."""

from __future__ import annotations

import re
from pathlib import Path

from sample_traces import nasty_trace, sample_trace

from stacktap.render.plantuml import escape, render_plantuml


def test_sample_diagram_syntax(tmp_path: Path) -> None:
    lines = render_plantuml(sample_trace(tmp_path)).splitlines()
    assert lines[0] == "@startuml" and lines[-1] == "@enduml"
    assert "autonumber" in lines
    assert 'actor "openstack" as P1' in lines
    assert 'participant "glance" as P3' in lines
    assert "P1 -> P3 ++ : GET /v2/images" in lines
    assert "P3 -> P2 ++ : GET /v3/auth/tokens" in lines
    assert "P3 --> P1 -- : 200 OK" in lines
    assert "P1 -> P4 ++ : GET /v2.1/servers/{server_id} (x5)" in lines
    assert "P5 -->x P1 -- : ConnectionError" in lines
    start = lines.index("note over P1, P2")
    assert lines[start + 1 : start + 3] == ["  token + catalog issued", "end note"]
    assert lines.count("end note") == sum(1 for line in lines if line.startswith("note over"))


def test_activations_balance(tmp_path: Path) -> None:
    text = render_plantuml(sample_trace(tmp_path))
    assert text.count(" ++ : ") == text.count(" -- : ") > 0


def test_escape_neutralises_creole_and_tags() -> None:
    assert escape("server create --wait") == "server create -<U+002D>wait"
    assert escape("a//b**c__d\"\"e") == "a/<U+002F>b*<U+002A>c_<U+005F>d<U+0022><U+0022>e"
    assert escape("<b>x</b> ~y \\n") == "<U+003C>b<U+003E>x<U+003C>/b<U+003E> <U+007E>y <U+005C>n"
    assert escape("---") == "-<U+002D>-"
    assert escape("/v2/images/{image_id}") == "/v2/images/{image_id}"


def test_hostile_text_stays_on_one_line_and_markup_free(tmp_path: Path) -> None:
    text = render_plantuml(nasty_trace(tmp_path))
    body = [line for line in text.splitlines() if " : " in line or line.startswith("  ")]
    for line in body:
        unescaped = re.sub(r"<U\+[0-9A-F]{4}>", "", line)
        assert "<" not in unescaped and ">" not in unescaped.replace("->", "").replace("-->", "")
        for marker in ("//", "--", "**", "__", '""', "~"):
            assert marker not in unescaped.split(" : ", 1)[-1]
