"""The environment that makes a child process (and everything it starts) trace itself.

``tracing_env()`` puts the bootstrap directory (which holds only ``sitecustomize.py``) first
on ``PYTHONPATH`` and passes the run's settings as ``STACKTAP_*`` variables. Every Python
that inherits this environment loads the bootstrap at start-up, whatever virtualenv it runs
in, with no edit to any site-packages.

Runs in stacktap's own process (``stacktap run``, ``devcloud up --trace-servers``).
"""

from __future__ import annotations

import os
from typing import Dict, Mapping, Optional

from stacktap.settings import BODY_CAP as BODY_CAP_VAR
from stacktap.settings import COLLECTOR as COLLECTOR_VAR
from stacktap.settings import DB as DB_VAR
from stacktap.settings import DEFAULT_BODY_CAP, body_cap_from_env
from stacktap.settings import HOME as HOME_VAR
from stacktap.settings import PROPAGATE as PROPAGATE_VAR
from stacktap.settings import RUN_ID as RUN_ID_VAR
from stacktap.settings import SERVICE as SERVICE_VAR
from stacktap.settings import TRACE_ID as TRACE_ID_VAR

__all__ = [
    "BODY_CAP_VAR",
    "COLLECTOR_VAR",
    "DB_VAR",
    "DEFAULT_BODY_CAP",
    "HOME_VAR",
    "PROPAGATE_VAR",
    "RUN_ID_VAR",
    "SERVICE_VAR",
    "TRACE_ID_VAR",
    "body_cap_from_env",
    "bootstrap_dir",
    "package_dir",
    "tracing_env",
]


def package_dir() -> str:
    """The directory of the ``stacktap`` package this process runs."""
    import stacktap

    return os.path.dirname(os.path.abspath(stacktap.__file__))


def bootstrap_dir() -> str:
    """The directory put on ``PYTHONPATH``: it holds ``sitecustomize.py`` and nothing else."""
    return os.path.join(package_dir(), "agent", "bootstrap")


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

