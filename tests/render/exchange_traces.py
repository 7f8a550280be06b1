"""A small realistic run written to a real Store, shared by the exchange/understand tests.

``openstack image list`` then an image download: version discovery, a token with its
catalog, ``GET /v2/images`` (with glance's server-side record, its paste layers and the
token validation glance made while serving it), a streamed download, a 404 and a call
that failed before any response.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.fixtures.cloud import GLANCE, KEYSTONE

from stacktap.model import (
    BODY_JSON,
    BODY_STREAM,
    BODY_TEXT,
    SERVER,
    Body,
    Call,
    CallSite,
    CatalogEntry,
    Layer,
    Peer,
    Run,
)
from stacktap.store import Store

IMAGE_ID = "3f0c2b9e-8d7a-4e8b-9c1d-2a3b4c5d6e7f"
T0 = 1_700_000_000.25

CATALOG = [
    CatalogEntry(
        service_type="identity",
        service_name="keystone",
        interface="public",
        region="RegionOne",
        url=KEYSTONE + "/v3",
        service_id="k1",
    ),
    CatalogEntry(
        service_type="image",
        service_name="glance",
        interface="public",
        region="RegionOne",
        url=GLANCE,
        service_id="g1",
    ),
]


def _json(obj: object) -> Body:
    text = json.dumps(obj)
    return Body(kind=BODY_JSON, text=text, content_type="application/json", size=len(text))


def sample_calls(run_id: str, start: float = T0, server_run: str = "glance-server-run") -> list[Call]:
    """The calls of the sample run (fresh span ids on each call)."""
    site = CallSite(
        file="/venv/lib/python3.11/site-packages/openstackclient/image/v2/image.py",
        line=812,
        function="take_action",
        module="openstackclient.image.v2.image",
        cls="ListImage",
    )
    discovery = Call(
        run_id=run_id,
        method="GET",
        url=KEYSTONE + "/",
        start=start,
        status=300,
        reason="Multiple Choices",
        time_to_headers=0.004,
        duration=0.005,
        request_headers=[
            ("User-Agent", "openstacksdk/4.0 keystoneauth1/5.8"),
            ("Accept", "application/json"),
        ],
        response_headers=[("Content-Type", "application/json")],
        response_body=_json({"versions": {"values": [{"id": "v3.14"}]}}),
        pid=4242,
        process_name="openstack",
    )
    token = Call(
        run_id=run_id,
        method="POST",
        url=KEYSTONE + "/v3/auth/tokens",
        start=start + 0.01,
        status=201,
        reason="Created",
        time_to_headers=0.080,
        duration=0.082,
        request_headers=[("Content-Type", "application/json")],
        request_body=_json(
            {
                "auth": {
                    "identity": {
                        "methods": ["password"],
                        "password": {"user": {"name": "admin", "password": "{SHA256}5e884898da280471"}},
                    }
                }
            }
        ),
        response_headers=[
            ("Content-Type", "application/json"),
            ("X-Subject-Token", "{SHA256}9f86d081884c7d65"),
            ("x-openstack-request-id", "req-0001"),
        ],
        response_body=_json({"token": {"catalog": "<removed>"}}),
        request_id="req-0001",
        pid=4242,
        process_name="openstack",
    )
    images = Call(
        run_id=run_id,
        method="GET",
        url=GLANCE + "/v2/images?limit=25&sort_key=name",
        start=start + 0.10,
        status=200,
        reason="OK",
        time_to_headers=0.045,
        duration=0.050,
        request_headers=[("X-Auth-Token", "{SHA256}9f86d081884c7d65"), ("traceparent", "00-aa-bb-01")],
        response_headers=[("Content-Type", "application/json"), ("X-Openstack-Request-Id", "req-0002")],
        response_body=_json({"images": [{"id": IMAGE_ID, "name": "cirros"}]}),
        request_id="req-0002",
        call_site=site,
        stack=["image.py:812:take_action"],
        pid=4242,
        process_name="openstack",
        peer=Peer(
            service_type="image",
            service_name="glance",
            interface="public",
            region="RegionOne",
            endpoint=GLANCE,
        ),
    )
    served = Call(
        run_id=server_run,
        method="GET",
        url=GLANCE + "/v2/images?limit=25&sort_key=name",
        start=start + 0.101,
        side=SERVER,
        trace_id=images.trace_id,
        parent_span_id=images.span_id,
        status=200,
        reason="OK",
        time_to_headers=0.040,
        duration=0.044,
        local_service="glance-api",
        pid=777,
        process_name="glance-api",
        handler="ImagesController.index",
        app="glance.api.v2.router:API",
        request_id="req-0002",
    )
    served.layers = [
        Layer(
            span_id=served.span_id,
            order=0,
            name="cors",
            factory="oslo_middleware:CORS.factory",
            enter_offset=0.0,
            exit_offset=0.043,
            status=200,
        ),
        Layer(
            span_id=served.span_id,
            order=1,
            name="authtoken",
            factory="keystonemiddleware.auth_token:filter_factory",
            enter_offset=0.001,
            exit_offset=0.042,
            status=200,
        ),
    ]
    validate = Call(
        run_id=server_run,
        method="GET",
        url=KEYSTONE + "/v3/auth/tokens",
        start=start + 0.102,
        trace_id=images.trace_id,
        parent_span_id=served.span_id,
        status=200,
        reason="OK",
        time_to_headers=0.010,
        duration=0.011,
        local_service="glance-api",
        pid=777,
        process_name="glance-api",
        request_headers=[("X-Subject-Token", "{SHA256}9f86d081884c7d65")],
    )
    download = Call(
        run_id=run_id,
        method="GET",
        url=GLANCE + f"/v2/images/{IMAGE_ID}/file",
        start=start + 0.20,
        status=200,
        reason="OK",
        time_to_headers=0.010,
        duration=0.300,
        response_headers=[("Content-Type", "application/octet-stream")],
        response_body=Body(
            kind=BODY_STREAM, content_type="application/octet-stream", size=13_287_936, sha256="ab" * 32
        ),
        pid=4242,
        process_name="openstack",
    )
    missing = Call(
        run_id=run_id,
        method="GET",
        url=GLANCE + "/v2/images/%s" % ("0" * 32),
        start=start + 0.55,
        status=404,
        reason="Not Found",
        time_to_headers=0.006,
        duration=0.007,
        response_headers=[("Content-Type", "text/plain")],
        response_body=Body(kind=BODY_TEXT, text="404 Not Found", content_type="text/plain", size=13),
        pid=4242,
        process_name="openstack",
    )
    broken = Call(
        run_id=run_id,
        method="GET",
        url="http://127.0.0.1:9/v2.1/servers",
        start=start + 0.6,
        duration=0.001,
        error_type="ConnectionError",
        error_message="connection refused",
        pid=4242,
        process_name="openstack",
    )
    return [discovery, token, images, served, validate, download, missing, broken]


def write_sample_run(db: Path, label: str = "openstack image list") -> str:
    """Write the sample run (and glance's server records) to the store at ``db``; its id."""
    with Store(str(db)) as store:
        run = Run(
            label=label,
            argv=label.split(),
            cwd="/home/me",
            host="devbox",
            user="me",
            started=T0,
            ended=T0 + 1.0,
            exit_code=0,
        )
        store.add_run(run)
        store.add_calls(sample_calls(run.id))
        store.add_catalog(run.id, CATALOG)
    return run.id


def write_run(
    db: Path, calls: list[tuple[str, str, int, float]], label: str = "cmd", start: float = T0
) -> str:
    """A run of simple client calls ``(method, url, status, duration)`` one after another."""
    with Store(str(db)) as store:
        run = Run(label=label, argv=label.split(), started=start, ended=start + 10, exit_code=0)
        store.add_run(run)
        out = []
        at = start
        for method, url, status, duration in calls:
            out.append(
                Call(
                    run_id=run.id,
                    method=method,
                    url=url,
                    start=at,
                    status=status,
                    duration=duration,
                    time_to_headers=duration * 0.9,
                )
            )
            at += duration + 0.001
        store.add_calls(out)
        store.add_catalog(run.id, CATALOG)
    return run.id
