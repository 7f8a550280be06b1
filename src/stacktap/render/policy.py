"""``stacktap policy``: the oslo.policy rules runs needed, per service, and a policy-file skeleton.

Each server record carries the rules its service checked while handling it
(``Call.policy_checks``). Here they are gathered over one or more runs: one row per
(service, rule), in the order the rules were first checked, with the results seen and the
calls (as ``stacktap show`` numbers them) that checked them.

The skeleton (``policy_file``) grants a role every rule the commands' own requests checked:
what a custom role needs to repeat those runs. It is a starting point, printed as such.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from stacktap.model import CLIENT, POLICY_ALLOWED, SERVER, Call, PolicyCheck
from stacktap.store.trace import Trace

#: Table columns; the machine formats (json/yaml/value) also get ``EXTRA_COLUMNS``.
COLUMNS = ["Service", "Rule", "Result", "Caller", "Calls"]
EXTRA_COLUMNS = ["Check", "Roles", "Errors"]

#: The caller of a request the traced command made itself (not a service's own call).
COMMAND = "command"

#: Rules services check on every request to decide whether the context is an admin context
#: (nova, glance, cinder...): granting them would make the role an admin, so the skeleton
#: leaves them out (they never refuse a request).
ADMIN_PROBES = frozenset(["context_is_admin"])


@dataclass
class RuleUse:
    """One rule of one service, over the runs: what it resolved to, results, callers, calls."""

    service: str
    rule: str
    check: str | None = None
    results: list[str] = field(default_factory=list)  # distinct, in order seen
    callers: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)  # ``#8 POST /v2.1/flavors 403``
    denied_calls: list[str] = field(default_factory=list)

    @property
    def denied(self) -> bool:
        return any(result != POLICY_ALLOWED for result in self.results)


def _add(values: list[str], value: str | None) -> None:
    if value and value not in values:
        values.append(value)


def caller(trace: Trace, server: Call) -> str:
    """Who made the request a server record answers: the command, or a service (its name)."""
    parent = trace.parent(server)
    if parent is None or parent.side != CLIENT:
        return COMMAND if parent is None else (parent.local_service or "?")
    if parent.local_service:
        return parent.local_service
    return COMMAND if parent.run_id == trace.run.id else (parent.process_name or "?")


def _call_label(trace: Trace, call: Call, many: bool) -> str:
    from urllib.parse import urlsplit

    number = f"{trace.run.id}#{call.seq}" if many else f"#{call.seq}"
    status = "" if call.status is None else f" {call.status}"
    # NOTE: the path template (``/v2/images/{image_id}``): ids make long cells and say little.
    return f"{number} {call.method} {call.path_template or urlsplit(call.url).path}{status}"


def rule_uses(traces: Sequence[Trace]) -> list[RuleUse]:
    """The rules checked in ``traces``, one per (service, rule), in the order first checked."""
    uses: dict[tuple[str, str], RuleUse] = {}
    many = len(traces) > 1
    for trace in traces:
        servers = sorted((c for c in trace.calls if c.side == SERVER and c.policy_checks), key=_first_check)
        for server in servers:
            service = server.local_service or "?"
            label = _call_label(trace, server, many)
            who = caller(trace, server)
            for check in server.policy_checks:
                use = uses.get((service, check.rule))
                if use is None:
                    use = uses[(service, check.rule)] = RuleUse(service=service, rule=check.rule)
                use.check = use.check or check.check
                _add(use.results, check.result)
                _add(use.callers, who)
                _add(use.errors, check.error)
                for role in check.creds.get("roles") or []:
                    _add(use.roles, str(role))
                shown = f"{label} (x{check.count})" if check.count > 1 else label
                _add(use.calls, shown)
                if check.result != POLICY_ALLOWED:
                    _add(use.denied_calls, shown)
    return list(uses.values())


def _first_check(call: Call) -> float:
    return call.start + (call.policy_checks[0].offset if call.policy_checks else 0.0)


def policy_rows(
    uses: Sequence[RuleUse], denied_only: bool = False, extra: bool = False, structured: bool = False
) -> list[list[Any]]:
    """Rows of ``COLUMNS`` (plus ``EXTRA_COLUMNS`` with ``extra``); ``denied_only``: the rules
    refused at least once, with only the calls that were refused. ``structured``: list cells
    stay lists (json/yaml), else they are joined with ", "."""

    def cell(values: list[str]) -> Any:
        return list(values) if structured else ", ".join(values)

    rows: list[list[Any]] = []
    for use in uses:
        if denied_only and not use.denied:
            continue
        calls = use.denied_calls if denied_only else use.calls
        row: list[Any] = [
            use.service,
            use.rule,
            ", ".join(use.results),
            ", ".join(use.callers),
            cell(calls),
        ]
        if extra:
            row += [use.check, cell(use.roles), cell(use.errors)]
        rows.append(row)
    return rows


def _quoted(text: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def policy_file(traces: Sequence[Trace], role: str) -> str:
    """A policy-file skeleton granting ``role:<role>`` every rule the commands' requests checked."""
    uses = [u for u in rule_uses(traces) if COMMAND in u.callers and u.rule not in ADMIN_PROBES]
    grant = _quoted(f"role:{role}")
    runs = ", ".join(f"{t.run.id} ({t.run.label or ' '.join(t.run.argv) or t.run.kind})" for t in traces)
    lines = [
        "# A STARTING POINT for a custom role, generated by `stacktap policy --as-policy-file`:",
        "# review every rule before use; it is not a reviewed policy.",
        f"# It grants role:{role} exactly the oslo.policy rules these runs checked: {runs}.",
        "# Rules the services checked for their own calls (token validation...) are not included,",
        "# nor " + ", ".join(sorted(ADMIN_PROBES)) + " (granting it would make the role an admin).",
        "# The grant drops the default's conditions (project ownership, scope): add back those",
        f'# your cloud needs, e.g. "role:{role} and project_id:%(project_id)s".',
        "# Each service reads its own file ([oslo_policy] policy_file); unknown rules are ignored.",
    ]
    if not uses:
        lines.append("# (no policy checks were recorded for these runs' requests)")
        lines.append("{}")
        return "\n".join(lines) + "\n"
    service = None
    for use in uses:
        if use.service != service:
            service = use.service
            lines += ["", f"# {service}"]
        was = f"  # default: {use.check}" if use.check else ""
        lines.append(f"{_quoted(use.rule)}: {grant}{was}")
    return "\n".join(lines) + "\n"


def denial_note(call: Call) -> str | None:
    """``policy denied: <rule>`` for a 403 that a policy check refused."""
    check: PolicyCheck | None = call.denied_by
    return f"policy denied: {check.rule}" if check is not None else None
