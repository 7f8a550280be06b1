"""A ``server create --wait`` as nova records it, written to a real Store: every record kind.

The OSC's ``POST /servers`` (nova-api's server record under it), nova-api's cast to the
conductor (its handling under it, with a SQL statement), the conductor's call to the scheduler
(answered, or raising ``NoValidHost_Remote``), its cast to the compute and the compute's
fanout to the schedulers, then the OSC's ``--wait`` polls ``GET /servers/{id}`` (each with
nova-api's record and its neutron call) and the final ``GET`` of ``_prep_server_detail``.
"""

from __future__ import annotations

from pathlib import Path

from stacktap.model import (
    KIND_DB,
    KIND_RPC_CALL,
    KIND_RPC_CAST,
    KIND_RPC_SERVER,
    SERVER,
    Call,
    CallSite,
    Peer,
    Run,
    new_trace_id,
)
from stacktap.store import Store, Trace, load_trace

T0 = 1_750_000_000.0
NOVA = "http://127.0.0.1:8774/v2.1"
NEUTRON = "http://127.0.0.1:9696"
SERVER_ID = "0c9f7b2e-1111-4222-8333-944455556666"
SERVICES_RUN = "services-run"

WAIT = CallSite(file="/venv/lib/python3.12/site-packages/osc_lib/utils/__init__.py", line=310,
                function="wait_for_status")  # fmt: skip
DETAIL = CallSite(file="/venv/lib/python3.12/site-packages/openstackclient/compute/v2/server.py",
                  line=190, function="_prep_server_detail")  # fmt: skip
TAKE_ACTION = CallSite(file="/venv/lib/python3.12/site-packages/openstackclient/compute/v2/server.py",
                       line=1900, function="take_action", cls="CreateServer")  # fmt: skip


class _Clock:
    """Start times one after the other, so the store's order (start order) is the build order;
    and the run's trace id (each run its own, as ``stacktap run`` gives them)."""

    def __init__(self, start: float) -> None:
        self.now = start
        self.trace_id = new_trace_id()

    def tick(self, seconds: float = 0.001) -> float:
        self.now += seconds
        return self.now


def http(run_id: str, clock: _Clock, method: str, base: str, path: str, status: int, duration: float,
         parent: Call | None = None, site: CallSite | None = None, service: str = "nova",
         local_service: str | None = None) -> Call:  # fmt: skip
    """An HTTP client call (to ``service`` of the catalog)."""
    return Call(
        run_id=run_id,
        method=method,
        url=base + path,
        start=clock.tick(),
        trace_id=parent.trace_id if parent else clock.trace_id,
        parent_span_id=parent.span_id if parent else None,
        status=status,
        duration=duration,
        time_to_headers=duration,
        call_site=site,
        local_service=local_service,
        peer=Peer(service_type={"nova": "compute", "neutron": "network"}[service], service_name=service),
    )


def served(client: Call, clock: _Clock, service: str, handler: str) -> Call:
    """The server record of ``client``, recorded by ``service`` itself."""
    return Call(
        run_id=SERVICES_RUN,
        method=client.method,
        url=client.url,
        start=clock.tick(),
        trace_id=client.trace_id,
        parent_span_id=client.span_id,
        side=SERVER,
        local_service=service,
        status=client.status,
        duration=(client.duration or 0) * 0.9,
        handler=handler,
    )


def rpc_send(parent: Call, clock: _Clock, local_service: str, topic: str, method: str, version: str,
             kind: str = KIND_RPC_CAST, server: str | None = None, fanout: bool = False,
             error: str | None = None, duration: float = 0.01) -> Call:  # fmt: skip
    """An oslo.messaging call or cast sent by ``local_service``, as ``rpc_hook`` records one."""
    target = f"nova/{topic}" + (f".{server}" if server else "")
    attributes: dict[str, object] = {"system": "rabbit", "exchange": "nova", "topic": topic,
                                     "fanout": fanout, "version": version}  # fmt: skip
    if server:
        attributes["server"] = server
    if kind == KIND_RPC_CALL and error is None:
        attributes.update(reply_type="list", reply_size=120)
    return Call(
        run_id=SERVICES_RUN,
        method=method,
        url="rabbit://" + target,
        start=clock.tick(),
        trace_id=parent.trace_id,
        parent_span_id=parent.span_id,
        local_service=local_service,
        peer=Peer(service_type="rpc", service_name=topic),
        path_template=target,
        duration=duration,
        kind=kind,
        attributes=attributes,
        error_type=error,
        error_message="No valid host was found." if error else None,
    )


