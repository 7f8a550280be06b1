"""Ignore rules: drop noisy periodic calls (health checks, nova-compute -> placement).

One syntax for the server filter (``ignore =`` option of ``[filter:stacktap]``) and the
client hook in service processes (env ``STACKTAP_IGNORE``)::

    method=GET path=/healthcheck; from=nova-compute to=placement path=/resource_providers*

Rules are separated by ``;`` (or new lines); a rule is ``field=glob`` pairs separated by
spaces and matches when all its fields match; a call is ignored when any rule matches.

Fields:
  ``method``  HTTP method, case-insensitive; ``GET,HEAD`` lists several.
  ``path``    glob on the URL path (no query), or on the path below the service's prefix
              (``/resource_providers`` of ``/placement/resource_providers``: below the
              endpoint's path client side, below ``SCRIPT_NAME`` server side); a pattern
              holding ``{...}`` is compared with the path template instead
              (``/v2/images/{image_id}``, see stacktap.paths).
  ``from``    the service sending the request, glob, case-insensitive. Client side: the
              process's own service (``STACKTAP_SERVICE``). Server side: the first word of
              the caller's User-Agent (keystoneauth puts the program name there).
  ``to``      the service receiving it, glob, case-insensitive. Server side: the filter's
              service. Client side: the peer's catalog name or type, or ``host:port``.

NOTE: standard library only, Python 3.8+ (runs inside service processes).
"""

from __future__ import annotations

import fnmatch
import os
import re
from typing import Mapping, Optional, Pattern, Sequence, Tuple

from stacktap.settings import IGNORE as IGNORE_ENV

FIELDS = ("method", "path", "from", "to")

_Matcher = Tuple[str, Pattern[str], bool]  # (field, compiled glob, compare with the path template)


def _compile(field: str, pattern: str) -> _Matcher:
    if field == "method":
        alternatives = [p.strip() for p in pattern.split(",") if p.strip()]
        regex = "(?:%s)" % "|".join(fnmatch.translate(p.upper()) for p in alternatives)
        return field, re.compile(regex), False
    flags = 0 if field == "path" else re.IGNORECASE
    return field, re.compile(fnmatch.translate(pattern), flags), field == "path" and "{" in pattern


class IgnoreRule(object):
    """One rule: every field it names must match."""

    __slots__ = ("_matchers", "text")

    def __init__(self, text: str, matchers: Sequence[_Matcher]) -> None:
        self.text = text
        self._matchers = tuple(matchers)

    def matches(self, method: str, path: str, source: Optional[str], target: Optional[str]) -> bool:
        for field, regex, by_template in self._matchers:
            if field == "method":
                value: Optional[str] = method.upper()
            elif field == "path":
                if by_template:
                    from stacktap.paths import path_template

                    value = path_template(path)
                else:
                    value = path
            elif field == "from":
                value = source
            else:
                value = target
            if value is None or regex.match(value) is None:
                return False
        return True


class IgnoreRules(object):
    """A parsed set of ignore rules; empty (and falsy) when there are none."""

    __slots__ = ("rules",)

    def __init__(self, rules: Sequence[IgnoreRule] = ()) -> None:
        self.rules = tuple(rules)

    def __bool__(self) -> bool:
        return bool(self.rules)

    def __repr__(self) -> str:
        return "IgnoreRules(%r)" % "; ".join(r.text for r in self.rules)

    @classmethod
    def parse(cls, text: Optional[str]) -> IgnoreRules:
        """Parse the rule syntax above; a malformed rule raises ValueError naming it."""
        rules = []
        for raw in re.split(r"[;\n]", text or ""):
            rule_text = raw.strip()
            if not rule_text:
                continue
            matchers = []
            for token in rule_text.split():
                field, sep, pattern = token.partition("=")
                field = field.strip().lower()
                if not sep or not pattern:
                    raise ValueError("ignore rule %r: %r is not field=pattern" % (rule_text, token))
                if field not in FIELDS:
                    raise ValueError(
                        "ignore rule %r: unknown field %r (use %s)" % (rule_text, field, ", ".join(FIELDS))
                    )
                matchers.append(_compile(field, pattern))
            rules.append(IgnoreRule(rule_text, matchers))
        return cls(rules)

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> IgnoreRules:
        """Rules from ``STACKTAP_IGNORE``; malformed rules are reported once and ignored."""
        text = (os.environ if environ is None else environ).get(IGNORE_ENV, "")
        try:
            return cls.parse(text)
        except ValueError as exc:
            from stacktap.agent.faults import report_fault

            report_fault(IGNORE_ENV, exc)
            return cls()

    def matches(
        self, method: str, path: str, source: Optional[str] = None, target: Optional[str] = None
    ) -> bool:
        """Whether a call (``method`` on ``path``, from ``source`` to ``target``) is ignored."""
        return any(rule.matches(method, path, source, target) for rule in self.rules)
