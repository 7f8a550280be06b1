"""Where a handler's code lives: the file and ``def`` line of the controller method that
answered a request, so that a recorded call leads straight to its source.

The callable comes from ``handler.routes_handler_callable`` / ``flask_handler_callable``; it is
usually wrapped by decorators (nova's ``expected_errors``, ``validation.schema``; glance's
``utils.mutating``), which keep the real function in ``__wrapped__`` (``functools.wraps``).

NOTE: standard library only, Python 3.8+ (runs inside service processes). The answer is cached
per code object: after the first request on a route it costs one dict lookup.
"""

from __future__ import annotations

import inspect
import linecache
from typing import Any, Dict, Optional

from stacktap.model import CallSite

# A decorated function's ``co_firstlineno`` is its first decorator's line; the ``def`` follows
# within a few lines (decorators with long argument lists included).
_DEF_SEARCH_LINES = 40
_CACHE_LIMIT = 2048
_sites: Dict[Any, Optional[CallSite]] = {}


def _unwrap(target: Any) -> Any:
    func = getattr(target, "__func__", target)  # a bound method: its function
    try:
        return inspect.unwrap(func)
    except ValueError:  # a cycle of __wrapped__
        return func


def _def_line(filename: str, first: int, name: str) -> int:
    """The line of ``def name`` at or after ``first`` (the decorators' line), else ``first``."""
    for line in range(first, first + _DEF_SEARCH_LINES):
        text = linecache.getline(filename, line).lstrip()
        if not text:
            continue
        if text.startswith(("def %s" % name, "async def %s" % name)):
            return line
    return first


def handler_site(target: Any) -> Optional[CallSite]:
    """The ``CallSite`` (absolute file, ``def`` line, function, module, class) of ``target``,
    a handler function or bound method; None when it has no Python code (a C callable)."""
    if target is None:
        return None
    func = _unwrap(target)
    code = getattr(func, "__code__", None)
    if code is None:
        return None
    if code in _sites:
        return _sites[code]
    qualname = str(getattr(func, "__qualname__", code.co_name))
    owner, _, _name = qualname.rpartition(".")
    site = CallSite(
        file=code.co_filename,
        line=_def_line(code.co_filename, code.co_firstlineno, code.co_name),
        function=code.co_name,
        module=getattr(func, "__module__", None),
        cls=owner.rpartition(".")[2] if owner and "<locals>" not in owner else None,
    )
    if len(_sites) < _CACHE_LIMIT:
        _sites[code] = site
    return site
