"""The HTML report: self-contained, escaped, one row per call, details as a JSON blob."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path

from sample_traces import NASTY, SECRET_TOKEN, big_trace, nasty_trace, sample_trace

from stacktap.render.html import render_report
from stacktap.render.report_data import script_json


class _Collector(HTMLParser):
    """Every start tag with its attributes, and the text of each <script>."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data


def _parse(html: str) -> _Collector:
    parser = _Collector()
    parser.feed(html)
    return parser


def _blob(html: str) -> list[dict]:
    match = re.search(r'<script type="application/json" id="calls-data">(.*?)</script>', html, re.S)
    assert match
    return json.loads(match.group(1))


def test_report_is_self_contained(tmp_path: Path) -> None:
    html = render_report(sample_trace(tmp_path))
    parsed = _parse(html)
    for tag, attrs in parsed.tags:
        for name in ("src", "href", "xlink:href", "action", "data"):
            value = attrs.get(name) or ""
            assert not re.match(r"^\s*(https?:|//|file:)", value), (tag, name, value)
        assert tag not in ("iframe", "object", "embed", "img", "audio", "video")
    assert [attrs.get("type") for tag, attrs in parsed.tags if tag == "script"] == ["application/json", None]
    assert "@import" not in html and "url(http" not in html


def test_csp_forbids_the_network_and_allows_only_the_report_script(tmp_path: Path) -> None:
    html = render_report(sample_trace(tmp_path))
    parsed = _parse(html)
    csp = [a["content"] for t, a in parsed.tags if t == "meta" and a.get("http-equiv") ==
           "Content-Security-Policy"]
    assert len(csp) == 1 and "default-src 'none'" in (csp[0] or "")
    code = parsed.scripts[-1]
    digest = base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in (csp[0] or "")


def test_summary_diagram_and_one_row_per_call(tmp_path: Path) -> None:
    trace = sample_trace(tmp_path)
    html = render_report(trace)
    parsed = _parse(html)
    assert "openstack server create --wait vm1" in html
    rows = [a for t, a in parsed.tags if t == "details" and "call" in (a.get("class") or "").split()]
    assert len(rows) == len(trace.calls) == 15
    assert [r["data-span"] for r in rows] == [c.span_id for c in trace.walk()]
    server_rows = [r for r in rows if "server" in (r.get("class") or "")]
    assert len(server_rows) == 1
    assert any(t == "svg" and "sequence" in (a.get("class") or "") for t, a in parsed.tags)
    assert '<details class="diagram" open>' in html
    assert "token + catalog issued" in html
    assert "Exit code</th><td>1<" in html


def test_details_blob_has_headers_bodies_layers_site_and_curl(tmp_path: Path) -> None:
    trace = sample_trace(tmp_path)
    calls = _blob(render_report(trace))
    assert [c["span"] for c in calls] == [c.span_id for c in trace.walk()]
    images = next(c for c in calls if c["request"] == "GET /v2/images" and c["side"] == "client")
    assert ["X-Auth-Token", SECRET_TOKEN] in images["request_headers"]
    assert json.loads(images["response_body"]["text"])["images"][0]["name"] == "cirros"
    assert images["call_site"] == "openstackclient/compute/v2/server.py:CreateServer.take_action"
    assert images["curl"].startswith("curl -g -i -X GET 'http://127.0.0.1:9292/v2/images?name=cirros'")
    assert images["service"] == "glance" and images["depth"] == 0
    served = next(c for c in calls if c["side"] == "server")
    assert served["depth"] == 1 and served["handler"] == "ImagesController.index"
    assert [la["name"] for la in served["layers"]][:2] == ["cors", "http_proxy_to_wsgi"]
    assert served["layers"][1]["enter_ms"] == 1.0 and served["curl"] is None
    failed = calls[-1]
    assert failed["error"].startswith("ConnectionError: HTTPConnectionPool")
    assert failed["response_body"] is None


def test_hostile_content_cannot_escape_its_place(tmp_path: Path) -> None:
    html = render_report(nasty_trace(tmp_path))
    parsed = _parse(html)
    assert len(parsed.scripts) == 2  # the blob and our script: nothing injected
    assert "<script>alert" not in html and "<b>g</b>" not in html
    assert all(t not in ("b", "svc", "e") for t, _ in parsed.tags)
    calls = _blob(html)
    assert calls[0]["request_headers"] == [["X-Evil", NASTY]]  # the blob gives the text back intact
    assert json.loads(calls[0]["response_body"]["text"])["html"] == NASTY


def test_script_json_cannot_close_the_script_element() -> None:
    text = script_json({"a": "</script><!-- & -->"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"a": "</script><!-- & -->"}


def test_big_run_folds_a_cut_diagram_and_lists_every_call(tmp_path: Path) -> None:
    trace = big_trace(tmp_path, 2000)
    html = render_report(trace, diagram_limit=50)
    assert '<details class="diagram">' in html  # folded
    assert f"This run has {len(trace.calls)} calls: the diagram draws the first" in html
    assert html.count('<details class="call ') == len(trace.calls)
    assert len(_blob(html)) == len(trace.calls)


def test_curl_line_is_runnable_with_secrets_as_variables(tmp_path: Path) -> None:
    calls = _blob(render_report(sample_trace(tmp_path)))
    token = calls[1]["curl"]
    assert token.startswith("curl -g -i -X POST http://127.0.0.1:5000/v3/auth/tokens")
    assert '"$OS_PASSWORD"' in token and "{SHA256}" not in token
    later = [c["curl"] for c in calls if c["curl"] and "X-Auth-Token" in c["curl"]]
    assert len(later) > 3 and all('-H "X-Auth-Token: $OS_TOKEN"' in line for line in later)


def test_the_waterfall_says_what_became_of_each_rpc_message(tmp_path: Path) -> None:
    from rpc_traces import load, write_server_create

    db = tmp_path / "rpc.db"
    html = render_report(load(db, write_server_create(db, no_valid_host=True)))
    statuses = re.findall(r'<span class="status (ok|err)"[^>]*>([^<]*)</span>', html)
    assert ("ok", "sent") in statuses  # the cast to the conductor
    assert ("ok", "done") in statuses  # the conductor's handling of it
    assert ("err", "NoValidHost_Remote") in statuses  # the scheduler call that raised
    assert ("ok", "-") not in statuses
