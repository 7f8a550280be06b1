"""One ``openstack image ...`` run for the log/curl/table tests, redacted by the real Redactor
and written to a real Store: discovery, password auth (token + catalog), an image list that
glance serves (server record with layers, its own token validation), a binary upload, and a
call that fails without a response."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fixtures.cloud import GLANCE, KEYSTONE, NOVA

from stacktap.model import (
    BODY_BINARY,
    Body,
    Call,
    CallSite,
    CatalogEntry,
    Layer,
    Run,
)
from stacktap.redact import Redactor
from stacktap.store import Store, Trace, load_trace

IMAGE_ID = "9e8d7c6b-5a49-4838-a271-605f4e3d2c1b"
T0 = 1_750_000_000.0
PASSWORD = "s3cret-Passw0rd"
USER_TOKEN = "gAAAAABuserTOKEN" + "x" * 80
SERVICE_TOKEN = "gAAAAABserviceTOKEN" + "y" * 80
CATALOG = [
    CatalogEntry("identity", KEYSTONE + "/v3", "keystone", "public", "RegionOne"),
    CatalogEntry("identity", KEYSTONE + "/v3", "keystone", "admin", "RegionOne"),
    CatalogEntry("image", GLANCE, "glance", "public", "RegionOne"),
    CatalogEntry("compute", NOVA, "nova", "internal", "RegionOne"),
    CatalogEntry("compute", NOVA, "nova", "public", "RegionOne"),
]
SITE = CallSite(
    file="/venv/lib/python3.12/site-packages/openstackclient/image/v2/image.py",
    line=900,
    function="take_action",
    cls="ListImage",
)


def redacted_body(redactor: Redactor, document: object) -> Body:
    raw = json.dumps(document)
    kind, text = redactor.body_text(raw, "application/json")
    return Body(kind=kind, text=text, content_type="application/json", size=len(raw))


def client_call(redactor: Redactor, run_id: str, method: str, url: str, start: float, **kw: object) -> Call:
    headers = [
        ("User-Agent", "python-openstackclient keystoneauth1/5.0"),
        ("Accept", "application/json"),
        ("Accept-Encoding", "gzip, deflate"),
        ("Content-Length", "0"),
        ("traceparent", "00-x-y-01"),
    ]
    headers += kw.pop("extra_headers", [])  # type: ignore[operator]
    kw.setdefault("duration", 0.02)
    kw.setdefault("call_site", SITE)
    call = Call(
        run_id=run_id,
        method=method,
        url=redactor.url(url),
        start=start,
        request_headers=redactor.headers(headers),
        **kw,
    )  # type: ignore[arg-type]
    call.response_headers = redactor.headers(call.response_headers)
    return call


def sample_calls(run: Run) -> list[Call]:
    r = Redactor()
    catalog = [
        {
            "type": e.service_type,
            "name": e.service_name,
            "endpoints": [{"interface": e.interface, "region": e.region, "url": e.url}],
        }
        for e in CATALOG
    ]
    discovery = client_call(
        r,
        run.id,
        "GET",
        KEYSTONE + "/",
        T0,
        status=300,
        reason="Multiple Choices",
        response_body=redacted_body(r, {"versions": {"values": [{"id": "v3.14"}]}}),
        response_headers=[("Content-Type", "application/json")],
    )
    auth = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": "admin", "domain": {"id": "default"}, "password": PASSWORD}},
            }
        }
    }
    token = client_call(
        r,
        run.id,
        "POST",
        KEYSTONE + "/v3/auth/tokens",
        T0 + 0.05,
        status=201,
        reason="Created",
        extra_headers=[("Content-Type", "application/json")],
        request_body=redacted_body(r, auth),
        response_headers=[
            ("X-Subject-Token", USER_TOKEN),
            ("Content-Type", "application/json"),
            ("x-openstack-request-id", "req-token"),
        ],
        response_body=redacted_body(r, {"token": {"methods": ["password"], "catalog": catalog}}),
        request_id="req-token",
    )
    images = client_call(
        r,
        run.id,
        "GET",
        GLANCE + "/v2/images?limit=2",
        T0 + 0.2,
        status=200,
        reason="OK",
        extra_headers=[("X-Auth-Token", USER_TOKEN)],
        duration=0.12,
        request_id="req-images",
        response_headers=[("Content-Type", "application/json")],
        response_body=redacted_body(r, {"images": [{"id": IMAGE_ID, "name": "cirros"}]}),
    )
    server = Call(
        run_id="glance-run",
        method="GET",
        url="/v2/images?limit=2",
        start=T0 + 0.205,
        side="server",
        trace_id=images.trace_id,
        parent_span_id=images.span_id,
        status=200,
        reason="OK",
        duration=0.1,
        local_service="glance-api",
        handler="ImagesController.index",
        request_headers=r.headers([("X-Auth-Token", USER_TOKEN)]),
        request_id="req-images",
    )
    server.layers = [
        Layer(span_id=server.span_id, order=i, name=name)
        for i, name in enumerate(["cors", "authtoken", "context"])
    ]
    validate = client_call(
        r,
        "glance-run",
        "GET",
        KEYSTONE + "/v3/auth/tokens",
        T0 + 0.21,
        status=200,
        reason="OK",
        trace_id=images.trace_id,
        parent_span_id=server.span_id,
        local_service="glance-api",
        call_site=None,
        extra_headers=[("X-Auth-Token", SERVICE_TOKEN), ("X-Subject-Token", USER_TOKEN)],
    )
    upload = client_call(
        r,
        run.id,
        "PUT",
        f"{GLANCE}/v2/images/{IMAGE_ID}/file",
        T0 + 0.5,
        status=204,
        reason="No Content",
        extra_headers=[("X-Auth-Token", USER_TOKEN), ("Content-Type", "application/octet-stream")],
        request_body=Body(
            kind=BODY_BINARY, content_type="application/octet-stream", size=13631488, sha256="ab" * 32
        ),
    )
    failed = client_call(
        r,
        run.id,
        "GET",
        NOVA + "/servers/detail",
        T0 + 0.9,
        status=None,
        extra_headers=[("X-Auth-Token", USER_TOKEN)],
        error_type="ConnectionError",
        error_message="Max retries exceeded",
        duration=0.003,
    )
    return [discovery, token, images, server, validate, upload, failed]


def write_sample(db: Path) -> Trace:
    """Store the sample run (and its catalog) in ``db``; return it loaded back."""
    with Store(str(db)) as store:
        run = Run(
            label="image list",
            argv=["openstack", "image", "list"],
            started=T0 - 0.1,
            ended=T0 + 1.0,
            exit_code=1,
        )
        store.add_run(run)
        store.add_calls(sample_calls(run))
        store.add_catalog(run.id, CATALOG)
        return load_trace(store, run.id)
