from __future__ import annotations

from typing import Any

from stacktap.capture.callsite import capture_frames, format_stack, to_call_site


def _in_module(module: str, source: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": module}
    exec(compile(source, "/venv/site-packages/{}.py".format(module.replace(".", "/")), "exec"), namespace)
    return namespace


def test_plumbing_frames_are_skipped_up_to_the_caller() -> None:
    sdk = _in_module(
        "openstack.proxy",
        "from stacktap.capture.callsite import capture_frames\ndef _list(): return capture_frames(1)\n",
    )
    client = _in_module(
        "openstackclient.image.v2.image",
        "class ListImage:\n    def take_action(self, fetch):\n        return fetch()\n",
    )
    site, stack = client["ListImage"]().take_action(sdk["_list"])
    call_site = to_call_site(site)
    assert call_site is not None
    assert call_site.label == "openstackclient/image/v2/image.py:ListImage.take_action"
    assert call_site.line == 3 and call_site.module == "openstackclient.image.v2.image"
    assert (
        format_stack(stack)[0].startswith(__file__.rsplit("/", 1)[1])
        or "test_callsite" in format_stack(stack)[0]
    )


def test_a_plain_function_has_no_class() -> None:
    def caller() -> Any:
        return capture_frames(1)

    site, _stack = caller()
    assert site is not None and site[2] == "caller" and site[4] is None
