"""The oslo.policy hook: every rule a service checks while it handles a traced request.

``stacktap.agent.import_hook`` applies ``patch`` when a service imports ``oslo_policy.policy``
(the server filter applies it too when the module was imported before the hook was there).
``Enforcer.enforce`` and ``Enforcer.authorize`` are wrapped; a check made while a traced
request is being handled (``server_exchange.current_exchange()``) is noted on that request:
rule name, the check object the enforcer resolved it to, allowed / denied / raised, who asked
(names and ids only, see ``CRED_KEYS``) and how long the enforcer took; a repeat of the same
check in the same request is counted. ``ServerExchange``
turns the notes into ``PolicyCheck`` records; the recorder redacts their credentials.

A check outside traced work costs one ContextVar read. ``authorize`` calls ``enforce``: the
outer call records, the inner one passes through (one record per check).

NOTE: standard library only, Python 3.8+ (runs inside service processes). Whatever goes
wrong here is reported once and the enforcer's own answer or exception goes on unchanged.
"""

from __future__ import annotations

import contextvars
import functools
import time
from types import ModuleType
from typing import Any, Callable, Dict, Optional, Tuple

from stacktap.agent.faults import report_fault
from stacktap.agent.server.server_exchange import ServerExchange, current_exchange
from stacktap.model import POLICY_ALLOWED, POLICY_DENIED, POLICY_RAISED

#: The credential keys kept: who asked and in which scope, never a token or a secret.
#: NOTE: an allow-list: a context's ``auth_token``, service tokens or catalog never get in.
CRED_KEYS = (
    "user_id",
    "user_name",
    "user_domain_id",
    "project_id",
    "project_name",
    "project_domain_id",
    "domain_id",
    "system_scope",
    "roles",
    "is_admin",
    "is_admin_project",
)

#: Cap on the distinct checks noted per request (repeats are counted, not noted again).
MAX_CHECKS = 500

_PATCHED = "_stacktap_policy_patched"

#: True while an outer enforce/authorize of this thread/task is being recorded.
_inside: contextvars.ContextVar[bool] = contextvars.ContextVar("stacktap_policy_inside", default=False)


def _cred_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, (list, tuple, set, frozenset)):
        return [str(item) for item in list(value)[:50]]
    return str(value)[:200]


def creds_summary(creds: Any) -> Dict[str, Any]:
    """The ``CRED_KEYS`` of a creds dict or a RequestContext, as plain values."""
    out: Dict[str, Any] = {}
    mapping = isinstance(creds, dict) or hasattr(creds, "keys")
    for key in CRED_KEYS:
        try:
            value = creds.get(key) if mapping else getattr(creds, key, None)
        except Exception:
            continue
        if value is None or value == "" or value == []:
            continue
        # NOTE: str and bool are nearly all of them: skip _cred_value's type tests for those.
        plain = type(value) is bool or (type(value) is str and len(value) <= 200)
        out[key] = value if plain else _cred_value(value)
    return out


def _resolved_check(enforcer: Any, rule: Any) -> Any:
    """The check object ``rule`` was evaluated as: the loaded rule, else the registered default."""
    if not isinstance(rule, str):
        return rule  # NOTE: a check tree given directly
    rules = getattr(enforcer, "rules", None)
    check = rules.get(rule) if rules else None
    if check is not None:
        return check
    default = getattr(enforcer, "registered_rules", {}).get(rule)
    return getattr(default, "check_str", None) if default is not None else None


def _split_call(args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Tuple[Any, Any, Any]:
    """(rule, creds, exc class) from ``enforce(rule, target, creds, do_raise, exc, ...)``."""
    rule = args[0] if args else kwargs.get("rule")
    creds = args[2] if len(args) > 2 else kwargs.get("creds")
    exc = args[4] if len(args) > 4 else kwargs.get("exc")
    return rule, creds, exc


def _note(
    exchange: ServerExchange,
    enforcer: Any,
    args: Tuple[Any, ...],
    kwargs: Dict[str, Any],
    result: Any,
    error: Optional[BaseException],
    denials: Tuple[type, ...],
    started: float,
    duration: float,
) -> None:
    """Note one check on the request, or count it with the same earlier one (never raises)."""
    try:
        rule, creds, exc_class = _split_call(args, kwargs)
        if error is None:
            outcome, error_name = (POLICY_ALLOWED if result else POLICY_DENIED), None
        else:
            error_name = type(error).__name__
            wanted = denials + ((exc_class,) if isinstance(exc_class, type) else ())
            outcome = POLICY_DENIED if isinstance(error, wanted) else POLICY_RAISED
        name = rule if isinstance(rule, str) else str(rule)
        # NOTE: the same context object asking the same rule with the same answer is a repeat
        # (one check per item of a listing): counted, not recorded again. An elevated context
        # is another object, so it gets a record of its own with its own roles.
        key = (name, outcome, error_name, id(creds))
        checks = exchange.policy_checks
        index = exchange.policy_index.get(key)
        if index is not None:
            noted = checks[index]
            noted[6] += duration
            noted[7] += 1
            return
        if len(checks) >= MAX_CHECKS:
            return
        exchange.policy_index[key] = len(checks)
        checks.append(
            [
                name,
                _resolved_check(enforcer, rule),
                outcome,
                error_name,
                creds_summary(creds),
                started - exchange.t0,
                duration,
                1,
            ]
        )
    except Exception as exc:
        report_fault("stacktap policy hook", exc)


def _wrap(original: Callable[..., Any], denials: Tuple[type, ...]) -> Callable[..., Any]:
    @functools.wraps(original)
    def traced_check(self: Any, *args: Any, **kwargs: Any) -> Any:
        exchange = current_exchange()
        if exchange is None or _inside.get():
            return original(self, *args, **kwargs)
        token = _inside.set(True)
        started = time.perf_counter()
        try:
            result = original(self, *args, **kwargs)
        except BaseException as exc:
            duration = time.perf_counter() - started
            _inside.reset(token)
            _note(exchange, self, args, kwargs, None, exc, denials, started, duration)
            raise
        duration = time.perf_counter() - started
        _inside.reset(token)
        _note(exchange, self, args, kwargs, result, None, denials, started, duration)
        return result

    traced_check.__stacktap_original__ = original  # type: ignore[attr-defined]
    return traced_check


def patch(module: ModuleType) -> None:
    """Wrap ``module.Enforcer``'s ``enforce`` and ``authorize`` (once)."""
    enforcer = getattr(module, "Enforcer", None)
    if enforcer is None or getattr(enforcer, _PATCHED, False):
        return
    denials = tuple(
        cls
        for cls in (getattr(module, "PolicyNotAuthorized", None), getattr(module, "InvalidScope", None))
        if isinstance(cls, type)
    )
    for name in ("enforce", "authorize"):
        original = enforcer.__dict__.get(name)
        if callable(original):
            setattr(enforcer, name, _wrap(original, denials))
    setattr(enforcer, _PATCHED, True)


def unpatch(module: ModuleType) -> None:
    """Put the original methods back (tests, benchmarks)."""
    enforcer = getattr(module, "Enforcer", None)
    if enforcer is None or not getattr(enforcer, _PATCHED, False):
        return
    for name in ("enforce", "authorize"):
        original = getattr(enforcer.__dict__.get(name), "__stacktap_original__", None)
        if original is not None:
            setattr(enforcer, name, original)
    delattr(enforcer, _PATCHED)
