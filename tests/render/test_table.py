"""Rows of the inspection tables: calls in tree order, runs, catalog endpoints."""

from __future__ import annotations

import time
from pathlib import Path

from inspect_traces import CATALOG, T0, write_sample

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
