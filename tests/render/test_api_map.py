"""The API map across runs: distinct (caller, service, method, template), counts, statuses."""

from __future__ import annotations

from pathlib import Path

from exchange_traces import GLANCE, KEYSTONE, write_run, write_sample_run

from stacktap.render.api_map import api_map, api_rows
from stacktap.store import Store, load_trace

NOVA = "http://127.0.0.1:8774/v2.1"


def test_sample_run_map_keeps_the_command_apart_from_glance(tmp_path: Path) -> None:
    run_id = write_sample_run(tmp_path / "s.db")
    with Store(str(tmp_path / "s.db")) as store:
        rows = api_rows(api_map([load_trace(store, run_id)]))
    assert rows == [
        ("openstack", "keystone", "GET", "/", 1, 1, "300"),
        ("openstack", "keystone", "POST", "/v3/auth/tokens", 1, 1, "201"),
        ("openstack", "glance", "GET", "/v2/images", 1, 1, "200"),
        ("glance-api", "keystone", "GET", "/v3/auth/tokens", 1, 1, "200"),
        ("openstack", "glance", "GET", "/v2/images/{image_id}/file", 1, 1, "200"),
        ("openstack", "glance", "GET", "/v2/images/{image_id}", 1, 1, "404"),
        ("openstack", "127.0.0.1:9", "GET", "/v2.1/servers", 1, 1, "ConnectionError"),
    ]


def test_server_side_records_only_on_request(tmp_path: Path) -> None:
    run_id = write_sample_run(tmp_path / "s.db")
    with Store(str(tmp_path / "s.db")) as store:
        uses = api_map([load_trace(store, run_id)], include_server=True)
    server = [u for u in uses if u.caller == "(server)"]
    assert [(u.service, u.method, u.path) for u in server] == [("glance-api", "GET", "/v2/images")]


def test_counts_and_runs_add_up_across_runs(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    a = write_run(
        db,
        [
            ("POST", KEYSTONE + "/v3/auth/tokens", 201, 0.05),
            ("GET", GLANCE + "/v2/images/11111111-2222-3333-4444-555555555555", 200, 0.01),
            ("GET", GLANCE + "/v2/images/aaaaaaaa-2222-3333-4444-555555555555", 404, 0.01),
        ],
        label="openstack image show x",
    )
    b = write_run(
        db,
        [("POST", KEYSTONE + "/v3/auth/tokens", 201, 0.05), ("GET", NOVA + "/servers/detail", 200, 0.02)],
        label="openstack server list",
        start=1_800_000_000.0,
    )
    with Store(str(db)) as store:
        rows = api_rows(api_map([load_trace(store, a), load_trace(store, b)]))
    assert rows == [
        ("openstack", "keystone", "POST", "/v3/auth/tokens", 2, 2, "201"),
        ("openstack", "glance", "GET", "/v2/images/{image_id}", 2, 1, "200, 404"),
        ("openstack", "127.0.0.1:8774", "GET", "/v2.1/servers/detail", 1, 1, "200"),
    ]
