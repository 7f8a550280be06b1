from __future__ import annotations

from typing import Any

import pytest

from stacktap.agent.callsite import capture_frames, format_stack, to_call_site


def _in_module(module: str, source: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": module}
    exec(compile(source, "/venv/site-packages/{}.py".format(module.replace(".", "/")), "exec"), namespace)
    return namespace


def test_plumbing_frames_are_skipped_up_to_the_caller() -> None:
    sdk = _in_module(
        "openstack.proxy",
        "from stacktap.agent.callsite import capture_frames\ndef _list(): return capture_frames(1)\n",
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

    call_site = to_call_site(caller()[0])
    assert call_site is not None and call_site.function == "caller" and call_site.cls is None


def _long_function(depth: int) -> Any:
    """Recurses ``depth`` times, then captures: every level stops on a different line."""
    padding = 0
    padding += 1
    if depth % 2:
        padding += 1
        return _long_function(depth - 1)
    if depth:
        return _long_function(depth - 1)
    return capture_frames(1), [(f.f_code.co_filename, f.f_lineno, f.f_code.co_name) for f in _frames()]


def _frames() -> list[Any]:
    import sys

    frame, out = sys._getframe(1), []  # NOTE: called from _long_function itself
    while frame is not None:
        out.append(frame)
        frame = frame.f_back
    return out


def test_lines_from_instruction_offsets_are_the_frames_own_lines() -> None:
    """The hot path keeps ``f_lasti`` (cheap) instead of ``f_lineno`` (decodes the line table
    each time); the writer's translation must give exactly what ``f_lineno`` gives."""
    from stacktap.model import short_path

    (site, stack), frames = _long_function(5)
    call_site = to_call_site(site)
    assert call_site is not None
    assert (call_site.file, call_site.line, call_site.function) == frames[0]
    expected = [f"{short_path(f)}:{line}:{func}" for f, line, func in frames[1:13]]
    assert format_stack(stack) == expected
    # NOTE: formatting again (from the caches) gives the same strings.
    assert format_stack(stack) == expected and to_call_site(site) == call_site


def test_when_every_frame_is_plumbing_the_innermost_library_frame_is_the_site(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from stacktap.agent import callsite

    sdk = _in_module(
        "openstack.proxy",
        "from stacktap.agent.callsite import capture_frames\ndef _list(): return capture_frames(1)\n",
    )
    ksa = _in_module("keystoneauth1.session", "def request(fetch):\n    return fetch()\n")
    # NOTE: as in a library's own thread: nothing above is the program's code.
    monkeypatch.setattr(callsite, "_verdicts", {})
    monkeypatch.setattr(callsite, "_verdict", lambda module: callsite._verdicts.setdefault(module, 2))
    callsite._verdicts.update({"openstack.proxy": 1, "keystoneauth1.session": 1})
    site, stack = ksa["request"](sdk["_list"])
    assert site is not None and (site[0].co_name, site[2]) == ("_list", "openstack.proxy")
    assert stack[0][0].co_name == "request"
    monkeypatch.setattr(callsite, "_verdicts", {})
    monkeypatch.setattr(callsite, "_verdict", lambda module: callsite._verdicts.setdefault(module, 2))
    assert callsite.capture_frames(1) == (None, [])
