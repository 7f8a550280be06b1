"""The report's inline SVG sequence diagram: well-formed, legible, escaped."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from sample_traces import NASTY, nasty_trace, sample_trace

from stacktap.render.sequence import Arrow, build_sequence
from stacktap.render.sequence_svg import CHAR_WIDTH, MAX_LABEL, cut, sequence_svg

NS = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def test_svg_draws_every_participant_arrow_and_note(tmp_path: Path) -> None:
    diagram = build_sequence(sample_trace(tmp_path))
    root = _parse(sequence_svg(diagram, {"glance": "#abcdef"}))
    heads = root.findall(f".//{NS}g[@class='head']")
    assert len(heads) == 2 * len(diagram.participants)  # a box on top and at the bottom
    msgs = [g for g in root.iter(NS + "g") if (g.get("class") or "").startswith("msg")]
    assert len(msgs) == len(diagram.arrows)
    numbers = [g.find(NS + "text[@class='numtext']").text for g in msgs]
    assert numbers == [str(a.number) for a in diagram.arrows]
    assert msgs[0].get("data-spans") == " ".join(diagram.arrows[0].span_ids)
    notes = [g for g in root.iter(NS + "g") if (g.get("class") or "").startswith("note")]
    assert len(notes) == len(diagram.notes)
    fills = [r.get("fill") for r in root.iter(NS + "rect") if r.get("fill") == "#abcdef"]
    assert len(fills) == 2
    assert len(root.findall(f".//{NS}rect[@class='bar']")) == sum(a.activate for a in diagram.arrows)


def test_labels_fit_between_their_lifelines(tmp_path: Path) -> None:
    diagram = build_sequence(sample_trace(tmp_path))
    root = _parse(sequence_svg(diagram))
    lifelines = [float(line.get("x1")) for line in root.findall(f".//{NS}line[@class='lifeline']")]
    x = dict(zip([p.key for p in diagram.participants], lifelines, strict=True))
    for arrow in diagram.arrows:
        if arrow.source != arrow.target:
            width = len(cut(arrow.text, MAX_LABEL)) * CHAR_WIDTH
            assert abs(x[arrow.source] - x[arrow.target]) >= width + 20, arrow.text


def test_hostile_text_is_text_not_markup(tmp_path: Path) -> None:
    svg = sequence_svg(build_sequence(nasty_trace(tmp_path)))
    root = _parse(svg)  # well-formed XML despite the run's content
    assert not [e for e in root.iter() if e.tag.endswith("script") or e.tag.endswith("}b")]
    texts = " ".join(e.text or "" for e in root.iter())
    assert 'GET /a;b/#c/{d}/<e>"q"' in texts
    assert NASTY[:40] in texts


def test_long_labels_are_cut_and_kept_whole_in_a_tooltip(tmp_path: Path) -> None:
    diagram = build_sequence(sample_trace(tmp_path))
    long_text = "GET /" + "x" * 200
    diagram.steps.insert(0, Arrow(0, "P1", "P2", long_text))
    svg = sequence_svg(diagram)
    assert "x" * 200 in svg  # in the <title>
    assert re.search(">GET /x{" + str(MAX_LABEL - 6) + "}…<", svg)
    assert cut("abc", 2) == "a…"


def test_self_call_loops_on_its_own_lifeline(tmp_path: Path) -> None:
    diagram = build_sequence(sample_trace(tmp_path))
    diagram.steps.append(Arrow(99, "P5", "P5", "GET /self"))
    root = _parse(sequence_svg(diagram))
    loop = [g for g in root.iter(NS + "g") if g.get("class") == "msg" and g.find(NS + "path") is not None]
    assert loop and loop[-1].find(NS + "text").text == "GET /self"
    left, _, width, _ = (float(v) for v in root.get("viewBox").split())
    label = loop[-1].find(NS + "text")
    assert float(label.get("x")) + len("GET /self") * CHAR_WIDTH <= left + width  # inside the picture
