"""Markdown export: sections, MkDocs Material tabs, bodies; rendered with the real
Python-Markdown + pymdown-extensions that MkDocs Material uses."""

from __future__ import annotations

import re
from pathlib import Path

import markdown
from exchange_traces import write_sample_run
from pymdownx.superfences import fence_code_format

from stacktap.render.markdown import render_markdown
from stacktap.store import Store, load_trace


def _page(tmp_path: Path) -> str:
    run_id = write_sample_run(tmp_path / "s.db")
    with Store(str(tmp_path / "s.db")) as store:
        return render_markdown(load_trace(store, run_id))


def _html(text: str, pygments: bool = False) -> str:
    """The page as MkDocs Material renders it (its documented extension setup)."""
    return markdown.markdown(
        text,
        extensions=["tables", "admonition", "pymdownx.highlight", "pymdownx.superfences", "pymdownx.tabbed"],
        extension_configs={
            "pymdownx.highlight": {"use_pygments": pygments},
            "pymdownx.tabbed": {"alternate_style": True},
            "pymdownx.superfences": {
                "custom_fences": [{"name": "mermaid", "class": "mermaid", "format": fence_code_format}]
            },
        },
    )


def test_one_section_per_client_call_numbered_like_log(tmp_path: Path) -> None:
    page = _page(tmp_path)
    headings = re.findall(r"^## \[(\d+)\] (.*)$", page, flags=re.M)
    assert headings[:3] == [
        ("1", "GET / — keystone — 300"),
        ("2", "POST /v3/auth/tokens — keystone — 201"),
        ("3", "GET /v2/images — glance — 200"),
    ]
    # seq 4 is glance's server-side record: no section of its own, a "Served by" line instead.
    assert [n for n, _ in headings] == ["1", "2", "3", "5", "6", "7", "8"]
    assert headings[-1] == ("8", "GET /v2.1/servers — 127.0.0.1:9 — ConnectionError")
    assert "Served by glance-api in `ImagesController.index`, through cors → authtoken." in page


def test_tabs_render_with_headers_and_pretty_json(tmp_path: Path) -> None:
    html = _html(_page(tmp_path))
    assert html.count('<div class="tabbed-set tabbed-alternate"') == 7
    labels = re.findall(r'<label for="__tabbed_\d+_\d+">([^<]+)</label>', html)
    # The failed call has no Response tab.
    assert labels.count("Request") == 7 and labels.count("Response") == 6
    assert '<code class="language-json">' in html
    assert "X-Subject-Token: {SHA256}9f86d081884c7d65" in html
    assert '\n      "name": "cirros"\n' in html  # pretty (indented) JSON in a code block


def test_http_heads_are_valid_for_the_highlighter(tmp_path: Path) -> None:
    page = _page(tmp_path)
    assert "    GET http://127.0.0.1:9292/v2/images?limit=25&sort_key=name HTTP/1.1\n" in page
    assert "    HTTP/1.1 404 Not Found\n" in page
    html = _html(page, pygments=True)
    assert 'class="highlight"' in html
    assert '<span class="err">' not in html  # Pygments' http lexer understood every head


def test_summary_diagram_and_table(tmp_path: Path) -> None:
    page = _page(tmp_path)
    assert page.startswith("# openstack image list\n")
    assert "| Calls | 7 (2 failed or 4xx/5xx) |" in page
    assert "| 6 | GET | `/v2/images/{image_id}/file` | glance | 200 | 300.0 |" in page
    html = _html(page)
    assert "<table>" in html
    try:
        from stacktap.render.mermaid import render_mermaid  # noqa: F401  (engineer D's renderer)
    except ImportError:
        assert "```mermaid" not in page
    else:
        assert '<pre class="mermaid"><code>sequenceDiagram' in html


def test_streamed_body_and_failure_are_explained(tmp_path: Path) -> None:
    page = _page(tmp_path)
    assert "*streamed body, not kept: 13287936 bytes sha256 %s*" % ("ab" * 32) in page
    assert '!!! failure "ConnectionError"' in page
    html = _html(page)
    assert '<div class="admonition failure">' in html


def test_backticks_in_a_body_do_not_break_the_fence(tmp_path: Path) -> None:
    from stacktap.model import BODY_TEXT, Body, Call, Run

    with Store(str(tmp_path / "s.db")) as store:
        run = Run(started=1.0, label="x")
        store.add_run(run)
        store.add_calls(
            [
                Call(
                    run_id=run.id,
                    method="GET",
                    url="http://h:1/a_b",
                    start=1.0,
                    status=200,
                    response_body=Body(kind=BODY_TEXT, text="```\nnot the end\n```"),
                )
            ]
        )
        page = render_markdown(load_trace(store, run.id))
    assert "    ````text" in page
    html = _html(page)
    assert "not the end" in html and html.count("<pre>") + html.count("<pre ") >= 3
    assert "## [1] GET /a\\_b — h:1 — 200" in page


def test_rpc_messages_say_sent_or_reply_not_no_response(tmp_path: Path) -> None:
    from rpc_traces import load, write_server_create

    db = tmp_path / "rpc.db"
    text = render_markdown(load(db, write_server_create(db)))
    assert "| schedule_and_build_instances | `nova/conductor` | conductor | sent |" in text
    assert "| select_destinations | `nova/scheduler` | scheduler | reply |" in text
    assert "no response" not in text
