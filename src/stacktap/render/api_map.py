"""The API map: which APIs a command needs.

Each distinct (caller, service, method, path template) across one or many runs, with how
often it was called, in how many of the runs, and the statuses seen. The caller column
keeps the command's own calls (the ones the user's policies must allow) apart from the
calls services made while serving them (token validation with service credentials...).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from stacktap.model import SERVER, Call
from stacktap.paths import path_template
from stacktap.store.trace import Trace, service_label

COLUMNS = ("Caller", "Service", "Method", "Path", "Calls", "Runs", "Statuses")


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


def api_key(call: Call) -> tuple[str, str, str]:
    """(service, method, path template): what makes two calls "the same API"."""
    service = (call.local_service or "?") if call.side == SERVER else service_label(call)
    template = call.path_template or path_template(urlsplit(call.url).path or "/")
    return service, call.method.upper(), template or "/"


def api_map(traces: Iterable[Trace], include_server: bool = False) -> list[ApiUse]:
    """The APIs used in ``traces``, in order of first use."""
    uses: dict[tuple[str, str, str, str], ApiUse] = {}
    for trace in traces:
        for call in trace.calls:
            if call.side == SERVER and not include_server:
                continue
            service, method, path = api_key(call)
            key = (caller_of(call, trace), service, method, path)
            use = uses.get(key)
            if use is None:
                use = uses[key] = ApiUse(caller=key[0], service=service, method=method, path=path)
            use.calls += 1
            if trace.run.id not in use.run_ids:
                use.run_ids.append(trace.run.id)
            status = str(call.status) if call.status is not None else (call.error_type or "none")
            if status not in use.statuses:
                use.statuses.append(status)
    return list(uses.values())


def api_rows(uses: Sequence[ApiUse]) -> list[tuple[str, str, str, str, int, int, str]]:
    """Rows for ``emit_rows(COLUMNS, ...)``."""
    return [use.row() for use in uses]
