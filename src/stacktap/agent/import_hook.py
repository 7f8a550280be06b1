"""Patch the libraries stacktap hooks lazily: when the program imports them, not before.

A meta-path finder watches for the modules in :data:`PATCHES` (``requests.adapters``,
``urllib3.connectionpool``; in services ``oslo_policy.policy``, SQLAlchemy, oslo.messaging's
transport and dispatcher, the thread pool executors); when one is imported it lets the real
loader run, then applies the patch. A program that never imports them pays one dictionary
lookup per import.

NOTE: standard library only, Python 3.8+ (runs inside traced programs).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from types import ModuleType
from typing import Any, Callable, Dict, Optional, Sequence

from stacktap.agent.faults import warn_once


def _patch_requests(module: ModuleType) -> None:
    from stacktap.agent.requests_hook import patch

    patch(module)


def _patch_urllib3(module: ModuleType) -> None:
    from stacktap.agent.urllib3_hook import patch

    patch(module)


def _patch_oslo_policy(module: ModuleType) -> None:
    from stacktap.agent.server.policy import patch

    patch(module)


def _patch_rpc_transport(module: ModuleType) -> None:
    from stacktap.agent.rpc_hook import patch_transport

    patch_transport(module)


def _patch_rpc_dispatcher(module: ModuleType) -> None:
    from stacktap.agent.rpc_hook import patch_dispatcher

    patch_dispatcher(module)


def _patch_executor(module: ModuleType) -> None:
    from stacktap.agent.executor_hook import patch

    patch(module)


def _patch_sqlalchemy(module: ModuleType) -> None:
    from stacktap.agent.sqlalchemy_hook import patch

    patch(module)


#: module name -> patch applied right after that module is executed.
PATCHES: Dict[str, Callable[[ModuleType], None]] = {
    "requests.adapters": _patch_requests,
    "urllib3.connectionpool": _patch_urllib3,
    "oslo_policy.policy": _patch_oslo_policy,
    # NOTE: the top-level package, once fully executed: its event API is complete by then.
    "sqlalchemy": _patch_sqlalchemy,
    "oslo_messaging.transport": _patch_rpc_transport,
    "oslo_messaging.rpc.dispatcher": _patch_rpc_dispatcher,
    # the span follows work handed to a thread pool (nova-compute builds on one)
    "concurrent.futures.thread": _patch_executor,
    "futurist._futures": _patch_executor,
}


def _apply(name: str, module: ModuleType) -> None:
    try:
        PATCHES[name](module)
    except Exception as exc:  # NOTE: a broken patch must not break the import
        warn_once("cannot hook %s: %s: %s" % (name, type(exc).__name__, exc))


class _PatchingLoader(importlib.abc.Loader):
    """Wraps the real loader of a watched module and patches the module once executed."""

    def __init__(self, name: str, loader: Any) -> None:
        self._name = name
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Optional[ModuleType]:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        _apply(self._name, module)

    def __getattr__(self, name: str) -> Any:
        # NOTE: get_source, get_filename, is_package... still answer as the real loader.
        return getattr(self._loader, name)


class PatchFinder(importlib.abc.MetaPathFinder):
    """Finds nothing itself: wraps the loader the other finders return for watched names."""

    def __init__(self) -> None:
        self._busy = False

    def find_spec(
        self, fullname: str, path: Optional[Sequence[str]] = None, target: Optional[ModuleType] = None
    ) -> Optional[importlib.machinery.ModuleSpec]:
        if fullname not in PATCHES or self._busy:
            return None
        self._busy = True
        try:
            spec = None
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
        finally:
            self._busy = False
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _PatchingLoader(fullname, spec.loader)
        return spec


def install() -> None:
    """Hook the HTTP libraries and oslo.policy: now if already imported, else when imported."""
    if not any(isinstance(f, PatchFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, PatchFinder())
    for name in PATCHES:
        module = sys.modules.get(name)
        if module is not None:
            _apply(name, module)
