"""Server-side tracing on the dev cloud: one trace holds the client calls, the glance/nova
server records (layers, controller) and their token validations by keystone."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest

from stacktap.model import CLIENT, SERVER, Call
from stacktap.store import Store, Trace, load_trace

pytestmark = pytest.mark.e2e


def _traced_command(devcloud, *args: str) -> Trace:  # type: ignore[no-untyped-def]
    if not devcloud.traced:
        pytest.fail("the dev cloud runs untraced: this stacktap lacks the server-tracing pieces")
    label = f"server-e2e-{uuid.uuid4().hex[:8]}"
    command = [
        *devcloud.stacktap,
        "run",
        "--db",
        str(devcloud.db),
        "--label",
        label,
        "--",
        str(devcloud.openstack),
        *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=devcloud.env, check=False)
    assert done.returncode == 0, done.stderr
    with Store(str(devcloud.db)) as store:
        [run] = [r for r in store.runs() if r.label == label]
        return load_trace(store, run.id)


def _server_call(trace: Trace, service: str, path_end: str) -> Call:
    found = [
        c
        for c in trace.calls
        if c.side == SERVER and c.local_service == service and c.url.split("?")[0].endswith(path_end)
    ]
    assert found, [(c.side, c.local_service, c.url) for c in trace.calls]
    return found[0]


def _check_token_validation(trace: Trace, server: Call) -> None:
    """The service validated the user's token with keystone while serving: a child call,
    and keystone's own server record of it below that."""
    children = trace.children(server)
    validations = [c for c in children if c.side == CLIENT and "/v3/auth/tokens" in c.url]
    assert validations, [(c.side, c.method, c.url) for c in children]
    keystone_side = [c for c in trace.children(validations[0]) if c.side == SERVER]
    assert keystone_side and keystone_side[0].local_service == "keystone"
    assert keystone_side[0].trace_id == server.trace_id
    # keystone is Flask behind webob middlewares: its records still name the view that answered
    [validate] = [c for c in validations if c.method == "GET"]
    [answered] = [c for c in trace.children(validate) if c.side == SERVER]
    assert answered.handler == "AuthTokenResource.get"


def test_image_list_gives_one_trace_with_glance_and_keystone(devcloud) -> None:  # type: ignore[no-untyped-def]
    trace = _traced_command(devcloud, "image", "list")
    glance = _server_call(trace, "glance-api", "/v2/images")
    assert glance.handler == "ImagesController.index"
    assert glance.status == 200
    # the handler's source: glance's own file, at the line of ``def index``
    site = glance.call_site
    assert site is not None and site.file.endswith("glance/api/v2/images.py"), site
    with open(site.file, encoding="utf-8") as source:
        assert source.read().splitlines()[site.line - 1].lstrip().startswith("def index("), site
    names = [layer.name for layer in glance.layers]
    assert "authtoken" in names and names.index("cors") < names.index("authtoken")
    assert not any(layer.answered for layer in glance.layers)
    client = trace.parent(glance)
    assert client is not None and client.side == CLIENT and client.run_id == trace.run.id
    _check_token_validation(trace, glance)
    assert len({c.trace_id for c in trace.calls if c.run_id == trace.run.id}) == 1


def test_server_list_reaches_the_nova_controller(devcloud) -> None:  # type: ignore[no-untyped-def]
    trace = _traced_command(devcloud, "server", "list")
    nova = _server_call(trace, "nova-api", "/servers/detail")
    assert nova.handler == "ServersController.detail"
    assert [layer.name for layer in nova.layers][-1] == "keystonecontext"
    assert nova.app is not None and "APIRouterV21" in nova.app
    _check_token_validation(trace, nova)


def test_the_password_never_reaches_the_server_records(devcloud) -> None:  # type: ignore[no-untyped-def]
    trace = _traced_command(devcloud, "token", "issue")
    servers = [c for c in trace.calls if c.side == SERVER]
    assert servers
    dump = json.dumps(
        [[c.url, c.request_headers, c.request_body.text, c.response_body.text] for c in servers]
    )
    assert devcloud.password not in dump


def _paste_show(devcloud, *args: str) -> list[dict]:  # type: ignore[no-untyped-def]
    done = subprocess.run(
        [*devcloud.stacktap, "paste", "show", *args, "-f", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_paste_show_on_the_dev_cloud_configs(devcloud) -> None:  # type: ignore[no-untyped-def]
    venv = Path(devcloud.bin).parent
    nova = _paste_show(devcloud, str(venv / "etc/nova/api-paste.ini"), "/v2.1/servers/detail")
    assert [s["name"] for s in nova][:3] == ["osapi_compute", "openstack_compute_api_v21", "cors"]
    assert nova[-1]["factory"] == "nova.api.openstack.compute:APIRouterV21.factory"
    glance = _paste_show(
        devcloud, str(venv / "etc/glance/glance-api-paste.ini"), "/v2/images", "--flavor", "keystone"
    )
    assert glance[-1]["name"] == "apiv2app"
    instrumented = sorted(Path(devcloud.dir).rglob("glance-api-paste.ini"))
    instrumented = [p for p in instrumented if "stacktap" in p.read_text()]
    assert instrumented, "the traced dev cloud's glance paste file is not instrumented"
    steps = _paste_show(devcloud, str(instrumented[0]), "/v2/images", "--flavor", "keystone")
    assert next(s["name"] for s in steps if s["kind"] == "filter") == "stacktap"
