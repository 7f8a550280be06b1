"""Compare two runs call by call: what ``server list --long`` does that ``server list``
does not, or what changed between two releases.

Each run becomes a sequence of steps: consecutive calls to the same (service, method,
path template) fold into one step with a count (polling, paging). difflib's
SequenceMatcher aligns the two step sequences; aligned steps are compared for status,
count and duration (slower or faster beyond both a ratio and an absolute threshold, so
jitter on 3 ms calls is not news).

RPC messages the services sent (with ``--all-calls``) are steps like HTTP calls, keyed by topic,
``call``/``cast``/``fanout`` and RPC method (``api_map.api_key``); their status is ``show``'s
(``reply``, ``sent`` or the remote exception), and a changed RPC API version is a change too.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from stacktap.model import CLIENT, RPC_KINDS, Call
from stacktap.render.api_map import api_key, rpc_version
from stacktap.render.calls import status_text
from stacktap.store.trace import Trace

SAME = " "
ADDED = "+"
REMOVED = "-"
CHANGED = "~"

DEFAULT_RATIO = 1.5
DEFAULT_MIN_DELTA = 0.020  # seconds


@dataclass
class Step:
    """Consecutive calls to one API, folded."""

    key: tuple[str, str, str]  # (service, method, path template)
    calls: list[Call] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.calls)

    @property
    def duration(self) -> float:
        return sum(c.duration or c.time_to_headers or 0.0 for c in self.calls)

    @property
    def statuses(self) -> list[str]:
        return _distinct(status_text(call) for call in self.calls)

    @property
    def versions(self) -> list[str]:
        """The RPC API versions the step's messages were sent with (none for HTTP)."""
        return _distinct(version for version in map(rpc_version, self.calls) if version)

    @property
    def kind(self) -> str:
        """``rpc`` or ``http``."""
        return "rpc" if self.calls and self.calls[0].kind in RPC_KINDS else "http"

    def summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "count": self.count,
            "statuses": self.statuses,
            "duration_ms": round(self.duration * 1000, 1),
        }
        if self.kind == "rpc":
            summary["versions"] = self.versions
        return summary


def _distinct(values: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen


@dataclass
class DiffLine:
    """One line of the diff: a step of A, of B, or of both."""

    op: str  # SAME, ADDED, REMOVED, CHANGED
    key: tuple[str, str, str]
    a: Step | None = None
    b: Step | None = None
    changes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        service, method, path = self.key
        step = self.b or self.a
        return {
            "op": {SAME: "same", ADDED: "added", REMOVED: "removed", CHANGED: "changed"}[self.op],
            "kind": step.kind if step is not None else "http",
            "service": service,
            "method": method,
            "path": path,
            "a": self.a.summary() if self.a else None,
            "b": self.b.summary() if self.b else None,
            "changes": self.changes,
        }


def diff_calls(trace: Trace, all_calls: bool = False) -> list[Call]:
    """The calls a diff compares: the command's own client calls (with ``all_calls``, also
    the calls services made while serving it), in tree order.

    NOTE: tree order, not start order: a service's calls come right after the call they serve.
    By start time they interleave with whatever else ran meanwhile (the conductor's
    ``select_destinations`` before or after the OSC's first ``--wait`` poll, as the scheduler
    and the poll race), and the same boot would align differently from one run to the next.
    The command's own calls are roots, so without ``all_calls`` the order is the same.
    """
    return [c for c in trace.walk() if c.side == CLIENT and (all_calls or c.run_id == trace.run.id)]


def fold(calls: list[Call], trace: Trace | None = None) -> list[Step]:
    """Consecutive calls with the same key become one step."""
    steps: list[Step] = []
    for call in calls:
        key = api_key(call, trace)
        if steps and steps[-1].key == key:
            steps[-1].calls.append(call)
        else:
            steps.append(Step(key=key, calls=[call]))
    return steps


def diff_runs(
    a: Trace,
    b: Trace,
    ratio: float = DEFAULT_RATIO,
    min_delta: float = DEFAULT_MIN_DELTA,
    all_calls: bool = False,
) -> list[DiffLine]:
    """Align the runs' steps; every step of A and of B appears once in the result."""
    steps_a = fold(diff_calls(a, all_calls), a)
    steps_b = fold(diff_calls(b, all_calls), b)
    matcher = difflib.SequenceMatcher(
        None, [s.key for s in steps_a], [s.key for s in steps_b], autojunk=False
    )
    lines: list[DiffLine] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for step_a, step_b in zip(steps_a[i1:i2], steps_b[j1:j2], strict=False):
                changes = _changes(step_a, step_b, ratio, min_delta)
                lines.append(DiffLine(CHANGED if changes else SAME, step_a.key, step_a, step_b, changes))
            continue
        lines.extend(DiffLine(REMOVED, s.key, a=s) for s in steps_a[i1:i2])
        lines.extend(DiffLine(ADDED, s.key, b=s) for s in steps_b[j1:j2])
    return lines


def _changes(a: Step, b: Step, ratio: float, min_delta: float) -> list[str]:
    changes: list[str] = []
    if a.statuses != b.statuses:
        changes.append("status {} -> {}".format("/".join(a.statuses), "/".join(b.statuses)))
    if a.versions != b.versions:
        changes.append("version {} -> {}".format("/".join(a.versions) or "?", "/".join(b.versions) or "?"))
    if a.count != b.count:
        changes.append(f"count {a.count} -> {b.count}")
    slow, fast = max(a.duration, b.duration), min(a.duration, b.duration)
    if slow - fast > min_delta and (fast <= 0 or slow / fast > ratio):
        trend = "slower" if b.duration > a.duration else "faster"
        factor = "" if fast <= 0 else f" ({slow / fast:.1f}x {trend})"
        changes.append(f"time {a.duration * 1000:.1f} -> {b.duration * 1000:.1f} ms{factor}")
    return changes


def render_diff(lines: list[DiffLine], label_a: str, label_b: str, only_changes: bool = False) -> str:
    """A unified-diff-like text: ``+`` only in B, ``-`` only in A, ``~`` changed."""
    shown = [line for line in lines if not only_changes or line.op != SAME]
    out = [f"--- A {label_a}", f"+++ B {label_b}"]
    width = max([len(_api_text(line.key)) for line in shown] + [10])
    for line in shown:
        step = line.b or line.a
        count = f" x{step.count}" if step is not None and step.count > 1 else ""
        if line.op == CHANGED and line.a is not None and line.b is not None and line.a.count != line.b.count:
            count = ""
        detail = "; ".join(line.changes)
        text = f"{line.op} {_api_text(line.key).ljust(width) if detail else _api_text(line.key)}{count}"
        out.append((text + ("  " + detail if detail else "")).rstrip())
    counts = {op: sum(1 for line in lines if line.op == op) for op in (ADDED, REMOVED, CHANGED, SAME)}
    out.append(
        f"{counts[ADDED]} added, {counts[REMOVED]} removed, {counts[CHANGED]} changed, {counts[SAME]} same"
    )
    return "\n".join(out) + "\n"


def _api_text(key: tuple[str, str, str]) -> str:
    service, method, path = key
    return f"{service} {method} {path}"
