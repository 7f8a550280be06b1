"""RPC in the trace: ``server create`` is one trace from the OSC through nova-api, the conductor,
the scheduler, placement and the compute, hop by hop; RPC arguments are redacted; stacktap's key
in the message context never reaches the service and is harmless to one without stacktap."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from stacktap.launcher.env import tracing_env
from stacktap.model import KIND_RPC_CALL, KIND_RPC_CAST, KIND_RPC_SERVER, Call
from stacktap.store import Store, load_trace

pytestmark = pytest.mark.e2e

SCRIPTS = Path(__file__).parent / "scripts"
BOOT = ["--nic", "none", "--flavor", "m1.tiny", "--image", "devcloud-image", "--wait"]


def _traced(cloud: Any, label: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*cloud.stacktap, "run", "--db", str(cloud.db), "--label", label, "--", str(cloud.openstack), *args],
        env=cloud.env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def _trace(cloud: Any, label: str) -> Any:
    with Store(str(cloud.db), create=False) as store:
        run = next(r for r in store.runs() if r.label == label)
        return load_trace(store, run.id)


@pytest.fixture(scope="module")
def server(devcloud: Any) -> Any:
    if not devcloud.traced:
        pytest.fail("this stacktap cannot trace servers")
    name = "rpc-e2e-" + uuid.uuid4().hex[:8]
    label = "rpc-e2e-" + uuid.uuid4().hex[:8]
    columns = ["-f", "value", "-c", "name", "-c", "status"]
    done = _traced(devcloud, label, "server", "create", *BOOT, *columns, name)
    yield done, name, label
    subprocess.run(
        [str(devcloud.openstack), "server", "delete", "--wait", name],
        env=devcloud.env, capture_output=True, timeout=300, check=False,
    )  # fmt: skip


def _one(calls: list[Call], what: str, **want: Any) -> Call:
    found = [c for c in calls if all(getattr(c, k) == v for k, v in want.items())]
    assert len(found) >= 1, f"no {what} in the trace: {want}"
    return found[0]


def test_server_create_is_one_trace_hop_by_hop(devcloud: Any, server: Any) -> None:
    done, name, label = server
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == [name, "ACTIVE"]  # the output of the untraced command
    trace = _trace(devcloud, label)
    calls = trace.calls
    assert len({c.trace_id for c in calls}) == 1  # one command, one trace
    _one(calls, "the OSC's token request", side="client", method="POST", path_template="/v3/auth/tokens",
         parent_span_id=None, status=201)  # fmt: skip
    post = _one(calls, "OSC's POST /servers", side="client", method="POST", path_template="/v2.1/servers")
    api = _one(trace.children(post), "nova-api's POST /servers", side="server", local_service="nova-api")
    cast = _one(trace.children(api), "the cast to the conductor", kind=KIND_RPC_CAST,
                method="schedule_and_build_instances")  # fmt: skip
    assert cast.url.endswith("/conductor") and cast.local_service == "nova-api"
    conductor = _one(trace.children(cast), "the conductor's handling", kind=KIND_RPC_SERVER,
                     handler="ComputeTaskManager.schedule_and_build_instances")  # fmt: skip
    assert conductor.local_service == "nova-conductor" and conductor.call_site is not None
    select = _one(trace.children(conductor), "the call to the scheduler", kind=KIND_RPC_CALL,
                  method="select_destinations")  # fmt: skip
    assert select.attributes.get("reply_type") and select.error_type is None
    scheduler = _one(trace.children(select), "the scheduler's handling", kind=KIND_RPC_SERVER,
                     handler="SchedulerManager.select_destinations")  # fmt: skip
    assert scheduler.local_service == "nova-scheduler"
    placement = [c for c in trace.children(scheduler) if c.side == "client"]
    assert any(c.path_template == "/allocation_candidates" and c.status == 200 for c in placement)
    assert any(c.method == "PUT" and c.path_template.startswith("/allocations/") for c in placement)
    build = _one(trace.children(conductor), "the cast to the compute", kind=KIND_RPC_CAST,
                 method="build_and_run_instance")  # fmt: skip
    assert build.url.endswith("/compute.stacktap-devcloud")
    compute = _one(trace.children(build), "the compute's handling", kind=KIND_RPC_SERVER,
                   handler="ComputeManager.build_and_run_instance", local_service="nova-compute")  # fmt: skip
    # NOTE: the build runs on a thread pool after the handler returned: its calls still nest under it.
    built = [c for c in trace.children(compute) if c.side == "client"]
    image = _one(built, "the image download", method="GET", path_template="/v2/images/{image_id}/file")
    assert image.status == 200 and image.peer.service_type == "image"
    claims = [c for c in built if c.peer.service_type == "placement"]
    assert any(c.path_template.startswith("/allocations/") for c in claims)
    assert any(c.kind == KIND_RPC_CALL and c.method == "object_action" for c in built)  # instance.save()
    # the SQL nova-api ran for POST /servers, folded on its record
    statements, seconds = trace.db_summary(api)
    assert statements > 0 and seconds > 0


def test_rpc_arguments_are_redacted(devcloud: Any, server: Any) -> None:
    """``admin_password`` travels in schedule_and_build_instances' arguments: never stored."""
    _, name, label = server
    trace = _trace(devcloud, label)
    cast = _one(trace.calls, "the cast", kind=KIND_RPC_CAST, method="schedule_and_build_instances")
    args = json.loads(cast.request_body.text or "{}")
    assert "admin_password" in args and str(args["admin_password"]).startswith("{SHA256}")
    assert name in (cast.request_body.text or "")  # what is not secret stays readable


