"""Command lines can carry secrets (``--os-password``): mark them before they are stored.

Option names and ``key=value`` arguments (``--property db_password=x``) go through the
name matcher of :mod:`stacktap.redact_names`; URLs in arguments (``--os-auth-url
http://user:pass@host/v3``) lose their userinfo's password and secret query values.

NOTE: standard library only, Python 3.8+ (runs inside traced programs).
"""

from __future__ import annotations

import re
from typing import Callable, List, Sequence

from stacktap.redact_names import is_secret_name, is_secret_query_name

_USERINFO_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://)([^/?#@\s]*)@")
_QUERY_PAIR_RE = re.compile(r"([?&;#])([^=&;#\s]+)=([^&;#\s]*)")


def _urls(arg: str, mark: Callable[[str], str]) -> str:
    """``arg`` with the userinfo and secret query values of the URLs in it marked."""
    if "://" not in arg and "?" not in arg:
        return arg

    def userinfo(match: "re.Match[str]") -> str:
        user, sep, password = match.group(2).partition(":")
        # NOTE: a user without a password is most often a token used as the user name.
        return "%s%s@" % (match.group(1), "%s:%s" % (user, mark(password)) if sep else mark(user))

    def pair(match: "re.Match[str]") -> str:
        if not is_secret_query_name(match.group(2)):
            return match.group(0)
        return "%s%s=%s" % (match.group(1), match.group(2), mark(match.group(3)))

    return _QUERY_PAIR_RE.sub(pair, _USERINFO_RE.sub(userinfo, arg))


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
        out.append(_urls(arg, mark))
    return out
