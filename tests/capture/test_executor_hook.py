"""The span being served follows work into a thread pool, and only traced work is touched."""

from __future__ import annotations

import concurrent.futures
import threading
from types import ModuleType

import pytest

from stacktap.agent import context, executor_hook


@pytest.fixture()
def patched_executor(monkeypatch: pytest.MonkeyPatch) -> type:
    """A private executor class, patched as the hook patches the standard library's."""

    class ThreadPoolExecutor(concurrent.futures.ThreadPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
            return super().submit(fn, *args, **kwargs)

    module = ModuleType("concurrent.futures.thread")
    module.ThreadPoolExecutor = ThreadPoolExecutor  # type: ignore[attr-defined]
    executor_hook.patch(module)
    executor_hook.patch(module)  # once only
    return ThreadPoolExecutor


def _seen_in_pool(executor_class: type) -> tuple[context.SpanContext | None, str]:
    def look() -> tuple[context.SpanContext | None, str]:
        return context.current_span(), threading.current_thread().name

    with executor_class(max_workers=1) as pool:
        return pool.submit(look).result(timeout=10)  # type: ignore[no-any-return]


def test_submitted_work_runs_under_the_span_current_at_submit(patched_executor: type) -> None:
    token = context.set_current_span("a" * 32, "b" * 16)
    try:
        seen, thread = _seen_in_pool(patched_executor)
    finally:
        context.reset_current_span(token)
    assert thread != threading.current_thread().name
    assert seen == context.SpanContext("a" * 32, "b" * 16)


def test_work_submitted_outside_a_span_is_untouched(patched_executor: type) -> None:
    assert context.current_span() is None
    seen, _ = _seen_in_pool(patched_executor)
    assert seen is None


def test_the_pool_thread_forgets_the_span_after_the_task(patched_executor: type) -> None:
    with patched_executor(max_workers=1) as pool:
        token = context.set_current_span("c" * 32, "d" * 16)
        try:
            pool.submit(lambda: None).result(timeout=10)
        finally:
            context.reset_current_span(token)
        # the same (only) worker thread, a task submitted untraced: no span left behind
        assert pool.submit(context.current_span).result(timeout=10) is None


def test_a_pool_thread_does_not_see_the_submitters_span_by_itself() -> None:
    """The reason for the hook: a ContextVar set in one thread is not set in another.

    NOTE: shown with a plain thread (what a pool's worker is): the standard library's executor
    may already be patched in this process by a test that installed the import hook.
    """
    seen: list[context.SpanContext | None] = []
    token = context.set_current_span("e" * 32, "f" * 16)
    try:
        worker = threading.Thread(target=lambda: seen.append(context.current_span()))
        worker.start()
        worker.join(timeout=10)
    finally:
        context.reset_current_span(token)
    assert seen == [None]


def test_the_wrapped_callable_keeps_its_name_and_result(patched_executor: type) -> None:
    def build_instance(x: int) -> int:
        return x * 2

    token = context.set_current_span("1" * 32, "2" * 16)
    try:
        wrapped = executor_hook._under(context.SpanContext("1" * 32, "2" * 16), build_instance)
        with patched_executor(max_workers=1) as pool:
            assert pool.submit(build_instance, 21).result(timeout=10) == 42
    finally:
        context.reset_current_span(token)
    assert wrapped.__name__ == "build_instance"


def test_a_failure_of_the_hook_submits_the_work_as_it_came(
    patched_executor: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(span: object, fn: object) -> object:
        raise RuntimeError("hook bug")

    monkeypatch.setattr(executor_hook, "_under", broken)
    token = context.set_current_span("3" * 32, "4" * 16)
    try:
        with patched_executor(max_workers=1) as pool:
            assert pool.submit(lambda: 42).result(timeout=10) == 42
    finally:
        context.reset_current_span(token)
