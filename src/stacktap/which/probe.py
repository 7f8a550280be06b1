"""Resolve an OpenStackClient command inside the ``openstack`` program's own Python.

stacktap runs this file's source with the interpreter named in the ``openstack``
script's shebang (``python -c SOURCE WORD...``), so it sees that venv's packages and
plugins, not stacktap's. It prints one line ``STACKTAP-WHICH:<json>`` and nothing else
of its own.

It rebuilds the command table the way OpenStackClient and cliff do:
- API plugin modules come from entry point groups ``openstack.cli.base`` and
  ``openstack.cli.extension`` (an extension whose API_NAME a base module already has is
  skipped); each gives API_NAME, DEFAULT_API_VERSION (overridden by env
  ``OS_<API>_API_VERSION``) and API_EXTENSIONS, hence the groups
  ``openstack.<api>.v<major>`` (and ``...v<major>.<extension>``);
- command groups load in order ``openstack.cli``, the API groups, ``openstack.common``,
  ``openstack.extension``; a later entry of the same name wins; ``server_list`` is the
  command ``server list``;
- the longest run of leading words (up to the first option) that names a command wins,
  exactly or as a unique per-word prefix (``serv li``); the rest are its arguments.

NOTE: runs in whatever Python the ``openstack`` program uses: Python 3.8+, standard
library only, no stacktap imports.
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import importlib
import importlib.util
import inspect
import json
import os
import re
import sys
from typing import Any, Dict, List, Optional, Tuple

MARKER = "STACKTAP-WHICH:"
BASE_GROUP = "openstack.cli.base"
EXTENSION_GROUP = "openstack.cli.extension"
_API_GROUP = re.compile(r"^openstack\.([a-z0-9_]+)\.v(\d+)$")
_BUILTINS = {"help": "cliff.help:HelpCommand", "complete": "cliff.complete:CompleteCommand"}


class EntryPoint:
    """An entry point and the distribution that declares it (3.8's EntryPoint has no .dist)."""

    def __init__(self, name: str, value: str, group: str, dist: str, version: str) -> None:
        self.name = name
        self.value = value
        self.group = group
        self.dist = dist
        self.version = version

    @property
    def module(self) -> str:
        return self.value.split(":", 1)[0].strip()

    @property
    def attr(self) -> str:
        rest = self.value.split(":", 1)[1] if ":" in self.value else ""
        return rest.split("[", 1)[0].strip()

    def to_dict(self) -> Dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "group": self.group,
            "dist": self.dist,
            "dist_version": self.version,
        }


def entry_points_by_group() -> Dict[str, List[EntryPoint]]:
    """Every entry point of every installed distribution, first on sys.path wins."""
    from importlib import metadata

    groups: Dict[str, List[EntryPoint]] = {}
    seen_dists = set()
    for dist in metadata.distributions():
        name = (dist.metadata["Name"] or "?") if dist.metadata else "?"
        key = name.lower().replace("_", "-")
        if key in seen_dists:
            continue  # NOTE: a shadowed copy further down sys.path is never loaded
        seen_dists.add(key)
        for ep in dist.entry_points:
            groups.setdefault(ep.group, []).append(
                EntryPoint(ep.name, ep.value, ep.group, name, dist.version)
            )
    return groups


def _major(version: str) -> str:
    return version.replace(".", "_").split("_")[0]


def api_groups(groups: Dict[str, List[EntryPoint]]) -> Tuple[List[str], List[str]]:
    """The API command groups OSC would load, in order, and notes on what was guessed."""
    notes: List[str] = []
    ordered: List[str] = []
    seen_apis: List[str] = []
    base = groups.get(BASE_GROUP, [])
    for ep in base + groups.get(EXTENSION_GROUP, []):
        info = _plugin_info(ep, notes)
        api = info["api"]
        if ep.group == EXTENSION_GROUP and api in seen_apis:
            continue
        seen_apis.append(api)
        version = info["version"]
        if version is None:
            version = _highest_version(groups, api)
            if version is None:
                continue
            notes.append(f"{api}: API version not known, using the highest group v{version}")
        group = "openstack.{}.v{}".format(api.replace("-", "_"), _major(version))
        ordered.append(group)
        ordered.extend(f"{group}.{ext}" for ext in info["extensions"])
    return ordered, notes


def _plugin_info(ep: EntryPoint, notes: List[str]) -> Dict[str, Any]:
    """API name, chosen version and extensions of one API plugin module (by importing it)."""
    try:
        module = importlib.import_module(ep.module)
    except Exception as exc:  # a broken plugin must not hide the others
        notes.append(f"cannot import API plugin {ep.module} ({type(exc).__name__}: {exc})")
        return {"api": ep.name, "version": None, "extensions": []}
    api = str(getattr(module, "API_NAME", ep.name))
    option = str(getattr(module, "API_VERSION_OPTION", "os_{}_api_version".format(api.replace("-", "_"))))
    default = getattr(module, "DEFAULT_API_VERSION", None)
    chosen = os.environ.get(option.upper()) or (str(default) if default is not None else None)
    return {"api": api, "version": chosen, "extensions": list(getattr(module, "API_EXTENSIONS", None) or [])}


def _highest_version(groups: Dict[str, List[EntryPoint]], api: str) -> Optional[str]:
    versions = [int(m.group(2)) for m in (_API_GROUP.match(g) for g in groups) if m and m.group(1) == api]
    return str(max(versions)) if versions else None


