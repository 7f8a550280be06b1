"""``up --trace-servers``: the pieces other parts of stacktap provide, loaded only when asked for.

``stacktap.launcher.env.tracing_env`` gives each service process the environment that loads the
capture hook; ``stacktap.paste.install.instrument_paste_ini`` puts the server filter into glance's
and nova's paste pipelines; keystone and placement (no paste) are served through
``stacktap.wsgi.wrap:application`` with ``STACKTAP_WRAP_APP`` naming the real app.

Live OTLP export: the traced services inherit ``up``'s ``STACKTAP_OTLP_ENDPOINT``,
``STACKTAP_OTLP`` and ``STACKTAP_OTLP_BODIES`` (every other ``STACKTAP_*`` is dropped by
``manage.clean_env``; the ``OTEL_EXPORTER_OTLP_*`` variables pass through it), so
``STACKTAP_OTLP_ENDPOINT=http://127.0.0.1:4318 stacktap devcloud up --trace-servers`` makes
them send their spans as they serve. A later ``up`` without them restarts them without it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from stacktap import settings
from stacktap.devcloud.services import NO_PASTE, ServiceSpec

WRAP_APP = "stacktap.wsgi.wrap:application"

#: The live-export settings a traced service takes from ``up``'s environment.
LIVE_EXPORT_VARS = settings.LIVE_EXPORT


@dataclass(frozen=True)
class Tracing:
    """What a traced service needs: its environment, its paste rewrite, its WSGI entry point."""

    tracing_env: Callable[..., dict[str, str]]
    instrument_paste_ini: Callable[..., str]
    db: str

    def env(self, spec: ServiceSpec, base: Mapping[str, str]) -> dict[str, str]:
        env = self.process_env(spec.process, base)
        if spec in NO_PASTE:
            env[settings.WRAP_APP] = spec.wsgi_app
        return env

    def process_env(self, process: str, base: Mapping[str, str]) -> dict[str, str]:
        """The env of any traced Python process of the cloud (a nova daemon: client hooks only)."""
        env = self.tracing_env(self.db, service=process, base=base)
        env.update({name: os.environ[name] for name in LIVE_EXPORT_VARS if os.environ.get(name)})
        return env

    def app(self, spec: ServiceSpec) -> str:
        return WRAP_APP if spec in NO_PASTE else spec.wsgi_app

    def instrument(self, text: str, service: str) -> str:
        return self.instrument_paste_ini(text, service, layers=True)


def missing() -> str | None:
    """Why ``--trace-servers`` cannot work with this stacktap, or None when it can (the hook,
    the paste installer and the WSGI wrapper are plain imports now: always None)."""
    return None


def load(db: str) -> Tracing:
    """The tracing pieces: the traced child's environment and the paste installer."""
    from stacktap.launcher.env import tracing_env
    from stacktap.paste.install import instrument_paste_ini

    return Tracing(tracing_env, instrument_paste_ini, db)
