"""Rows of the inspection tables: calls in tree order (polling folded), runs, catalog endpoints."""

from __future__ import annotations

import time
from pathlib import Path

from inspect_traces import CATALOG, T0, write_sample
from rpc_traces import load, write_server_create

from stacktap.model import Run
from stacktap.render.table import call_rows, catalog_rows, run_rows


def test_call_rows_are_in_tree_order_with_server_records_indented(tmp_path: Path) -> None:
    rows = call_rows(write_sample(tmp_path / "s.db"))
    assert [row[0] for row in rows] == [1, 2, 3, 4, 5, 6, 7]
    assert rows[2] == [
        3,
        "300.0",
        "120.0",
        "glance",
        "GET",
        "/v2/images",
        "200",
        "openstackclient/image/v2/image.py:ListImage.take_action",
    ]
    assert rows[3][3:] == ["  glance-api", "GET", "/v2/images", "200", "ImagesController.index (3 layers)"]
    assert rows[4][3] == "    keystone"
    assert rows[5][5] == "/v2/images/{image_id}/file"
    assert rows[6][6] == "ConnectionError"


def test_call_rows_without_indent_carry_side_and_depth(tmp_path: Path) -> None:
    rows = call_rows(write_sample(tmp_path / "s.db"), indent=False)
    assert [(row[3], row[-3], row[-2]) for row in rows[2:5]] == [
        ("glance", "client", 0),
        ("glance-api", "server", 1),
        ("keystone", "client", 2),
    ]
    # Source: the absolute file:line of the call site (client); none known for the sample server
    assert rows[2][-1] == "/venv/lib/python3.12/site-packages/openstackclient/image/v2/image.py:900"
    assert rows[3][-1] is None


def test_run_rows() -> None:
    runs = [
        Run(
            id="abc",
            label=None,
            argv=["openstack", "image", "list", "--long", "x" * 80],
            started=T0,
            ended=T0 + 1.5,
            exit_code=0,
        ),
        Run(id="def", kind="server", label="glance-api", started=T0),
    ]
    rows = run_rows(runs, {"abc": 7})
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(T0))
    assert rows[0][:3] == ["abc", started, "command"]
    assert rows[0][3].startswith("openstack image list --long x") and rows[0][3].endswith("...")
    assert len(rows[0][3]) == 60
    assert rows[0][4:] == [7, 0, "1.50"]
    assert rows[1][2:] == ["server", "glance-api", 0, "", ""]


def test_catalog_rows_sorted_public_first() -> None:
    rows = catalog_rows(list(reversed(CATALOG)))
    assert [row[:3] for row in rows] == [
        ["compute", "nova", "public"],
        ["compute", "nova", "internal"],
        ["identity", "keystone", "public"],
        ["identity", "keystone", "admin"],
        ["image", "glance", "public"],
    ]
    assert rows[0][3:] == ["RegionOne", "http://127.0.0.1:8774/v2.1"]


def _polls(tmp_path: Path, polls: tuple[int, ...]) -> tuple[list[list[object]], list[list[object]]]:
    """(folded rows, unfolded rows) of a ``server create --wait`` whose polls got ``polls``."""
    trace = load(tmp_path / "s.db", write_server_create(tmp_path / "s.db", polls=polls))
    return call_rows(trace, fold=True), call_rows(trace)


def test_polling_folds_into_one_row_with_the_first_polls_inner_calls(tmp_path: Path) -> None:
    folded, every = _polls(tmp_path, (200, 200, 200))
    assert [row[0] for row in every] == list(range(1, 21))
    assert [row[0] for row in folded] == [1, 2, 3, 4, 5, 6, 7, 8, 9, "10-16", 11, 12, 19, 20]
    poll = folded[9]
    assert poll[2:] == [
        "150.0",  # the three polls' total
        "nova",
        "GET",
        "/v2.1/servers/{server_id}",
        "200 x3",
        "osc_lib/utils/__init__.py:wait_for_status [+4 inner calls hidden]",
    ]
    assert poll[1] == every[9][1]  # the first poll's offset
    assert [row[3] for row in folded[10:12]] == ["  nova-api", "    neutron"]
    # the last GET comes from other code (_prep_server_detail): a row of its own
    assert folded[12][6:] == ["200", "openstackclient/compute/v2/server.py:_prep_server_detail"]


def test_polls_answered_differently_do_not_fold(tmp_path: Path) -> None:
    folded, _ = _polls(tmp_path, (200, 200, 404))
    polls = [row for row in folded if row[5] == "/v2.1/servers/{server_id}" and row[3] == "nova"]
    assert [(row[0], row[6]) for row in polls] == [("10-13", "200 x2"), (16, "404"), (19, "200")]


def test_a_repeat_after_another_call_does_not_fold(tmp_path: Path) -> None:
    folded, every = _polls(tmp_path, (200, 404, 200))
    assert folded == every
    assert not [row for row in folded if " x" in str(row[6])]


def test_rpc_rows_say_how_the_message_ended(tmp_path: Path) -> None:
    trace = load(tmp_path / "s.db", write_server_create(tmp_path / "s.db", no_valid_host=True))
    rows = call_rows(trace, fold=True)
    rpc = [
        (row[3], row[5], row[6])
        for row in rows
        if row[4] in ("schedule_and_build_instances", "select_destinations")
    ]
    assert rpc == [
        ("    conductor", "nova/conductor", "sent"),
        ("      nova-conductor", "ComputeTaskManager.schedule_and_build_instances", "done"),
        ("        scheduler", "nova/scheduler", "NoValidHost_Remote"),
        ("          nova-scheduler", "SchedulerManager.select_destinations", "NoValidHost"),
    ]