def rpc_dispatch(
    send: Call, clock: _Clock, local_service: str, endpoint: str, error: str | None = None
) -> Call:
    """The handling of ``send`` by ``local_service``'s ``endpoint.method``."""
    handler = f"{endpoint}.{send.method}"
    return Call(
        run_id=SERVICES_RUN,
        method=send.method,
        url=f"rpc://{local_service}/{handler}",
        start=clock.tick(),
        trace_id=send.trace_id,
        parent_span_id=send.span_id,
        side=SERVER,
        local_service=local_service,
        handler=handler,
        path_template=handler,
        duration=(send.duration or 0) * 0.8,
        kind=KIND_RPC_SERVER,
        attributes={"version": "6.2"},
        error_type=error,
    )


def sql(parent: Call, clock: _Clock) -> Call:
    """One statement the handler ran."""
    return Call(
        run_id=SERVICES_RUN,
        method="SELECT",
        url="mysql+pymysql://nova@127.0.0.1/nova",
        start=clock.tick(),
        trace_id=parent.trace_id,
        parent_span_id=parent.span_id,
        side=SERVER,
        local_service=parent.local_service,
        duration=0.0005,
        kind=KIND_DB,
        # NOTE: where the SQLAlchemy hook puts it (agent/sqlalchemy_hook.py)
        attributes={
            "statement": "SELECT instances.id FROM instances WHERE instances.uuid = %s",
            "system": "mysql",
            "rowcount": 1,
        },
    )


def server_create_calls(
    run_id: str,
    start: float = T0,
    polls: tuple[int, ...] = (200, 200, 200),
    no_valid_host: bool = False,
    scheduler_version: str = "4.5",
) -> list[Call]:
    """The records of one ``server create --wait`` (see the module docstring)."""
    clock = _Clock(start)
    post = http(run_id, clock, "POST", NOVA, "/servers", 202, 0.5, site=TAKE_ACTION)
    api = served(post, clock, "nova-api", "ServersController.create")
    cast = rpc_send(api, clock, "nova-api", "conductor", "schedule_and_build_instances", "1.17")
    build = rpc_dispatch(cast, clock, "nova-conductor", "ComputeTaskManager")
    calls = [post, api, cast, build, sql(build, clock)]
    select = rpc_send(build, clock, "nova-conductor", "scheduler", "select_destinations", scheduler_version,
                      kind=KIND_RPC_CALL, error="NoValidHost_Remote" if no_valid_host else None)  # fmt: skip
    calls += [select, rpc_dispatch(select, clock, "nova-scheduler", "SchedulerManager",
                                   error="NoValidHost" if no_valid_host else None)]  # fmt: skip
    if not no_valid_host:
        boot = rpc_send(build, clock, "nova-conductor", "compute", "build_and_run_instance", "6.0",
                        server="host1")  # fmt: skip
        handled = rpc_dispatch(boot, clock, "nova-compute", "ComputeManager")
        fanout = rpc_send(handled, clock, "nova-compute", "scheduler", "update_instance_info", "4.2",
                          fanout=True)  # fmt: skip
        calls += [boot, handled, fanout]
    for status in polls:
        poll = http(run_id, clock, "GET", NOVA, f"/servers/{SERVER_ID}", status, 0.05, site=WAIT)
        show = served(poll, clock, "nova-api", "ServersController.show")
        ports = http(SERVICES_RUN, clock, "GET", NEUTRON, "/v2.0/ports", 200, 0.02, parent=show,
                     service="neutron", local_service="nova-api")  # fmt: skip
        clock.tick(2.0)
        calls += [poll, show, ports]
    detail = http(run_id, clock, "GET", NOVA, f"/servers/{SERVER_ID}", 200, 0.05, site=DETAIL)
    return [*calls, detail, served(detail, clock, "nova-api", "ServersController.show")]


def write_server_create(db: Path, label: str = "openstack server create --wait vm1", start: float = T0,
                        **kw: object) -> str:  # fmt: skip
    """Write one ``server create`` run (see ``server_create_calls``) to the store at ``db``; its id."""
    with Store(str(db)) as store:
        run = Run(label=label, argv=label.split(), started=start, ended=start + 30, exit_code=0)
        store.add_run(run)
        store.add_calls(server_create_calls(run.id, start, **kw))  # type: ignore[arg-type]
    return run.id


def load(db: Path, run_id: str) -> Trace:
    with Store(str(db)) as store:
        return load_trace(store, run_id)
