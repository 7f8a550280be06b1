"""The environment that makes a child process (and everything it starts) trace itself.

``tracing_env()`` puts the bootstrap directory (which holds only ``sitecustomize.py``) first
on ``PYTHONPATH`` and passes the run's settings as ``STACKTAP_*`` variables. Every Python
that inherits this environment loads the bootstrap at start-up, whatever virtualenv it runs
in, with no edit to any site-packages.

NOTE: standard library only, Python 3.8+ (imported inside traced programs).
"""

from __future__ import annotations

import os
from typing import Dict, Mapping, Optional

DB_VAR = "STACKTAP_DB"
RUN_ID_VAR = "STACKTAP_RUN_ID"
TRACE_ID_VAR = "STACKTAP_TRACE_ID"
SERVICE_VAR = "STACKTAP_SERVICE"
PROPAGATE_VAR = "STACKTAP_PROPAGATE"
BODY_CAP_VAR = "STACKTAP_BODY_CAP"
#: The Unix socket of ``stacktap run``'s collector (``stacktap.capture.collector``).
COLLECTOR_VAR = "STACKTAP_COLLECTOR"
#: The directory of the ``stacktap`` package itself: the bootstrap makes only it importable.
HOME_VAR = "STACKTAP_HOME"

DEFAULT_BODY_CAP = 1024 * 1024


def package_dir() -> str:
    """The directory of the ``stacktap`` package this process runs."""
    import stacktap

    return os.path.dirname(os.path.abspath(stacktap.__file__))


def bootstrap_dir() -> str:
    """The directory put on ``PYTHONPATH``: it holds ``sitecustomize.py`` and nothing else."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "bootstrap")


def _prepend_path(existing: Optional[str], first: str) -> str:
    parts = [p for p in (existing or "").split(os.pathsep) if p and os.path.abspath(p) != first]
    return os.pathsep.join([first, *parts])


def tracing_env(
    db: str,
    run_id: Optional[str] = None,
    service: Optional[str] = None,
    propagate: bool = True,
    base: Optional[Mapping[str, str]] = None,
    collector: Optional[str] = None,
) -> Dict[str, str]:
    """The full environment for a child process that records its HTTP calls into ``db``.

    With ``run_id`` the child's calls join that run (and one trace id shared by every
    process of the run); without it (a service) each process creates its own run of kind
    ``server`` on its first call. ``base`` defaults to ``os.environ``. ``collector`` is the
    socket of the collector that takes the run's client calls (``stacktap run``).
    """
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = _prepend_path(env.get("PYTHONPATH"), bootstrap_dir())
    env[HOME_VAR] = package_dir()
    env[DB_VAR] = os.path.abspath(db)
    env[PROPAGATE_VAR] = "1" if propagate else "0"
    if run_id:
        env[RUN_ID_VAR] = run_id
        from stacktap.model import new_trace_id

        env[TRACE_ID_VAR] = new_trace_id()
    else:
        env.pop(RUN_ID_VAR, None)
        env.pop(TRACE_ID_VAR, None)
    if service:
        env[SERVICE_VAR] = service
    else:
        env.pop(SERVICE_VAR, None)
    if collector and run_id:
        env[COLLECTOR_VAR] = collector
    else:
        env.pop(COLLECTOR_VAR, None)
    return env


def body_cap_from_env(environ: Optional[Mapping[str, str]] = None) -> int:
    """``STACKTAP_BODY_CAP`` in bytes (default 1 MiB); junk gives the default."""
    value = (environ if environ is not None else os.environ).get(BODY_CAP_VAR)
    if not value:
        return DEFAULT_BODY_CAP
    try:
        return max(0, int(value))
    except ValueError:
        return DEFAULT_BODY_CAP
