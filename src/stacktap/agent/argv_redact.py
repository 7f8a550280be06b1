"""Command lines can carry secrets (``--os-password``): mark them before they are stored.

NOTE: standard library only, Python 3.8+ (runs inside traced programs).
"""

from __future__ import annotations

import re
from typing import Callable, List, Sequence

_SECRET_OPTION = re.compile(r"^--?[\w-]*(password|secret|token|passcode|private-key)[\w-]*$", re.I)


def redact_argv(argv: Sequence[str], mark: Callable[[str], str]) -> List[str]:
    """``argv`` with the value of every secret-looking option (``--x v`` or ``--x=v``) marked."""
    out: List[str] = []
    secret_next = False
    for arg in argv:
        if secret_next:
            out.append(mark(arg))
            secret_next = False
            continue
        if arg.startswith("-") and "=" in arg:
            name, _, value = arg.partition("=")
            if _SECRET_OPTION.match(name):
                out.append("%s=%s" % (name, mark(value)))
                continue
        elif _SECRET_OPTION.match(arg):
            secret_next = True
        out.append(arg)
    return out
