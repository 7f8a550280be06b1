"""Lossless stacktap JSON: export, parse, import into another store, export again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from exchange_traces import write_sample_run

from stacktap.render.json_export import (
    FORMAT_NAME,
    TraceFileError,
    parse_trace_json,
    render_json,
)
from stacktap.store import Store, load_trace
from stacktap.store.importer import import_trace


def _export(db: Path, ref: str) -> str:
    with Store(str(db)) as store:
        return render_json(load_trace(store, ref))


def test_export_holds_every_call_with_layers_catalog_and_run(tmp_path: Path) -> None:
    run_id = write_sample_run(tmp_path / "a.db")
    doc = json.loads(_export(tmp_path / "a.db", run_id))
    assert doc["format"] == FORMAT_NAME and doc["version"] == 1
    assert doc["run"]["id"] == run_id and doc["run"]["label"] == "openstack image list"
    assert [c["method"] for c in doc["calls"]] == ["GET", "POST", "GET", "GET", "GET", "GET", "GET", "GET"]
    served = next(c for c in doc["calls"] if c["side"] == "server")
    assert [la["name"] for la in served["layers"]] == ["cors", "authtoken"]
    assert served["handler"] == "ImagesController.index"
    assert {e["service_name"] for e in doc["catalog"]} == {"keystone", "glance"}
    assert doc["calls"][2]["call_site"]["cls"] == "ListImage"


def test_round_trip_through_a_fresh_store_is_identical(tmp_path: Path) -> None:
    run_id = write_sample_run(tmp_path / "a.db")
    first = _export(tmp_path / "a.db", run_id)
    with Store(str(tmp_path / "b.db")) as store:
        result = import_trace(store, parse_trace_json(first))
    assert (result.run_id, result.added, result.present) == (run_id, 8, 0)
    second = _export(tmp_path / "b.db", run_id)
    assert second == first


def test_second_import_adds_nothing(tmp_path: Path) -> None:
    run_id = write_sample_run(tmp_path / "a.db")
    text = _export(tmp_path / "a.db", run_id)
    with Store(str(tmp_path / "b.db")) as store:
        import_trace(store, parse_trace_json(text))
        again = import_trace(store, parse_trace_json(text))
        assert (again.added, again.present) == (0, 8)
        assert store.call_counts()[run_id] == 6
        assert len(store.runs()) == 1


def test_unknown_keys_are_ignored(tmp_path: Path) -> None:
    run_id = write_sample_run(tmp_path / "a.db")
    doc = json.loads(_export(tmp_path / "a.db", run_id))
    doc["calls"][0]["from_the_future"] = 1
    doc["run"]["also_new"] = "x"
    parsed = parse_trace_json(json.dumps(doc))
    assert parsed.calls[0].url == "http://127.0.0.1:5000/"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "invalid JSON"),
        ("[]", 'no "format"'),
        ('{"log": {"version": "1.2"}}', "a HAR file?"),
        ('{"format": "stacktap-trace", "version": 99}', "newer than this stacktap"),
        (
            '{"format": "stacktap-trace", "version": 1, "run": {"id": "r"}, "calls": []}',
            "run: missing 'started'",
        ),
        (
            '{"format": "stacktap-trace", "version": 1, "run": {"id": "r", "started": 1}, "calls": {}}',
            '"calls" is not a list',
        ),
        (
            '{"format": "stacktap-trace", "version": 1, "run": {"id": "r", "started": 1},'
            ' "calls": [{"method": "GET"}]}',
            "call 1: missing",
        ),
        (
            '{"format": "stacktap-trace", "version": 1, "run": {"id": "r", "started": 1},'
            ' "calls": [{"run_id": "r", "method": "GET", "url": "u", "trace_id": "t", "span_id": "s",'
            ' "start": "soon"}]}',
            "call 1: start must be a number",
        ),
    ],
)
def test_bad_documents_give_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(TraceFileError) as info:
        parse_trace_json(text)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
