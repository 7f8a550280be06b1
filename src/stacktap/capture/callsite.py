"""Find the code that issued a call: the first frame outside the HTTP and auth plumbing.

Plumbing is any module of requests, urllib3, http.client, keystoneauth1, stacktap, and
openstacksdk (``openstack.*``: its proxies and resources only relay what the caller asked),
plus the generic HTTP layers of the python-*client libraries. OSC commands then show as
``openstackclient/image/v2/image.py:ListImage.take_action`` and an SDK script as its own
line. The hot path only collects raw frame facts; the writer thread formats them.

NOTE: standard library only, Python 3.8+ (runs inside traced programs).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

if TYPE_CHECKING:
    from stacktap.model import CallSite

#: Top-level packages whose frames are never the call site.
PLUMBING_PACKAGES = frozenset(
    ("requests", "urllib3", "http", "keystoneauth1", "stacktap", "openstack", "sitecustomize")
)
#: Modules (exact names) of other client libraries that only relay requests.
PLUMBING_MODULES = frozenset(
    (
        "novaclient.client",
        "glanceclient.common.http",
        "cinderclient.client",
        "neutronclient.client",
        "keystoneclient.session",
        "keystoneclient.httpclient",
        "keystoneclient.adapter",
        "osc_lib.clientmanager",
        "openstackclient.common.clientmanager",
        "tempest.lib.common.rest_client",
        "tempest.lib.common.http",
    )
)
_HTTP_PACKAGES = ("requests", "urllib3", "http", "stacktap")
#: Frames kept above the call site (its callers), innermost first.
STACK_DEPTH = 12

#: (filename, line, function, module, class-or-None)
FrameFacts = Tuple[str, int, str, Optional[str], Optional[str]]


_verdicts: Dict[Optional[str], bool] = {}


def _is_plumbing(module: Optional[str]) -> bool:
    # NOTE: memoized per module name: this runs for ~20 frames on every call.
    verdict = _verdicts.get(module)
    if verdict is None:
        top = module.split(".", 1)[0] if module else ""
        verdict = bool(module) and (top in PLUMBING_PACKAGES or module in PLUMBING_MODULES)
        _verdicts[module] = verdict
    return verdict


def _class_of(frame: Any) -> Optional[str]:
    code = frame.f_code
    qualname = getattr(code, "co_qualname", None)  # Python 3.11+
    if qualname is not None:
        parts = qualname.rsplit(".", 1)
        if len(parts) == 2 and "<locals>" not in parts[0].rsplit(".", 1)[-1]:
            return parts[0]
        return None
    if not code.co_varnames or code.co_argcount == 0:
        return None
    first = frame.f_locals.get(code.co_varnames[0])
    if first is None or code.co_varnames[0] not in ("self", "cls"):
        return None
    klass = first if isinstance(first, type) else type(first)
    for candidate in getattr(klass, "__mro__", ()):
        attr = candidate.__dict__.get(code.co_name)
        attr = getattr(attr, "__func__", attr)
        if getattr(attr, "__code__", None) is code:
            return candidate.__name__
    return klass.__name__


def capture_frames(skip: int = 2) -> Tuple[Optional[FrameFacts], List[Tuple[str, int, str]]]:
    """(call site, compact callers above it) for the current call stack.

    When every frame is plumbing (a call made by a library's own thread), the outermost
    non-stdlib-HTTP frame is used: better a library line than nothing.
    """
    frame: Any = sys._getframe(skip)
    fallback = None
    while frame is not None:
        module = frame.f_globals.get("__name__")
        if not _is_plumbing(module):
            break
        if (
            fallback is None
            and module
            and module.split(".", 1)[0] not in ("requests", "urllib3", "http", "stacktap")
        ):
            fallback = frame
        frame = frame.f_back
    if frame is None:
        frame = fallback
    if frame is None:
        return None, []
    code = frame.f_code
    site: FrameFacts = (
        code.co_filename,
        frame.f_lineno,
        code.co_name,
        frame.f_globals.get("__name__"),
        _class_of(frame),
    )
    stack: List[Tuple[str, int, str]] = []
    caller = frame.f_back
    while caller is not None and len(stack) < STACK_DEPTH:
        stack.append((caller.f_code.co_filename, caller.f_lineno, caller.f_code.co_name))
        caller = caller.f_back
    return site, stack


def to_call_site(site: Optional[FrameFacts]) -> Optional[CallSite]:
    from stacktap.model import CallSite

    if site is None:
        return None
    return CallSite(file=site[0], line=site[1], function=site[2], module=site[3], cls=site[4])


def format_stack(stack: List[Tuple[str, int, str]]) -> List[str]:
    """``file:line:function`` with site-packages paths cut short."""
    from stacktap.model import short_path

    return ["%s:%d:%s" % (short_path(f), line, func) for f, line, func in stack]
