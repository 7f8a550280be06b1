"""Which calls the text renderers (``log``, ``curl``) print, and their timing relative to the run.

Calls are numbered by ``Call.seq`` (start order in the run, as ``show`` lists them), so
``stacktap log RUN 3`` is row 3 of ``stacktap show RUN``.
"""

from __future__ import annotations

from collections.abc import Sequence

from stacktap.model import CLIENT, KIND_RPC_CALL, KIND_RPC_CAST, KIND_RPC_SERVER, Call
from stacktap.store.trace import Trace

#: What a status says of an RPC record that did not fail (RPC has no status code).
_RPC_STATUS = {KIND_RPC_CALL: "reply", KIND_RPC_CAST: "sent", KIND_RPC_SERVER: "done"}


def status_text(call: Call) -> str:
    """A call's outcome in one word or two, as ``show``, ``api`` and ``diff`` all say it: the HTTP
    status (``200``); for RPC ``reply`` (a call answered), ``sent`` (a cast published) or
    ``done`` (a message handled); the exception class when it failed (``ConnectionError``,
    ``NoValidHost_Remote``, after the status when there is one); ``-`` when nothing is known."""
    parts = [str(call.status)] if call.status is not None else []
    if call.kind in _RPC_STATUS and not call.failed:
        parts.append(_RPC_STATUS[call.kind])
    if call.failed:
        parts.append(str(call.error_type))
    return " ".join(parts) or "-"


def pick_calls(trace: Trace, numbers: Sequence[int] = ()) -> list[Call]:
    """Calls ``numbers`` (in the order given), or every client call in tree order.

    NOTE: the server-side record of a call repeats the same exchange, so it is printed only
    when asked for by number. Raises ValueError for a number the run does not have.
    """
    if not numbers:
        return [call for call in trace.walk() if call.side == CLIENT]
    by_number = {call.seq: call for call in trace.calls}
    missing = [n for n in numbers if n not in by_number]
    if missing:
        raise ValueError(
            f"run {trace.run.id} has no call {', '.join(str(n) for n in missing)}"
            f" (it has {len(trace.calls)} calls: see stacktap show {trace.run.id})"
        )
    return [by_number[n] for n in numbers]


def run_start(trace: Trace) -> float:
    """Epoch seconds the run started (its first call when the run has no start)."""
    starts = [call.start for call in trace.calls]
    if trace.run.started:
        return trace.run.started
    return min(starts) if starts else 0.0


def offset_ms(trace: Trace, call: Call) -> float:
    """Milliseconds from the run's start to the call's start."""
    return (call.start - run_start(trace)) * 1000.0


def format_ms(seconds: float | None) -> str:
    """``12.3`` (milliseconds, one decimal) or ``-`` when unknown."""
    return "-" if seconds is None else "%.1f" % (seconds * 1000.0)
