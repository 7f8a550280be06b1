"""Sample records for the export tests: the shapes an export has to get right.

NOTE: a module of its own (not conftest), so test modules can import it by a unique name:
``from conftest import ...`` picks whichever conftest pytest loaded last.
"""

from __future__ import annotations

from tests.fixtures.cloud import GLANCE, KEYSTONE

from stacktap.model import BODY_JSON, Body, Call, CallSite, Layer, Peer

SECRET = "s3cr3t-Passw0rd"
TOKEN_MARK = "{SHA256}5d41402abc4b2a76"


def synthetic_calls(run_id: str) -> list[Call]:
    """A token request, an image list answered by glance (two layers, a token check inside),
    and a failed call: the shapes an export has to get right."""
    token = Call(
        run_id=run_id,
        method="POST",
        url=KEYSTONE + "/v3/auth/tokens",
        start=1000.0,
        duration=0.05,
        time_to_headers=0.04,
        status=201,
        reason="Created",
        process_name="openstack",
        pid=4242,
        host="laptop",
        request_headers=[("User-Agent", "openstacksdk/4 keystoneauth1/5"), ("X-Auth-Token", TOKEN_MARK)],
        request_body=Body(kind=BODY_JSON, text='{"auth": {"password": "' + TOKEN_MARK + '"}}', size=40),
        response_body=Body(kind=BODY_JSON, text='{"token": {"catalog": []}}', size=26),
        request_id="req-token",
        call_site=CallSite(
            file="/venv/site-packages/openstackclient/shell.py",
            line=134,
            function="initialize_app",
            module="openstackclient.shell",
            cls="OpenStackShell",
        ),
        stack=["shell.py:134:initialize_app", "app.py:10:run"],
        peer=Peer(service_type="identity", service_name="keystone", interface="public", region="RegionOne"),
    )
    images = Call(
        run_id=run_id,
        method="GET",
        url=GLANCE + "/v2/images?limit=5",
        start=1000.1,
        duration=0.2,
        status=200,
        reason="OK",
        process_name="openstack",
        pid=4242,
        host="laptop",
        request_id="req-images",
        global_request_id="req-global",
        call_site=CallSite(
            file="/venv/site-packages/openstackclient/image/v2/image.py",
            line=800,
            function="take_action",
            module="openstackclient.image.v2.image",
            cls="ListImage",
        ),
    )
    served = Call(
        run_id="glance-run",
        side="server",
        method="GET",
        url=GLANCE + "/v2/images?limit=5",
        start=1000.11,
        duration=0.15,
        status=200,
        trace_id=images.trace_id,
        parent_span_id=images.span_id,
        local_service="glance-api",
        process_name="glance-api",
        pid=777,
        host="controller",
        handler="ImagesController.index",
        request_id="req-images",
    )
    served.layers = [
        Layer(
            span_id=served.span_id,
            order=0,
            name="cors",
            factory="oslo_middleware.cors:filter_factory",
            enter_offset=0.001,
            exit_offset=0.149,
            status=200,
        ),
        Layer(
            span_id=served.span_id,
            order=1,
            name="authtoken",
            enter_offset=0.002,
            exit_offset=0.14,
            status=200,
        ),
    ]
    validate = Call(
        run_id="glance-run",
        method="GET",
        url=KEYSTONE + "/v3/auth/tokens",
        start=1000.12,
        duration=0.01,
        status=200,
        trace_id=images.trace_id,
        parent_span_id=served.span_id,
        local_service="glance-api",
        process_name="glance-api",
        pid=777,
        host="controller",
        request_headers=[("X-Subject-Token", TOKEN_MARK)],
    )
    broken = Call(
        run_id=run_id,
        method="GET",
        url=GLANCE + "/v2/images/3f0c6ad8-1c55-4a0e-9c5c-2d6d1c3a5b7e",
        start=1000.4,
        duration=0.01,
        status=503,
        reason="Service Unavailable",
        process_name="openstack",
        pid=4242,
        host="laptop",
    )
    refused = Call(
        run_id=run_id,
        method="GET",
        url="http://127.0.0.1:8774/v2.1/servers",
        start=1000.5,
        duration=0.001,
        error_type="ConnectionError",
        error_message="connection refused",
        process_name="openstack",
        pid=4242,
        host="laptop",
    )
    return [token, images, served, validate, broken, refused]
