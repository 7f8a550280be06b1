"""Find the Python that runs an ``openstack`` program: the one named by its shebang.

``openstack`` usually lives in a venv of its own (devstack, a dev cloud, a pipx install),
so its commands and plugins are only visible from that interpreter. Shebangs come in
three shapes: ``#!/venv/bin/python3``, ``#!/usr/bin/env python3`` and, for paths too long
for the kernel, pip's ``#!/bin/sh`` trampoline (``'''exec' "/long/path/python" "$0" "$@"``).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil

from stacktap.errors import StacktapError

_SH_EXEC = re.compile(r"""^'''exec' "?([^"\s]+)"? """)
_SHELLS = ("sh", "bash", "dash")


class WhichError(StacktapError):
    """``stacktap which`` cannot answer (one line, for the user)."""


def find_openstack(explicit: str | None, path: str | None = None) -> str:
    """``explicit`` if given, else ``openstack`` on PATH; an error if neither is there."""
    if explicit:
        if not os.path.isfile(explicit):
            raise WhichError(f"no such file: {explicit}")
        return os.path.abspath(explicit)
    found = shutil.which("openstack", path=path)
    if not found:
        raise WhichError("no openstack on PATH (give one with --openstack PATH)")
    return found


def script_python(script: str, path: str | None = None) -> str:
    """The interpreter that runs ``script``, from its shebang."""
    try:
        with open(script, "rb") as handle:
            head = handle.read(4096)
    except OSError as exc:
        raise WhichError(f"cannot read {script}: {exc.strerror or exc}") from None
    lines = head.decode("utf-8", "replace").splitlines()
    if not lines or not lines[0].startswith("#!"):
        raise WhichError(f"{script} is not a Python script (no #! line)")
    try:
        words = shlex.split(lines[0][2:].strip())
    except ValueError:
        words = lines[0][2:].split()
    if not words:
        raise WhichError(f"{script} has an empty #! line")
    program = words[0]
    if os.path.basename(program) == "env":
        names = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
        if not names:
            raise WhichError(f"cannot tell the interpreter from {script}'s #! line")
        program = shutil.which(names[0], path=path) or names[0]
    elif os.path.basename(program) in _SHELLS:
        trampoline = next((m.group(1) for m in map(_SH_EXEC.match, lines[1:4]) if m), None)
        if trampoline is None:
            raise WhichError(f"{script} is a shell script, not a Python entry point")
        program = trampoline
    if not os.path.isabs(program) or not os.access(program, os.X_OK):
        raise WhichError(f"the Python of {script} ({program}) is not there")
    if "python" not in os.path.basename(os.path.realpath(program)) and "python" not in os.path.basename(
        program
    ):
        raise WhichError(f"{script} runs with {program}, not Python")
    return program
