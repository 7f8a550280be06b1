"""The RPC hook's pieces that need no broker: target URLs, the real endpoint behind a wrapper,
and that it stays out of the way (no traced span: the original runs untouched)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from stacktap.agent import rpc_hook


class RabbitDriver:
    pass


def _transport(exchange: str = "nova") -> Any:
    return SimpleNamespace(_driver=RabbitDriver(), conf=SimpleNamespace(control_exchange=exchange))


def test_target_urls_name_exchange_topic_and_server() -> None:
    target = SimpleNamespace(exchange=None, topic="compute", server="host1", fanout=False)
    assert rpc_hook._target_url(_transport(), target) == "rabbit://nova/compute.host1"
    target = SimpleNamespace(exchange="neutron", topic="q-plugin", server=None, fanout=True)
    assert rpc_hook._target_url(_transport(), target) == "rabbit://neutron/q-plugin"
    other = SimpleNamespace(_driver=object(), conf=None)
    assert rpc_hook._target_url(other, SimpleNamespace(topic="t")) == "rpc:///t"


class ComputeManager:
    def build_and_run_instance(self) -> None:
        pass


class _TrackingEndpointWrapper:
    def __init__(self, endpoint: Any) -> None:
        self._endpoint = endpoint

    def __getattr__(self, name: str) -> Any:
        return getattr(self._endpoint, name)


def test_the_real_endpoint_behind_novas_wrapper() -> None:
    manager = ComputeManager()
    assert rpc_hook._real_endpoint(_TrackingEndpointWrapper(manager), "build_and_run_instance") is manager
    assert rpc_hook._real_endpoint(manager, "build_and_run_instance") is manager


def test_untraced_sends_and_unmarked_messages_pass_through_untouched() -> None:
    seen: list[tuple] = []

    def send(self: Any, target: Any, ctxt: Any, message: Any, wait_for_reply: Any = None) -> str:
        seen.append((ctxt, message, wait_for_reply))
        return "reply"

    wrapped = rpc_hook._wrap_send(send)
    ctxt = {"request_id": "req-1"}
    assert wrapped(None, SimpleNamespace(topic="t"), ctxt, {"method": "m"}, True) == "reply"
    assert seen[0][0] is ctxt  # no traced span: not even copied

    def dispatch(self: Any, endpoint: Any, method: str, ctxt: Any, args: Any) -> Any:
        return sorted(ctxt)

    wrapped_dispatch = rpc_hook._wrap_dispatch(dispatch)
    assert wrapped_dispatch(None, ComputeManager(), "m", {"a": 1}, {}) == ["a"]
    # a malformed key is taken out all the same (the service never sees stacktap's key)
    assert wrapped_dispatch(None, ComputeManager(), "m", {"a": 1, rpc_hook.CONTEXT_KEY: "junk"}, {}) == ["a"]
