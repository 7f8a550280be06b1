"""Mermaid output: syntax, escaping, and every diagram drawn by the real Mermaid renderer."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from render_checks import draw, needs_mermaid, svg_texts
from sample_traces import NASTY, big_trace, nasty_trace, sample_trace

from stacktap.render.mermaid import MAX_TEXT_SIZE, escape, render_mermaid


def test_escape_leaves_nothing_mermaid_reads_as_syntax() -> None:
    escaped = escape(NASTY + "\nnext line\tx")
    assert "\n" not in escaped and "\t" not in escaped
    stripped = re.sub(r"#\d+;", "", escaped)
    for char in "#;{}\"'<>&%":
        assert char not in stripped
    assert escape("GET /v2/images/{image_id}") == "GET /v2/images/#123;image_id#125;"
    assert escape("") == "#32;"


def test_sample_diagram_syntax(tmp_path: Path) -> None:
    text = render_mermaid(sample_trace(tmp_path))
    lines = text.splitlines()
    assert lines[:3] == ["sequenceDiagram", "    title server create --wait", "    autonumber"]
    assert "    actor P1 as openstack" in lines
    assert "    participant P3 as glance" in lines
    assert "    P1->>+P3: GET /v2/images" in lines
    assert "    P3->>+P2: GET /v3/auth/tokens" in lines
    assert "    P3-->>-P1: 200 OK" in lines
    assert "    P1->>+P4: GET /v2.1/servers/#123;server_id#125; (x5)" in lines
    assert "    P5--x-P1: ConnectionError" in lines
    assert "    Note over P1,P2: token + catalog issued" in lines
    assert any(line.startswith("    Note over P3: ImagesController.index<br/>layers: cors") for line in lines)


@needs_mermaid
@pytest.mark.browser
def test_sample_diagram_renders(tmp_path: Path) -> None:
    texts = svg_texts(draw("sample", render_mermaid(sample_trace(tmp_path))))
    for expected in ["openstack", "glance", "GET /v2.1/servers/{server_id} (x5)", "token + catalog issued",
                     "401: token rejected, re-authenticate", "ConnectionError", "version discovery"]:
        assert expected in texts


@needs_mermaid
@pytest.mark.browser
def test_hostile_text_renders_as_written(tmp_path: Path) -> None:
    svg = draw("nasty", render_mermaid(nasty_trace(tmp_path)))
    texts = svg_texts(svg)
    assert 'GET /a;b/#c/{d}/<e>"q"' in texts
    assert " ".join(NASTY.split()) in texts
    assert "<script" not in svg  # shown as text, never as markup


@needs_mermaid
@pytest.mark.browser
def test_limited_big_run_renders(tmp_path: Path) -> None:
    trace = big_trace(tmp_path, 1000)
    text = render_mermaid(trace, limit=120)
    assert "more calls not drawn (limit 120)" in text
    texts = svg_texts(draw("big-limited", text))
    assert "more calls not drawn (limit 120)" in texts


@needs_mermaid
@pytest.mark.browser
def test_unlimited_big_run_is_cut_to_what_mermaid_draws(tmp_path: Path) -> None:
    """Without ``limit``, a 1,000-call run would pass Mermaid's 50,000-character cap and draw
    only an error: it is cut to the calls that fit, the rest summed up in a note."""
    trace = big_trace(tmp_path, 1000)
    text = render_mermaid(trace)
    assert len(text) <= MAX_TEXT_SIZE
    [note] = re.findall(r"(\d+) more calls not drawn \(limit (\d+)\)", text)
    assert int(note[1]) > 100  # the cut keeps as much as fits, not a token amount
    texts = svg_texts(draw("big-unlimited", text))
    assert f"{note[0]} more calls not drawn (limit {note[1]})" in texts
    assert "Maximum text size" not in texts


def test_every_line_is_a_known_statement(tmp_path: Path) -> None:
    statement = re.compile(
        r"^    (title .+|autonumber|(actor|participant) P\d+ as .+|P\d+(->>\+|-->>-|--x-)P\d+: .+"
        r"|Note over P\d+(,P\d+)?: .+)$"
    )
    for trace in (sample_trace(tmp_path), nasty_trace(tmp_path)):
        lines = render_mermaid(trace).splitlines()
        assert lines[0] == "sequenceDiagram"
        for line in lines[1:]:
            assert statement.match(line), line
