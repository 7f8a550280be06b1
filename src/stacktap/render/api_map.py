"""The API map: which APIs a command needs.

Each distinct (caller, service, method, path template) across one or many runs, with how
often it was called, in how many of the runs, and the statuses seen. The caller column
keeps the command's own calls (the ones the user's policies must allow) apart from the
calls services made while serving them (token validation with service credentials...).

RPC records are APIs too: the topic's service (``conductor``), how the message went
(``call``, ``cast`` or ``fanout``) and the RPC method (``select_destinations``), the RPC API
version beside it in the map (``select_destinations v4.5``); their server side is the endpoint
method that handled it (``ComputeManager.build_and_run_instance``). SQL statements are never
calls of a trace (``Trace.db_calls``), so never APIs here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from stacktap.model import KIND_RPC_CALL, KIND_RPC_CAST, KIND_RPC_SERVER, RPC_KINDS, SERVER, Call
from stacktap.paths import path_template
from stacktap.render.calls import status_text
from stacktap.store.trace import Trace, service_label

COLUMNS = ("Caller", "Service", "Method", "Path", "Calls", "Runs", "Statuses")

#: The Method of an RPC record: how its message went.
RPC_CALL = "call"  # waited for the reply
RPC_CAST = "cast"  # published to one server of the topic
RPC_FANOUT = "fanout"  # published to every server of the topic
RPC_DISPATCH = "rpc"  # a handled message whose sender this trace does not have


@dataclass
class ApiUse:
    """One API of the map and how it was used."""

    caller: str
    service: str
    method: str
    path: str
    calls: int = 0
    run_ids: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)

    def row(self) -> tuple[str, str, str, str, int, int, str]:
        return (
            self.caller,
            self.service,
            self.method,
            self.path,
            self.calls,
            len(self.run_ids),
            ", ".join(self.statuses),
        )


def caller_of(call: Call, trace: Trace) -> str:
    """Who made the call: the traced command (its program name), or the service it ran in."""
    if call.side == SERVER:
        return "(server)"
    if call.local_service:
        return call.local_service
    if call.run_id == trace.run.id and trace.run.argv:
        return trace.run.argv[0].rsplit("/", 1)[-1]
    return call.process_name or "client"


def rpc_method(call: Call, trace: Trace | None = None) -> str:
    """``call``, ``cast`` or ``fanout`` for an RPC record; a handled message (server side) takes
    its sender's (its parent in ``trace``), ``rpc`` when the trace does not have it."""
    if call.kind == KIND_RPC_SERVER:
        sender = trace.parent(call) if trace is not None else None
        if sender is None or sender.kind not in (KIND_RPC_CALL, KIND_RPC_CAST):
            return RPC_DISPATCH
        call = sender
    if call.kind == KIND_RPC_CALL:
        return RPC_CALL
    if call.kind == KIND_RPC_CAST and call.attributes.get("fanout"):
        return RPC_FANOUT
    return RPC_CAST


def api_key(call: Call, trace: Trace | None = None) -> tuple[str, str, str]:
    """(service, method, path template): what makes two calls "the same API".

    For RPC: (the topic, or the serving process; ``call``/``cast``/``fanout``; the RPC method,
    or the endpoint method on the server side). The RPC API version is not part of it: a diff
    reports a version change as a change of the same step.
    """
    service = (call.local_service or "?") if call.side == SERVER else service_label(call)
    if call.kind in RPC_KINDS:
        path = (call.handler or call.path_template or call.method) if call.side == SERVER else call.method
        return service, rpc_method(call, trace), path
    template = call.path_template or path_template(urlsplit(call.url).path or "/")
    return service, call.method.upper(), template or "/"


def rpc_version(call: Call) -> str | None:
    """The RPC API version a client record sent (``4.5``), if known; None for HTTP and for the
    server side (whose version is the endpoint's, not the message's)."""
    if call.kind not in (KIND_RPC_CALL, KIND_RPC_CAST):
        return None
    version = call.attributes.get("version")
    return str(version) if version else None


def api_map(traces: Iterable[Trace], include_server: bool = False) -> list[ApiUse]:
    """The APIs used in ``traces``, in order of first use."""
    uses: dict[tuple[str, str, str, str], ApiUse] = {}
    for trace in traces:
        for call in trace.calls:
            if call.side == SERVER and not include_server:
                continue
            service, method, path = api_key(call, trace)
            version = rpc_version(call)
            if version:
                path = f"{path} v{version}"
            key = (caller_of(call, trace), service, method, path)
            use = uses.get(key)
            if use is None:
                use = uses[key] = ApiUse(caller=key[0], service=service, method=method, path=path)
            use.calls += 1
            if trace.run.id not in use.run_ids:
                use.run_ids.append(trace.run.id)
            status = status_text(call)
            if status not in use.statuses:
                use.statuses.append(status)
    return list(uses.values())


def api_rows(uses: Sequence[ApiUse]) -> list[tuple[str, str, str, str, int, int, str]]:
    """Rows for ``emit_rows(COLUMNS, ...)``."""
    return [use.row() for use in uses]
