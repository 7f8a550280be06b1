"""Resolve a paste config the way paste.deploy does, without importing the service.

``PasteConfig(path).resolve(request_path)`` gives the chain a request goes through:
urlmap composites (longest path prefix; nova's ``/+`` wildcard), pipeline-building
composites (nova's ``pipeline_factory_v21``, cinder's ``pipeline_factory`` keyed by
``auth_strategy``, glance's keyed by the deployment flavor), ``[pipeline:]``, ``use =``
(another section, ``egg:``, ``call:``, ``config:``), ``filter-with``, ``[filter-app:]``,
and finally the app factory. Filters wrapped by ``stacktap.paste.install`` show their
original factory.

Runs in stacktap's own process (configparser only): nova, glance and cinder need not be
importable. Every problem (bad syntax, a missing section, a cycle, no pipeline for the
auth strategy) is a ``PasteConfigError`` with one line naming the section.
"""

from __future__ import annotations

import configparser
from dataclasses import asdict, dataclass, field
from typing import Any

from stacktap.agent.server.layers import FACTORY_KEY
from stacktap.errors import StacktapError

APP_KINDS = ("app", "application", "pipeline", "composite", "filter-app")
_FACTORY_KEYS = (
    "paste.app_factory",
    "paste.composite_factory",
    "paste.filter_factory",
    "paste.filter_app_factory",
)


class PasteConfigError(StacktapError, ValueError):
    """A paste config that cannot be resolved (one line, naming the section)."""


@dataclass
class Step:
    """One element of the chain: a composite's choice, a filter, or the app."""

    kind: str  # urlmap | composite | pipeline | filter | filter-app | app
    name: str
    factory: str | None = None
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Section:
    kind: str
    name: str
    options: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return "[%s:%s]" % (self.kind, self.name)

    @property
    def factory(self) -> str | None:
        if FACTORY_KEY in self.options:
            return self.options[FACTORY_KEY]
        for key in _FACTORY_KEYS:
            if key in self.options:
                return self.options[key]
        return self.options.get("use")


def _looks_like_pipeline(value: str) -> bool:
    return len(value.split()) >= 2


def _urlmap_key(key: str) -> str | None:
    """The path of a urlmap option key (``/v2.1/+``, ``domain host /x``), else None."""
    words = key.split()
    if words and words[0] == "domain" and len(words) >= 3:
        words = words[2:]
    if len(words) == 1 and words[0].startswith("/"):
        path = words[0]
        return path if path in ("/", "/+") or path.endswith("/+") else path.rstrip("/")
    return None


class PasteConfig:
    """A parsed api-paste.ini."""

    def __init__(self, text: str, source: str = "api-paste.ini") -> None:
        self.source = source
        parser = configparser.RawConfigParser(strict=False, interpolation=None, default_section="DEFAULT")
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        try:
            parser.read_string(text, source=source)
        except configparser.Error as exc:
            raise PasteConfigError("%s: %s" % (source, " ".join(str(exc).split()))) from None
        self.sections: dict[tuple[str, str], _Section] = {}
        self.order: list[_Section] = []
        defaults = set(parser.defaults())
        for header in parser.sections():
            kind, sep, name = header.partition(":")
            kind, name = kind.strip(), (name.strip() if sep else "main")
            if kind == "application":
                kind = "app"
            options = {k: v.strip() for k, v in parser.items(header) if k not in defaults}
            section = _Section(kind, name, options)
            self.sections[(kind, name)] = section
            self.order.append(section)

    @classmethod
    def from_file(cls, path: str) -> PasteConfig:
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as exc:
            raise PasteConfigError("cannot read %s: %s" % (path, exc.strerror or exc)) from None
        return cls(text, source=path)

    # -- finding sections -------------------------------------------------------------------

    def _find(self, kinds: tuple[str, ...], name: str, referrer: str) -> _Section:
        for kind in kinds:
            section = self.sections.get((kind, name))
            if section is not None:
                return section
        wanted = "filter" if kinds == ("filter",) else "app, pipeline or composite"
        raise PasteConfigError(
            "%s: %s refers to %r, but there is no such %s section" % (self.source, referrer, name, wanted)
        )

    def app_names(self) -> list[str]:
        """Names of the app/pipeline/composite sections, in file order."""
        return [s.name for s in self.order if s.kind in APP_KINDS]

    def roots(self) -> list[str]:
        """Apps no other section refers to (what a service loads by name)."""
        referenced: set[str] = set()
        for section in self.order:
            for key, value in section.options.items():
                if key in ("pipeline", "next", "filter-with") or section.kind == "composite":
                    referenced.update(value.split())
                elif key == "use" and ":" not in value:
                    referenced.add(value)
        return [name for name in self.app_names() if name not in referenced]

    def default_app(self, flavor: str | None = None) -> str:
        """``main`` if there is one, else the first root whose name says it is an API
        (``<that>-<flavor>`` when it exists: glance loads ``glance-api-keystone``)."""
        names = self.app_names()
        if "main" in names:
            return "main"
        roots = self.roots() or names
        if not roots:
            raise PasteConfigError("%s: no [app:], [pipeline:] or [composite:] section" % self.source)
        chosen = next((name for name in roots if "api" in name.lower()), roots[0])
        if flavor and "%s-%s" % (chosen, flavor) in names:
            return "%s-%s" % (chosen, flavor)
        return chosen

    # -- resolving --------------------------------------------------------------------------

    def resolve(
        self,
        path: str = "/",
        app: str | None = None,
        auth_strategy: str = "keystone",
        flavor: str | None = None,
    ) -> list[Step]:
        """The chain for a request on ``path`` through app ``app`` (default: default_app())."""
        resolver = _Resolver(self, auth_strategy, flavor, app or self.default_app(flavor))
        return resolver.app(resolver.root, path or "/", "the command line", [])

    def routes(
        self, app: str | None = None, auth_strategy: str = "keystone", flavor: str | None = None
    ) -> list[tuple[str, list[Step]]]:
        """(path prefix, chain) for every branch of the urlmaps under ``app``."""
        resolver = _Resolver(self, auth_strategy, flavor, app or self.default_app(flavor))
        prefixes = resolver.prefixes(resolver.root, "", [])
        return [
            (prefix or "/", self.resolve(_sample_path(prefix), app, auth_strategy, flavor))
            for prefix in prefixes
        ]


