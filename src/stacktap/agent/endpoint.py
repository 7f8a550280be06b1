"""Where OTLP/HTTP traces go: the endpoint URL and headers, from arguments or the environment.

Follows the OpenTelemetry exporter conventions: a base endpoint (``http://host:4318``) gets
``/v1/traces`` appended; ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is used as is; headers are
``key=value`` pairs separated by commas, values percent-encoded.

NOTE: used by live export inside services (Python 3.8+, standard library only).
"""

from __future__ import annotations

from typing import Dict, Mapping, Optional
from urllib.parse import urlsplit

from stacktap import settings
from stacktap.settings import merge_headers, parse_bool, parse_headers

TRACES_PATH = "/v1/traces"
DEFAULT_BASE = "http://localhost:4318"

#: stacktap's own switch: send live spans here (base or full URL).
STACKTAP_ENDPOINT_ENV = settings.OTLP_ENDPOINT
#: ``1`` = use the standard ``OTEL_EXPORTER_OTLP_*`` variables (default localhost:4318).
STACKTAP_ENABLE_ENV = settings.OTLP
OTEL_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
OTEL_TRACES_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
OTEL_HEADERS_ENV = "OTEL_EXPORTER_OTLP_HEADERS"
OTEL_TRACES_HEADERS_ENV = "OTEL_EXPORTER_OTLP_TRACES_HEADERS"


def traces_url(endpoint: str) -> str:
    """The URL to POST spans to: ``endpoint`` itself if it names a path, else ``<base>/v1/traces``.

    Raises ValueError (one line, for the user) when ``endpoint`` is not an http(s) URL.
    """
    text = endpoint.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            "OTLP endpoint must be an http(s) URL, like http://localhost:4318, not %r" % endpoint
        )
    if parts.path in ("", "/"):
        return text.rstrip("/") + TRACES_PATH
    return text


def headers_from_env(env: Mapping[str, str]) -> Dict[str, str]:
    """The export headers of ``OTEL_EXPORTER_OTLP_HEADERS``, overridden by ``..._TRACES_HEADERS``."""
    return merge_headers(env.get(OTEL_HEADERS_ENV), env.get(OTEL_TRACES_HEADERS_ENV))


_truthy = parse_bool

__all__ = ["parse_headers"]


def wants_live_export(env: Mapping[str, str]) -> bool:
    """True when ``env`` turns live export on (cheap: no URL is parsed)."""
    return bool(env.get(STACKTAP_ENDPOINT_ENV, "").strip()) or _truthy(env.get(STACKTAP_ENABLE_ENV))


def live_target_from_env(env: Mapping[str, str]) -> Optional[Dict[str, object]]:
    """``{"url": ..., "headers": {...}}`` when the environment asks for live export, else None.

    ``STACKTAP_OTLP_ENDPOINT`` turns it on by itself; the standard OpenTelemetry variables
    only count with ``STACKTAP_OTLP=1``, so a service that happens to have them set for its
    own instrumentation does not start sending stacktap spans.
    """
    headers = headers_from_env(env)
    own = env.get(STACKTAP_ENDPOINT_ENV, "").strip()
    if own:
        return {"url": traces_url(own), "headers": headers}
    if not _truthy(env.get(STACKTAP_ENABLE_ENV)):
        return None
    traces = env.get(OTEL_TRACES_ENDPOINT_ENV, "").strip()
    if traces:
        return {"url": traces, "headers": headers}
    base = env.get(OTEL_ENDPOINT_ENV, "").strip() or DEFAULT_BASE
    return {"url": traces_url(base), "headers": headers}
