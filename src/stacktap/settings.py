"""Every ``STACKTAP_*`` setting once: its name, its default and its parser.

The same parsers serve the CLI flags (``--body-cap 2M``), the environment
(``STACKTAP_BODY_CAP=2M``) and paste options (``body_cap = 2M``), in the spirit of
keystoneauth1's ``loading.Opt``::

    BODY_CAP_OPT.parse("2M")                # 2097152
    BODY_CAP_OPT.from_env(os.environ)       # the default when unset or junk

NOTE: shared core: imported inside traced programs and services (standard library only,
Python 3.8+) as well as by the CLI.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, Generic, List, Mapping, Optional, TypeVar
from urllib.parse import unquote

T = TypeVar("T")

# -- the names (they are part of stacktap's interface: never renamed) ------------------------

#: The SQLite store (``--db``; default in the user data dir).
DB = "STACKTAP_DB"
#: The run a traced child's calls join (set by ``stacktap run``).
RUN_ID = "STACKTAP_RUN_ID"
#: The trace id every process of one run shares.
TRACE_ID = "STACKTAP_TRACE_ID"
#: The service name a traced process records under.
SERVICE = "STACKTAP_SERVICE"
#: ``0`` = no W3C ``traceparent`` header on outgoing calls.
PROPAGATE = "STACKTAP_PROPAGATE"
#: ``1`` = record SQL statements run outside any traced request or message too (periodic tasks).
DB_UNTRACED = "STACKTAP_DB_UNTRACED"
#: How much of each body is kept (``1048576``, ``512k``, ``2M``).
BODY_CAP = "STACKTAP_BODY_CAP"
#: The Unix socket of ``stacktap run``'s collector.
COLLECTOR = "STACKTAP_COLLECTOR"
#: The directory of the ``stacktap`` package itself: the bootstrap makes only it importable.
HOME = "STACKTAP_HOME"
#: Ignore rules (``method=GET path=/healthcheck; from=a to=b path=/x*``).
IGNORE = "STACKTAP_IGNORE"
#: The WSGI app ``stacktap.wsgi.wrap:application`` wraps (``module:attr``).
WRAP_APP = "STACKTAP_WRAP_APP"
#: Send live spans here (OTLP/HTTP base or full URL).
OTLP_ENDPOINT = "STACKTAP_OTLP_ENDPOINT"
#: ``1`` = live export to the standard ``OTEL_EXPORTER_OTLP_*`` endpoint.
OTLP = "STACKTAP_OTLP"
#: ``1`` = live spans carry (redacted, capped) bodies.
OTLP_BODIES = "STACKTAP_OTLP_BODIES"
#: Extra secret key names for redaction, comma separated.
REDACT_KEYS = "STACKTAP_REDACT_KEYS"
#: The dev cloud's directory.
DEVCLOUD_DIR = "STACKTAP_DEVCLOUD_DIR"

#: The live-export settings (a traced service inherits them).
LIVE_EXPORT = (OTLP_ENDPOINT, OTLP, OTLP_BODIES)

# -- defaults -----------------------------------------------------------------------------------

#: Bytes of each request/response body kept in the store.
DEFAULT_BODY_CAP = 1024 * 1024
#: Bytes of a body put into a span attribute (OTLP export): much less than the store keeps.
DEFAULT_SPAN_BODY_CAP = 4096

# -- parsers ------------------------------------------------------------------------------------

_UNITS = {"": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2, "g": 1024**3, "gb": 1024**3}
_TRUE = ("1", "true", "yes", "on")


def parse_size(text: str) -> int:
    """``1048576``, ``512k``, ``2M``, ``1g``, ``2MiB`` -> bytes; anything else is a ValueError."""
    value = text.strip().lower().rstrip("ib") if text.lower().endswith("ib") else text.strip().lower()
    digits = value.rstrip("kmgb")
    unit = value[len(digits) :]
    if not digits.isdigit() or unit not in _UNITS:
        raise ValueError("not a size: %r (try 1048576, 512k, 2M)" % (text,))
    return int(digits) * _UNITS[unit]


def parse_bool(value: Any, default: bool = False) -> bool:
    """Option or variable text (``1``/``true``/``yes``/``on``, anything else false) as a bool;
    None or empty gives ``default``."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in _TRUE


def parse_headers(text: Optional[str]) -> Dict[str, str]:
    """``k1=v1,k2=v2`` (values percent-encoded) as a dict; malformed pairs are skipped."""
    headers: Dict[str, str] = {}
    for pair in (text or "").split(","):
        if "=" not in pair:
            continue
        key, value = pair.split("=", 1)
        key = unquote(key).strip()
        if key:
            headers[key] = unquote(value).strip()
    return headers


def merge_headers(*texts: Optional[str]) -> Dict[str, str]:
    """Several ``k=v,...`` header lists, later ones winning."""
    headers: Dict[str, str] = {}
    for text in texts:
        headers.update(parse_headers(text))
    return headers


class Opt(Generic[T]):
    """One setting: its variable, its default, its parser and a line of help."""

    def __init__(self, env: str, default: T, parse: Callable[[str], T], help: str) -> None:
        self.env = env
        self.default = default
        self.parse = parse
        self.help = help

    def from_env(self, environ: Optional[Mapping[str, str]] = None) -> T:
        """The value in ``environ`` (default ``os.environ``); unset or junk gives the default."""
        text = (environ if environ is not None else os.environ).get(self.env)
        return self.coerce(text)

    def coerce(self, value: Any) -> T:
        """A paste option or variable value (text, or already typed) as this setting's type;
        None, empty or junk gives the default."""
        if value is None or value == "":
            return self.default
        if not isinstance(value, str):
            return value
        try:
            return self.parse(value)
        except ValueError:
            return self.default


BODY_CAP_OPT: Opt[int] = Opt(BODY_CAP, DEFAULT_BODY_CAP, parse_size, "bytes of each body kept (2M, 512k)")
OTLP_BODIES_OPT: Opt[bool] = Opt(OTLP_BODIES, False, parse_bool, "live spans carry bodies")

OPTIONS: List["Opt[Any]"] = [BODY_CAP_OPT, OTLP_BODIES_OPT]


def body_cap_from_env(environ: Optional[Mapping[str, str]] = None) -> int:
    """``STACKTAP_BODY_CAP`` in bytes (default 1 MiB); junk gives the default."""
    return max(0, BODY_CAP_OPT.from_env(environ))