def command_table(groups: Dict[str, List[EntryPoint]], order: List[str]) -> Dict[str, EntryPoint]:
    """``{"server list": entry point}`` as cliff's CommandManager builds it."""
    commands: Dict[str, EntryPoint] = {}
    if "cliff" in {ep.dist.lower() for eps in groups.values() for ep in eps} or _importable("cliff"):
        for name, value in _BUILTINS.items():
            commands[name] = EntryPoint(name, value, "(cliff built-in)", "cliff", "")
    for group in order:
        for ep in groups.get(group, []):
            commands[ep.name.replace("_", " ")] = ep
    return commands


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def command_words(argv: List[str]) -> List[str]:
    """The words after global options: ``--os-cloud x server list`` -> ``server list``."""
    words = list(argv)
    while words and words[0].startswith("-"):
        option = words.pop(0)
        takes_value = "=" not in option and option not in (
            "--debug",
            "-v",
            "--verbose",
            "-q",
            "--quiet",
            "--insecure",
            "--timing",
            "--no-cache",
        )
        if takes_value and words and option.startswith("--os-"):
            words.pop(0)
    return words


def find_command(words: List[str], names: List[str]) -> Optional[Tuple[str, str, List[str]]]:
    """cliff's CommandManager.find_command: (command name, words used, arguments) or None."""
    start = len(words)
    for index, word in enumerate(words):
        if word.startswith("-"):
            start = index
            break
    for i in range(start, 0, -1):
        typed = words[:i]
        name = " ".join(typed)
        if name in names:
            return name, name, words[i:]
        candidates = [n for n in names if _partial_match(typed, n.split())]
        if len(candidates) == 1:
            return candidates[0], name, words[i:]
    return None


def _partial_match(typed: List[str], parts: List[str]) -> bool:
    if len(parts) != len(typed):
        return False
    # NOTE: no zip(strict=...) here: this runs on Python 3.8.
    return all(parts[i].startswith(typed[i]) for i in range(len(parts)))


def suggestions(words: List[str], names: List[str], limit: int = 5) -> List[str]:
    """Commands closest to what was typed (compared with as many words as each has)."""
    scored = []
    for name in names:
        size = len(name.split())
        typed = " ".join(words[:size])
        ratio = difflib.SequenceMatcher(None, typed, name).ratio()
        if ratio >= 0.6:
            scored.append((-ratio, name))
    return [name for _, name in sorted(scored)[:limit]]


def locate(ep: EntryPoint) -> Dict[str, Any]:
    """Module, class, file and line of an entry point's target (and its take_action)."""
    found: Dict[str, Any] = {"module": ep.module, "class": ep.attr, "file": None, "line": None}
    try:
        obj: Any = importlib.import_module(ep.module)
        for part in ep.attr.split("."):
            obj = getattr(obj, part)
    except Exception as exc:
        found["import_error"] = f"{type(exc).__name__}: {exc}"
        found.update(_locate_by_source(ep))
        return found
    found["file"] = _source_file(obj)
    with contextlib.suppress(OSError, TypeError):
        found["line"] = inspect.getsourcelines(obj)[1]
    # NOTE: the class's own docstring only: cliff's base classes have generic ones.
    own_doc = vars(obj).get("__doc__") if inspect.isclass(obj) else getattr(obj, "__doc__", None)
    summary = inspect.cleandoc(own_doc) if isinstance(own_doc, str) else ""
    if not summary and getattr(obj, "_description", None) is not None:
        summary = str(obj._description)  # OSC's translated one-line description
    found["summary"] = summary.strip().split("\n", 1)[0] or None
    action = getattr(obj, "take_action", None)
    if action is not None:
        owner = (
            next((k for k in inspect.getmro(obj) if "take_action" in vars(k)), obj)
            if inspect.isclass(obj)
            else obj
        )
        with contextlib.suppress(OSError, TypeError):
            found["take_action"] = {
                "class": owner.__name__,
                "file": _source_file(action),
                "line": inspect.getsourcelines(action)[1],
            }
    return found


def _source_file(obj: Any) -> Optional[str]:
    try:
        return inspect.getsourcefile(obj) or inspect.getfile(obj)
    except TypeError:
        return None


def _locate_by_source(ep: EntryPoint) -> Dict[str, Any]:
    """File and line without importing (the module failed to import): parse it with ast."""
    try:
        spec = importlib.util.find_spec(ep.module)
    except (ImportError, ValueError):
        return {}
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return {}
    out: Dict[str, Any] = {"file": spec.origin}
    try:
        with open(spec.origin, "rb") as handle:
            tree = ast.parse(handle.read())
    except (OSError, SyntaxError, ValueError):
        return out
    name = ep.attr.split(".")[0]
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and node.name == name:
            out["line"] = node.lineno
    return out


def resolve(argv: List[str]) -> Dict[str, Any]:
    """Everything ``stacktap which`` prints, as a JSON-ready dict."""
    groups = entry_points_by_group()
    order, notes = api_groups(groups)
    order = ["openstack.cli", *order, "openstack.common", "openstack.extension"]
    commands = command_table(groups, order)
    words = command_words(argv)
    names = sorted(commands)
    result: Dict[str, Any] = {
        "python": sys.executable,
        "python_version": "%d.%d.%d" % sys.version_info[:3],
        "groups": [g for g in order if g in groups],
        "commands": len(commands),
        "notes": notes,
        "words": words,
        "match": None,
        "suggestions": [],
    }
    match = find_command(words, names) if words else None
    if match is None:
        result["suggestions"] = suggestions(words, names)
        return result
    name, typed, arguments = match
    ep = commands[name]
    result["match"] = {"command": name, "typed": typed, "arguments": arguments, "entry_point": ep.to_dict()}
    result["match"].update(locate(ep))
    return result


def main(argv: List[str]) -> int:
    try:
        result = resolve(argv)
    except Exception as exc:  # report, never a traceback: stacktap prints one line
        result = {"error": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write("\n" + MARKER + json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
