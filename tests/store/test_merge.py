"""merge_stores and ``stacktap merge``: stores from two hosts make whole trees again."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from stacktap.cli.main import cli
from stacktap.model import Call, CatalogEntry, Layer, PolicyCheck, Run
from stacktap.store import Store, StoreError, load_trace
from stacktap.store.merge import merge_stores

GLANCE = "http://10.0.0.2:9292"
KEYSTONE = "http://10.0.0.3:5000"


def _two_hosts(tmp_path: Path) -> tuple[str, str, Run, list[Call]]:
    """Host A ran ``openstack image list``; host B ran glance-api, which answered and asked keystone."""
    a, b = str(tmp_path / "laptop.db"), str(tmp_path / "controller.db")
    run = Run(started=1.0, ended=None, label="openstack image list")
    client = Call(run_id=run.id, method="GET", url=GLANCE + "/v2/images", start=1.0, duration=0.3, status=200)
    with Store(a) as store:
        store.add_run(run)
        store.add_calls([client])
        # NOTE: NULL interface/region: the rows SQLite's UNIQUE does not deduplicate.
        store.add_catalog(run.id, [CatalogEntry(service_type="image", service_name="glance", url=GLANCE)])
    server_run = Run(kind="server", started=0.5, label="glance-api")
    served = Call(run_id=server_run.id, side="server", method="GET", url=GLANCE + "/v2/images", start=1.01,
                  duration=0.2, status=200, trace_id=client.trace_id, parent_span_id=client.span_id,
                  local_service="glance-api")
    served.layers = [Layer(span_id=served.span_id, order=0, name="cors"),
                     Layer(span_id=served.span_id, order=1, name="authtoken")]
    served.policy_checks = [PolicyCheck(span_id=served.span_id, order=0, rule="get_images")]
    validate = Call(run_id=server_run.id, method="GET", url=KEYSTONE + "/v3/auth/tokens", start=1.02,
                    trace_id=client.trace_id, parent_span_id=served.span_id, local_service="glance-api")
    with Store(b) as store:
        store.add_run(server_run)
        store.add_calls([served, validate])
        store.add_catalog(server_run.id, [CatalogEntry(service_type="identity", service_name="keystone",
                                                       interface="internal", url=KEYSTONE)])
    return a, b, run, [client, served, validate]


def _counts(path: str) -> dict[str, int]:
    db = sqlite3.connect(path)
    try:
        return {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("runs", "calls", "layers", "catalog")}
    finally:
        db.close()


def test_merged_store_has_whole_trees_and_merging_twice_adds_nothing(tmp_path: Path) -> None:
    a, b, run, (client, served, validate) = _two_hosts(tmp_path)
    out = str(tmp_path / "all.db")

    first = merge_stores(out, [a, b])
    assert first.added == {"runs": 2, "calls": 3, "layers": 2, "catalog": 2, "policy_checks": 1}
    with Store(out, create=False) as store:
        trace = load_trace(store, run.id)
    assert [c.span_id for c in trace.walk()] == [client.span_id, served.span_id, validate.span_id]
    assert [trace.depth(c) for c in trace.walk()] == [0, 1, 2]
    assert {c.trace_id for c in trace.calls} == {client.trace_id}
    assert [la.name for la in trace.call(served.span_id).layers] == ["cors", "authtoken"]

    again = merge_stores(out, [a, b, a])
    assert again.added == {"runs": 0, "calls": 0, "layers": 0, "catalog": 0, "policy_checks": 0}
    assert _counts(out) == {"runs": 2, "calls": 3, "layers": 2, "catalog": 2}


def test_output_may_be_an_input_and_a_finished_run_wins(tmp_path: Path) -> None:
    a, b, run, _ = _two_hosts(tmp_path)
    copy = str(tmp_path / "copy.db")
    merge_stores(copy, [a])
    with Store(copy) as store:
        store.finish_run(run.id, exit_code=0, ended=9.0)

    result = merge_stores(a, [a, b, copy])
    assert result.skipped == [a]
    assert _counts(a) == {"runs": 2, "calls": 3, "layers": 2, "catalog": 2}
    with Store(a, create=False) as store:
        merged = store.get_run(run.id)
    assert (merged.ended, merged.exit_code) == (9.0, 0)


def test_bad_inputs_are_refused_before_the_output_exists(tmp_path: Path) -> None:
    a, _, _, _ = _two_hosts(tmp_path)
    out = tmp_path / "all.db"
    text = tmp_path / "notes.txt"
    text.write_text("not a database at all, just some text that is long enough" * 20)
    other = tmp_path / "other.db"
    sqlite3.connect(str(other)).execute("CREATE TABLE x (y)").connection.close()

    with pytest.raises(StoreError, match="no store at"):
        merge_stores(str(out), [a, str(tmp_path / "missing.db")])
    with pytest.raises(StoreError, match="not a stacktap store"):
        merge_stores(str(out), [a, str(text)])
    with pytest.raises(StoreError, match="not a stacktap store"):
        merge_stores(str(out), [str(other)])
    assert not out.exists()
    assert text.read_text().startswith("not a database")


def test_cli_merge(tmp_path: Path) -> None:
    a, b, _, _ = _two_hosts(tmp_path)
    out = str(tmp_path / "all.db")
    runner = CliRunner()

    result = runner.invoke(cli, ["merge", a, b, "-o", out])
    assert result.exit_code == 0, result.output
    assert "+2 runs, +3 calls, +2 layers, +2 catalog endpoints" in result.output

    missing = runner.invoke(cli, ["merge", a, str(tmp_path / "nope.db"), "-o", out])
    assert missing.exit_code != 0
    assert missing.output.strip().splitlines() == ["stacktap: no store at %s" % (tmp_path / "nope.db")]
