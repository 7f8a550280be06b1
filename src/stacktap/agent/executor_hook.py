"""Carry the span being served into the work a service hands to a thread pool.

nova-compute answers ``build_and_run_instance`` by submitting the build to a futurist thread
pool and returning the RPC worker at once; the build (its placement, glance and conductor
calls) then runs on a pool thread, where the span set by the RPC hook is not current: a
``ContextVar`` does not follow work into an executor. Wrapping ``submit`` of the standard
library's and futurist's executors makes the submitted callable run under the span that was
current when it was submitted, and only then (work submitted outside traced requests, such as
periodic tasks, is submitted untouched).

NOTE: standard library only, Python 3.8+ (runs inside traced services).
"""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any, Callable

from stacktap.agent import context
from stacktap.agent.faults import report_fault

_MARK = "_stacktap_carries_span"

#: The executor classes whose ``submit`` is wrapped, per module.
EXECUTORS = {
    "concurrent.futures.thread": ("ThreadPoolExecutor",),
    # NOTE: futurist's executors do not derive from the standard library's: nova's pools are these.
    "futurist._futures": ("ThreadPoolExecutor", "GreenThreadPoolExecutor"),
}


def _under(span: context.SpanContext, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn``, run with ``span`` current on whichever thread runs it."""

    @functools.wraps(fn)
    def run_under_span(*args: Any, **kwargs: Any) -> Any:
        token = context.set_current_span(span.trace_id, span.span_id)
        try:
            return fn(*args, **kwargs)
        finally:
            context.reset_current_span(token)

    return run_under_span


def _wrap_submit(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def submit(self: Any, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        span = context.current_span()
        if span is not None:
            try:
                fn = _under(span, fn)
            except Exception as exc:  # NOTE: the work is submitted as it came, untraced
                report_fault("the thread pool hook", exc)
        return original(self, fn, *args, **kwargs)

    return submit


def patch(module: ModuleType) -> None:
    """Wrap ``submit`` of ``module``'s executor classes (:data:`EXECUTORS`) once."""
    for name in EXECUTORS.get(module.__name__, ()):
        executor = getattr(module, name, None)
        if executor is None or executor.__dict__.get(_MARK, False) or "submit" not in executor.__dict__:
            continue
        executor.submit = _wrap_submit(executor.submit)
        setattr(executor, _MARK, True)
