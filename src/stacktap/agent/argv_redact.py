"""Command lines can carry secrets (``--os-password``): mark them before they are stored.

Option names and ``key=value`` arguments (``--property db_password=x``) go through the
name matcher of :mod:`stacktap.redact_names`.

NOTE: standard library only, Python 3.8+ (runs inside traced programs).
"""

from __future__ import annotations

from typing import Callable, List, Sequence

from stacktap.redact_names import is_secret_name


def redact_argv(argv: Sequence[str], mark: Callable[[str], str]) -> List[str]:
    """``argv`` with the value of every secret-looking option (``--x v`` or ``--x=v``) and of
    every secret-named ``key=value`` argument marked."""
    out: List[str] = []
    secret_next = False
    for arg in argv:
        if secret_next:
            out.append(mark(arg))
            secret_next = False
            continue
        if "=" in arg:
            name, _, value = arg.partition("=")
            if name and is_secret_name(name.lstrip("-")):
                out.append("%s=%s" % (name, mark(value)))
                continue
        elif arg.startswith("-") and len(arg) > 1 and is_secret_name(arg.lstrip("-")):
            secret_next = True
        out.append(arg)
    return out
