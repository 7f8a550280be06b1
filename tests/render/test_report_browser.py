"""The report in a real browser (headless Chromium, network cut off): it draws, it expands,
it fetches nothing, hostile content runs nothing, and a 5,000-call run becomes interactive."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from render_checks import REPO, BrowserPage, box_size, launch_browser
from sample_traces import SECRET_TOKEN, big_trace, nasty_trace, sample_trace

from stacktap.render.html import render_report

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launch_browser() as chromium:
        yield chromium


def test_report_draws_expands_and_fetches_nothing(browser: Any, tmp_path: Path) -> None:
    trace = sample_trace(tmp_path)
    path = tmp_path / "report.html"
    path.write_text(render_report(trace))
    tab = BrowserPage(browser)
    page = tab.open(path)

    width, height = box_size(page, "svg.sequence")
    assert width > 500 and height > 500
    assert page.locator("svg.sequence g.msg").count() == 20
    assert page.locator("#waterfall > details.call").count() == 15
    bar_width, bar_height = box_size(page, "#waterfall .bar")
    assert bar_width > 0 and bar_height > 0

    row = page.locator("#waterfall > details.call").nth(2)  # GET /v2/images
    assert row.locator(".detail").inner_text() == ""  # built lazily
    row.locator("summary").click()
    detail = row.locator(".detail")
    detail.locator("table").first.wait_for()
    text = detail.inner_text()
    assert "Request headers" in text and SECRET_TOKEN in text
    assert '"name": "cirros"' in text  # the JSON body, pretty-printed
    assert "CreateServer.take_action" in text and "curl -g -i -X GET" in text

    server = page.locator("#waterfall > details.call.server").first
    server.locator("summary").click()
    server.locator(".detail table.layers").wait_for()
    assert server.locator(".detail table.layers tr").count() == 7  # header + 6 layers
    assert box_size(page, "#waterfall details.call.server .layerbar span")[0] > 0

    page.locator("svg.sequence g.msg").nth(19).click()  # an arrow opens its call
    assert page.locator("#waterfall > details.call[open]").count() == 3
    assert page.locator("#waterfall > details.call").nth(14).get_attribute("open") is not None

    (REPO / "artifacts").mkdir(exist_ok=True)
    row.locator("summary").click()  # fold it again for a picture of the whole report
    page.screenshot(path=str(REPO / "artifacts" / "report.png"), full_page=True)
    assert tab.attempts == []
    assert tab.problems == []
    tab.close()


def test_hostile_report_runs_no_injected_code(browser: Any, tmp_path: Path) -> None:
    path = tmp_path / "nasty.html"
    path.write_text(render_report(nasty_trace(tmp_path)))
    tab = BrowserPage(browser)
    page = tab.open(path)
    for i in range(page.locator("#waterfall > details.call").count()):
        page.locator("#waterfall > details.call").nth(i).locator("summary").click()
    page.locator("#waterfall .detail table").first.wait_for()
    assert "<script>alert" in page.locator("#waterfall").inner_text()  # shown as text
    assert page.locator("script").count() == 2
    assert tab.problems == [] and tab.attempts == []
    tab.close()


def test_five_thousand_calls_open_and_become_interactive(browser: Any, tmp_path: Path) -> None:
    trace = big_trace(tmp_path, 5000)
    assert len(trace.calls) == 5000
    path = tmp_path / "big.html"
    path.write_text(render_report(trace))
    tab = BrowserPage(browser)
    page = tab.open(path)
    rows = page.locator("#waterfall > details.call")
    assert rows.count() == 5000
    assert page.locator("details.diagram[open]").count() == 0  # the cut diagram starts folded
    last = rows.nth(4999)
    last.locator("summary").click()
    last.locator(".detail table").first.wait_for()
    assert trace.walk()[-1].url in last.locator(".detail").inner_text()
    page.fill("#filter", "ports")
    ports = [c for c in trace.calls if "/v2.0/ports" in c.url]
    assert page.locator("#waterfall > details.call:not(.hidden)").count() == len(ports) > 300
    assert tab.problems == [] and tab.attempts == []
    tab.close()


def test_a_server_calls_policy_checks_are_listed_when_opened(browser: Any, tmp_path: Path) -> None:
    from tests.fixtures.policy_runs import CREATE_RULE, write_flavor_create_denied

    from stacktap.store import Store, load_trace

    db = tmp_path / "s.db"
    run = write_flavor_create_denied(db)
    with Store(str(db)) as store:
        trace = load_trace(store, run)
    path = tmp_path / "policy.html"
    path.write_text(render_report(trace))
    tab = BrowserPage(browser)
    page = tab.open(path)
    server = page.locator("#waterfall > details.call.server").first
    server.locator("summary").click()
    table = server.locator(".detail table.policy")
    table.wait_for()
    assert table.locator("tr").count() == 3  # header + 2 checks
    assert table.locator("tr.denied").count() == 2
    text = server.locator(".detail").inner_text()
    assert CREATE_RULE in text and "PolicyNotAuthorized" in text and "member, reader" in text
    assert "policy denied" in text
    assert tab.problems == [] and tab.attempts == []
    tab.close()
