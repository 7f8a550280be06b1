"""The report's RPC and database sections, from a ``server create`` built with the model."""

from __future__ import annotations

import re
from pathlib import Path

from rpc_traces import load, write_server_create
from sample_traces import sample_trace

from stacktap.render.html import render_report
from stacktap.render.report_sections import db_section, rpc_section


def _rows(html: str, table_id: str) -> list[list[str]]:
    body = re.search(rf'<table class="data" id="{table_id}">.*?<tbody>(.*?)</tbody>', html, re.S)
    assert body, table_id
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)
    ]


def test_each_message_is_a_row_with_who_handled_it(tmp_path: Path) -> None:
    db = tmp_path / "rpc.db"
    trace = load(db, write_server_create(db))
    rows = _rows(rpc_section(trace), "rpc-table")
    assert [(r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows] == [
        ("nova-api", "conductor", "cast", "schedule_and_build_instances", "1.17", "sent"),
        ("nova-conductor", "scheduler", "call", "select_destinations", "4.5", "reply"),
        ("nova-conductor", "compute", "cast", "build_and_run_instance", "6.0", "sent"),
        ("nova-compute", "scheduler", "fanout", "update_instance_info", "4.2", "sent"),
    ]
    handled = {r[4]: r[8] for r in rows}
    assert handled["select_destinations"].endswith("SchedulerManager.select_destinations")
    assert handled["update_instance_info"] == "-"  # no handling traced
    # the numbers link to the waterfall's rows
    first = trace.walk()[2]
    assert f'<a href="#call-{first.seq}">{first.seq}</a>' in rpc_section(trace)


def test_a_call_that_raised_says_so(tmp_path: Path) -> None:
    db = tmp_path / "rpc.db"
    rows = _rows(rpc_section(load(db, write_server_create(db, no_valid_host=True))), "rpc-table")
    assert [r[6] for r in rows if r[4] == "select_destinations"] == ["NoValidHost_Remote"]
    assert "build_and_run_instance" not in {r[4] for r in rows}


def test_the_sql_per_service_then_per_call(tmp_path: Path) -> None:
    db = tmp_path / "rpc.db"
    trace = load(db, write_server_create(db))
    html = db_section(trace)
    assert _rows(html, "db-services") == [["nova-conductor", "1", "0.5"]]
    statements = _rows(html, "db-statements")
    assert len(statements) == 1
    number, service, serving, count, *_, sql = statements[0]
    parent = trace.call(str(trace.db_calls[0].parent_span_id))
    assert parent is not None and number == str(parent.seq)  # linked to the call that ran it
    assert service == "nova-conductor" and count == "1"
    assert serving.startswith("schedule_and_build_instances")
    assert sql == "SELECT instances.id FROM instances WHERE instances.uuid = %s"


def test_a_run_without_rpc_or_sql_has_neither_section(tmp_path: Path) -> None:
    html = render_report(sample_trace(tmp_path))
    assert 'id="rpc-section"' not in html and 'id="db-section"' not in html


def test_the_report_holds_both_sections_after_the_waterfall(tmp_path: Path) -> None:
    db = tmp_path / "rpc.db"
    html = render_report(load(db, write_server_create(db)))
    where = [html.index(f'id="{section}"') for section in ("waterfall-section", "rpc-section", "db-section")]
    assert where == sorted(where)