def _sample_path(prefix: str) -> str:
    """A request path that takes the urlmap branch ``prefix``."""
    path = prefix.replace("/+", "/x") if "/+" in prefix else prefix
    return path or "/"


class _Resolver:
    def __init__(self, config: PasteConfig, auth_strategy: str, flavor: str | None, root: str) -> None:
        self.config = config
        self.auth_strategy = auth_strategy
        self.flavor = flavor
        self.root = root

    def _merged(self, section: _Section, stack: list[str]) -> _Section:
        """``use = othersection`` inherits that section's options (local ones win)."""
        use = section.options.get("use")
        if not use or ":" in use or "#" in use:
            return section
        self._enter(section, stack)
        kinds = ("filter",) if section.kind == "filter" else APP_KINDS
        base = self._merged(self.config._find(kinds, use, section.label), stack)
        stack.pop()
        options = dict(base.options)
        options.update({k: v for k, v in section.options.items() if k != "use"})
        if "use" in base.options:
            options["use"] = base.options["use"]
        return _Section(base.kind, section.name, options)

    def _enter(self, section: _Section, stack: list[str]) -> None:
        if section.label in stack:
            cycle = " -> ".join([*stack[stack.index(section.label) :], section.label])
            raise PasteConfigError("%s: cyclic reference %s" % (self.config.source, cycle))
        stack.append(section.label)

    def app(self, name: str, path: str, referrer: str, stack: list[str]) -> list[Step]:
        if ":" in name:  # egg:..., config:..., call:...
            return [Step("app", name, name, "outside this file")]
        section = self._merged(self.config._find(APP_KINDS, name, referrer), stack)
        self._enter(section, stack)
        try:
            if section.kind == "pipeline":
                return self._pipeline(section, section.options.get("pipeline", ""), path, stack, "")
            if section.kind == "composite":
                return self._composite(section, path, stack)
            if section.kind == "filter-app":
                steps = [Step("filter-app", section.name, section.factory)]
                nxt = section.options.get("next")
                if not nxt:
                    raise PasteConfigError(
                        "%s: %s has no next = option" % (self.config.source, section.label)
                    )
                return steps + self.app(nxt, path, section.label, stack)
            steps = []
            wrapper = section.options.get("filter-with")
            if wrapper:
                steps.append(self.filter(wrapper, section.label, stack, "filter-with"))
            steps.append(Step("app", section.name, section.factory))
            return steps
        finally:
            stack.pop()

    def filter(self, name: str, referrer: str, stack: list[str], detail: str = "") -> Step:
        section = self._merged(self.config._find(("filter",), name, referrer), stack)
        if FACTORY_KEY in section.options:
            detail = ("%s, timed by stacktap" % detail) if detail else "timed by stacktap"
        if name == "stacktap":
            detail = detail or "records the request"
        return Step("filter", section.name, section.factory, detail)

    def _pipeline(
        self, section: _Section, value: str, path: str, stack: list[str], detail: str
    ) -> list[Step]:
        names = value.split()
        if not names:
            raise PasteConfigError("%s: %s has an empty pipeline" % (self.config.source, section.label))
        steps = [
            Step(
                "pipeline",
                section.name,
                section.factory if section.kind == "composite" else None,
                detail or "%d filters" % (len(names) - 1),
            )
        ]
        steps += [self.filter(name, section.label, stack) for name in names[:-1]]
        return steps + self.app(names[-1], path, section.label, stack)

    def _urlmap_entries(self, section: _Section) -> list[tuple[str, str]]:
        entries = []
        for key, value in section.options.items():
            prefix = _urlmap_key(key)
            if prefix is not None:
                entries.append((prefix, value))
        return entries

    def _composite(self, section: _Section, path: str, stack: list[str]) -> list[Step]:
        entries = self._urlmap_entries(section)
        if entries:
            prefix, target, rest = _match_urlmap(entries, path)
            if target is None:
                raise PasteConfigError(
                    "%s: %s maps no prefix of %r (prefixes: %s)"
                    % (self.config.source, section.label, path, ", ".join(p or "/" for p, _ in entries))
                )
            step = Step("urlmap", section.name, section.factory, "%s -> %s" % (prefix or "/", target))
            return [step, *self.app(target, rest, section.label, stack)]
        choices = {
            k: v
            for k, v in section.options.items()
            if k != "use" and k not in _FACTORY_KEYS and _looks_like_pipeline(v)
        }
        if not choices:
            raise PasteConfigError(
                "%s: %s is neither a urlmap nor a pipeline choice (factory %s)"
                % (self.config.source, section.label, section.factory)
            )
        key, why = self._choose(section, choices)
        return self._pipeline(section, choices[key], path, stack, "%s = ... (%s)" % (key, why))

    def _choose(self, section: _Section, choices: dict[str, str]) -> tuple[str, str]:
        """Which pipeline a pipeline-building composite takes, and why."""
        if self.flavor and self.flavor in choices:
            return self.flavor, "flavor"
        for key in sorted(choices, key=len, reverse=True):
            if self.root.endswith("-" + key):  # glance: app glance-api-<flavor>
                return key, "flavor from app %s" % self.root
        if "default" in choices:  # NOTE: glance keys its pipelines by flavor, not auth_strategy
            return "default", "no flavor"
        if self.auth_strategy in choices:
            return self.auth_strategy, "auth_strategy"
        raise PasteConfigError(
            "%s: %s has no pipeline for auth strategy %r (choices: %s)"
            % (self.config.source, section.label, self.auth_strategy, ", ".join(choices))
        )

    def prefixes(self, name: str, base: str, stack: list[str]) -> list[str]:
        """Every urlmap prefix reachable from app ``name``, joined with ``base``."""
        if ":" in name:
            return [base]
        section = self._merged(self.config._find(APP_KINDS, name, "the command line"), stack)
        self._enter(section, stack)
        try:
            last = self._last_app(section)
            if last is not None:
                return self.prefixes(last, base, stack)
            entries = self._urlmap_entries(section) if section.kind == "composite" else []
            if not entries:
                return [base]
            found: list[str] = []
            for prefix, target in entries:
                found.extend(self.prefixes(target, base + ("" if prefix == "/" else prefix), stack))
            return found
        finally:
            stack.pop()

    def _last_app(self, section: _Section) -> str | None:
        """The app at the end of a pipeline (or of a composite's chosen pipeline)."""
        if section.kind == "pipeline":
            names = section.options.get("pipeline", "").split()
            return names[-1] if names else None
        if section.kind == "filter-app":
            return section.options.get("next")
        if section.kind == "composite" and not self._urlmap_entries(section):
            choices = {
                k: v
                for k, v in section.options.items()
                if k != "use" and k not in _FACTORY_KEYS and _looks_like_pipeline(v)
            }
            if choices:
                return choices[self._choose(section, choices)[0]].split()[-1]
        return None


def _match_urlmap(entries: list[tuple[str, str]], path: str) -> tuple[str, str | None, str]:
    """(prefix, target, rest of the path) by longest prefix, as paste/nova URLMap match."""
    for prefix, target in sorted(entries, key=lambda e: len(e[0]), reverse=True):
        if prefix.endswith("/+"):
            base = prefix[:-1]
            if path.startswith(base) and len(path) > len(base):
                return prefix, target, path[len(base) - 1 :]
        elif prefix == "/":
            return prefix, target, path
        elif path == prefix or path.startswith(prefix + "/"):
            return prefix, target, path[len(prefix) :] or "/"
    return "", None, path
