"""``stacktap.wsgi.wrap:application``: any WSGI app, traced, for servers without paste.

Point the WSGI server (gunicorn, uwsgi, mod_wsgi) here instead of at the app, and name
the real app in the environment::

    STACKTAP_WRAP_APP=keystone.wsgi.api:application   # module:attribute
    STACKTAP_WRAP_APP=keystone.server.wsgi:initialize_public_application()   # a factory, called
    STACKTAP_SERVICE=keystone
    STACKTAP_IGNORE="method=GET path=/healthcheck"     # optional, see stacktap.agent.rules

A missing or unimportable app is the server's error (it fails to start, loudly); a fault
inside stacktap leaves the app untraced but serving.

NOTE: standard library only, Python 3.8+ (runs inside service processes).
"""

from __future__ import annotations

import importlib
import os
from typing import Any, Optional

from stacktap.agent.faults import report_fault
from stacktap.settings import WRAP_APP as WRAP_APP_ENV


def load_app(spec: Optional[str]) -> Any:
    """The object ``module:attr`` names (``attr`` may be dotted; ``attr()`` calls it)."""
    if not spec or ":" not in spec:
        raise RuntimeError(
            "stacktap: set %s to the app to wrap, as module:attribute (got %r)" % (WRAP_APP_ENV, spec)
        )
    module_name, _, attr = spec.strip().partition(":")
    call = attr.endswith("()")
    if call:
        attr = attr[:-2]
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj() if call else obj


def wrap_from_env() -> Any:
    """The app named by ``STACKTAP_WRAP_APP``, in a TraceMiddleware when that works."""
    app = load_app(os.environ.get(WRAP_APP_ENV))
    try:
        from stacktap.agent.rules import IgnoreRules
        from stacktap.agent.server.filter import TraceMiddleware

        return TraceMiddleware(app, ignore=IgnoreRules.from_env())
    except Exception as exc:
        report_fault("stacktap.agent.server.wrap", exc)
        return app


application = wrap_from_env()
