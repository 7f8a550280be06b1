"""Put stacktap into an api-paste.ini: the filter first in every pipeline, and (with
``layers``) every filter wrapped for layer timing.

What is rewritten (comments, blank lines and everything else are kept as they were):

- a ``[filter:stacktap]`` section is added (``stacktap.wsgi:filter_factory``, ``service``,
  ``layers``); an existing one is left alone;
- ``[pipeline:X] pipeline = a b app`` becomes ``pipeline = stacktap a b app``;
- pipeline strings in composites that build pipelines themselves (nova's
  ``call:nova.api.auth:pipeline_factory_v21``, glance's ``glance.api:pipeline_factory``,
  cinder's ``pipeline_factory``: ``keystone = cors ... osapi_compute_app_v21``) get the same;
- with ``layers``, each ``[filter:X]`` made by ``paste.filter_factory``,
  ``paste.filter_app_factory``, ``use = egg:Pkg#name`` or ``use = call:mod:func`` is
  routed through ``stacktap.wsgi.layers:layer_filter_factory`` (see that module).

Filters used through ``use = config:...`` or another section are left as they are.
Running it twice changes nothing the second time.

NOTE: standard library only, Python 3.8+ (may run in a service's venv during setup).
"""

from __future__ import annotations

from typing import Dict, List

from stacktap.agent.server.layers import FACTORY_KEY, KIND_KEY, LAYER_FACTORY, LAYER_KEY
from stacktap.paste.ini_text import Edit, IniOption, IniSection, apply_edits, check_syntax, parse_ini_lines

FILTER_NAME = "stacktap"
FILTER_FACTORY = "stacktap.wsgi:filter_factory"
_APP_KINDS = ("app", "application", "pipeline", "composite", "filter-app")


def _prepend_stacktap(option: IniOption) -> Edit:
    """Insert ``stacktap`` before the first name of a pipeline value, wherever it starts."""
    lines = list(option.lines)
    for index, line in enumerate(lines):
        cut = line.find("=") if index == 0 else -1
        if index == 0 and cut < 0:
            cut = line.find(":")
        head, rest = (line[: cut + 1], line[cut + 1 :]) if index == 0 else ("", line)
        stripped = rest.lstrip()
        if stripped and not stripped.startswith(("#", ";")):
            indent = rest[: len(rest) - len(stripped)] or " "
            lines[index] = head + indent + FILTER_NAME + " " + stripped
            break
    return option.start, option.end, lines


def _is_pipeline_string(value: str, kinds: Dict[str, str]) -> bool:
    """``cors authtoken ... app``: filters then one app/pipeline/composite, all defined here."""
    names = value.split()
    if len(names) < 2 or names[0] == FILTER_NAME:
        return False
    if kinds.get(names[-1]) not in _APP_KINDS:
        return False
    return all(kinds.get(name) == "filter" for name in names[:-1])


def _pipeline_edits(sections: List[IniSection], kinds: Dict[str, str]) -> List[Edit]:
    edits: List[Edit] = []
    for section in sections:
        if section.kind == "pipeline":
            option = section.option("pipeline")
            if option is not None and option.value.split()[:1] != [FILTER_NAME]:
                edits.append(_prepend_stacktap(option))
        elif section.kind == "composite":
            for option in section.options:
                if option.key.startswith("/") or option.key in ("use", "paste.composite_factory"):
                    continue
                if _is_pipeline_string(option.value, kinds):
                    edits.append(_prepend_stacktap(option))
    return edits


def _layer_edit(section: IniSection) -> List[Edit]:
    """Route one ``[filter:X]`` through the layer wrapper (nothing if it cannot be)."""
    if section.option(FACTORY_KEY) is not None:
        return []  # already wrapped
    found = None
    for key, kind in (
        ("paste.filter_factory", "filter"),
        ("paste.filter_app_factory", "filter_app"),
        ("use", "filter"),
    ):
        candidate = section.option(key)
        if candidate is not None:
            found = (candidate, kind)
            break
    if found is None:
        return []
    option, kind = found
    spec = option.value.strip()
    if option.key == "use" and not spec.startswith(("egg:", "call:")):
        return []  # config:... or another section: left as it is
    if not spec or spec == LAYER_FACTORY:
        return []
    new = [
        "paste.filter_factory = %s" % LAYER_FACTORY,
        "%s = %s" % (FACTORY_KEY, spec.strip()),
        "%s = %s" % (LAYER_KEY, section.name),
    ]
    if kind != "filter":
        new.append("%s = %s" % (KIND_KEY, kind))
    return [(option.start, option.end, new)]


def _stacktap_section(service: str, layers: bool, leading_blank: bool) -> List[str]:
    lines = [""] if leading_blank else []
    lines += [
        "[filter:%s]" % FILTER_NAME,
        "# Added by stacktap: records each request (see stacktap.agent.server.filter).",
        "paste.filter_factory = %s" % FILTER_FACTORY,
        "service = %s" % service,
        "layers = %s" % ("true" if layers else "false"),
    ]
    return [line + "\n" for line in lines]


def instrument_paste_ini(text: str, service: str, layers: bool = True) -> str:
    """``text`` (an api-paste.ini) with stacktap first in every pipeline (see module doc).

    A file configparser cannot read raises ValueError with a one-line message.
    """
    check_syntax(text, "api-paste.ini")
    lines = text.splitlines(True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    sections = parse_ini_lines(lines)
    kinds = {s.name: s.kind for s in sections if s.kind in (*_APP_KINDS, "filter")}
    has_filter = kinds.get(FILTER_NAME) == "filter"
    kinds[FILTER_NAME] = "filter"
    edits = _pipeline_edits(sections, kinds)
    if layers:
        for section in sections:
            if section.kind == "filter" and section.name != FILTER_NAME:
                edits.extend(_layer_edit(section))
    out = apply_edits(lines, edits)
    if not has_filter:
        out.extend(_stacktap_section(service, layers, leading_blank=bool(out and out[-1].strip())))
    return "".join(out)