def test_rebuild_with_password_leaves_no_trace_of_it(devcloud: Any, server: Any, tmp_path: Path) -> None:
    _, name, _ = server
    secret = "Rb-" + uuid.uuid4().hex
    label = "rpc-rebuild-" + uuid.uuid4().hex[:8]
    done = _traced(devcloud, label, "server", "rebuild", "--image", "devcloud-image", "--password", secret,
                   "--wait", name)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    trace = _trace(devcloud, label)
    rebuilds = [c for c in trace.calls if c.kind == KIND_RPC_CAST and c.method == "rebuild_instance"]
    assert rebuilds, sorted({c.method for c in trace.calls if c.kind != "http"})
    for path in devcloud.db.parent.glob(devcloud.db.name + "*"):
        assert secret.encode() not in path.read_bytes(), path
    for args in (["show", label], ["log", label], ["export", label, "--format", "json"],
                 ["export", label, "--format", "har"], ["diagram", label], ["curl", label]):  # fmt: skip
        run_id = trace.run.id
        argv = [a if a != label else run_id for a in args]
        out = subprocess.run([*devcloud.stacktap, *argv, "--db", str(devcloud.db)], capture_output=True,
                             text=True, timeout=120)  # fmt: skip
        assert out.returncode == 0, (argv, out.stderr)
        assert secret not in out.stdout, argv


def test_the_context_key_never_reaches_the_service(devcloud: Any, tmp_path: Path) -> None:
    env = tracing_env(str(tmp_path / "probe.db"), service="rpc-probe", base=devcloud.env)
    done = subprocess.run([str(devcloud.python), str(SCRIPTS / "rpc_context_key.py"), "traced"],
                          env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert "request_id" in answer["seen"] and "stacktap_traceparent" not in answer["seen"]
    with Store(str(tmp_path / "probe.db"), create=False) as store:
        records = [c for r in store.runs() for c in store.calls(r.id)]
    kinds = sorted(c.kind for c in records if c.kind.startswith("rpc"))
    assert kinds == ["rpc.call", "rpc.server"]
    sent = next(c for c in records if c.kind == KIND_RPC_CALL)
    handled = next(c for c in records if c.kind == KIND_RPC_SERVER)
    assert handled.parent_span_id == sent.span_id and handled.trace_id == sent.trace_id
    assert handled.handler == "Endpoint.keys"


def test_a_service_without_stacktap_ignores_the_key(devcloud: Any) -> None:
    """nova's real RequestContext built from a context holding stacktap's key: it works, drops it."""
    done = subprocess.run([str(devcloud.python), str(SCRIPTS / "rpc_context_key.py"), "plain"],
                          env=devcloud.env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert "stacktap_traceparent" in answer["seen"]  # nothing took it out: no stacktap here
    assert "stacktap_traceparent" not in answer["nova"] and "request_id" in answer["nova"]


def _render_checks() -> Any:
    import importlib.util
    import sys

    if "render_checks" in sys.modules:
        return sys.modules["render_checks"]
    path = Path(__file__).resolve().parents[1] / "render" / "render_checks.py"
    spec = importlib.util.spec_from_file_location("render_checks", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["render_checks"] = module
    spec.loader.exec_module(module)
    return module


def test_the_diagram_and_report_show_the_rpc_hops(devcloud: Any, server: Any, tmp_path: Path) -> None:
    _, _, label = server
    run_id = _trace(devcloud, label).run.id
    diagram = subprocess.run([*devcloud.stacktap, "diagram", run_id, "--db", str(devcloud.db)],
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert diagram.returncode == 0, diagram.stderr
    svg = _render_checks().draw("rpc-server-create", diagram.stdout)
    arrows = _render_checks().svg_messages(svg)
    hops = {(text, source, target) for text, source, target in arrows}
    assert ("cast schedule_and_build_instances", "nova", "conductor") in hops
    assert ("call select_destinations", "conductor", "scheduler") in hops
    assert ("reply", "scheduler", "conductor") in hops
    assert ("cast build_and_run_instance", "conductor", "compute") in hops
    # NOTE: what the folding promises for one boot: every call and its answer drawn once (no
    # duplicated server-side arrows), a readable size.
    calls = len(_trace(devcloud, label).calls)
    assert len(arrows) <= 2 * calls and len(arrows) < 250, len(arrows)
    assert len(svg) < 2_000_000
    report = tmp_path / "report.html"
    done = subprocess.run([*devcloud.stacktap, "report", run_id, "-o", str(report), "--db", str(devcloud.db)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    html = report.read_text()
    for hop in ("schedule_and_build_instances", "ComputeTaskManager.schedule_and_build_instances",
                "SchedulerManager.select_destinations", "ComputeManager.build_and_run_instance"):  # fmt: skip
        assert hop in html, hop
    # the report's RPC table: each message with its handler; its database section: nova-api's SQL
    rpc = html[html.index('id="rpc-section"'):html.index("</section>", html.index('id="rpc-section"'))]
    assert "build_and_run_instance" in rpc and "ComputeManager.build_and_run_instance" in rpc
    assert ">reply<" in rpc and ">sent<" in rpc
    db = html[html.index('id="db-section"'):]
    assert "<td>nova-api</td>" in db and "<td>nova-conductor</td>" in db
