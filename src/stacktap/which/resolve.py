"""``stacktap which``: ask the ``openstack`` program's own Python which class handles a
command, by running the stdlib-only probe there, and read back its answer."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from stacktap import settings
from stacktap.which.interpreter import WhichError, find_openstack, script_python
from stacktap.which.probe import MARKER

PROBE_SOURCE = Path(__file__).with_name("probe.py")
PROBE_TIMEOUT = 180.0


def strip_program(words: Sequence[str], openstack: str) -> list[str]:
    """``openstack server list`` and ``server list`` mean the same command."""
    out = list(words)
    if out and os.path.basename(out[0]) in ("openstack", os.path.basename(openstack)):
        out.pop(0)
    return out


def resolve_command(
    words: Sequence[str], openstack: str | None = None, env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The probe's answer for ``words`` (see ``stacktap.which.probe.resolve``), plus the
    ``openstack`` program asked. Raises WhichError when there is no answer at all."""
    environ = dict(os.environ if env is None else env)
    program = find_openstack(openstack, path=environ.get("PATH"))
    python = script_python(program, path=environ.get("PATH"))
    command = strip_program(words, program)
    if not command:
        raise WhichError("which command? e.g. stacktap which openstack server list")
    # NOTE: stacktap's own tracing bootstrap must not load into the probe.
    for name in ("PYTHONPATH", settings.DB, settings.RUN_ID):
        if name == "PYTHONPATH" and "stacktap" not in environ.get(name, ""):
            continue
        environ.pop(name, None)
    try:
        done = subprocess.run(
            [python, "-c", PROBE_SOURCE.read_text(encoding="utf-8"), *command],
            capture_output=True,
            text=True,
            env=environ,
            timeout=PROBE_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise WhichError(f"{python} took over {PROBE_TIMEOUT:.0f} s to list its commands") from None
    except OSError as exc:
        raise WhichError(f"cannot run {python}: {exc.strerror or exc}") from None
    answer = _answer(done.stdout)
    if answer is None:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise WhichError(f"{python} could not list its commands: {last}")
    if "error" in answer:
        raise WhichError("{} could not list its commands: {}".format(python, answer["error"]))
    answer["openstack"] = program
    return answer


def _answer(stdout: str) -> dict[str, Any] | None:
    for line in reversed(stdout.splitlines()):
        if line.startswith(MARKER):
            try:
                data = json.loads(line[len(MARKER) :])
            except ValueError:
                return None
            return data if isinstance(data, dict) else None
    return None


def describe(answer: dict[str, Any]) -> str:
    """The human answer: where the command is handled, or the closest commands."""
    match = answer.get("match")
    if not match and not answer.get("groups"):
        return "no OpenStackClient commands in the environment of {}".format(answer.get("python"))
    if not match:
        typed = " ".join(answer.get("words") or [])
        lines = [f"unknown command: openstack {typed}"]
        if answer.get("suggestions"):
            lines.append("did you mean:")
            lines.extend(f"  openstack {name}" for name in answer["suggestions"])
        return "\n".join(lines)
    ep = match["entry_point"]
    where = "{}:{}".format(match.get("file") or "?", match.get("line") or "?")
    lines = [
        "openstack {}".format(match["command"]),
        "  class:       {}:{}".format(match["module"], match["class"]),
        f"  file:        {where}",
    ]
    action = match.get("take_action")
    if action:
        lines.append("  take_action: {}:{} ({})".format(action["file"], action["line"], action["class"]))
    if match.get("summary"):
        lines.append("  summary:     {}".format(match["summary"]))
    dist = "{} {}".format(ep["dist"], ep.get("dist_version") or "")
    lines.append(
        "  entry point: {} = {}  [{}, from {}]".format(ep["name"], ep["value"], ep["group"], dist.strip())
    )
    if match.get("arguments"):
        lines.append("  arguments:   {}".format(" ".join(match["arguments"])))
    if match.get("import_error"):
        lines.append("  (could not import it there: {})".format(match["import_error"]))
    lines.append("  python:      {} ({})".format(answer["python"], answer["python_version"]))
    return "\n".join(lines)
