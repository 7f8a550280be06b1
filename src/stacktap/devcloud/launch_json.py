"""Merging stacktap's debug configurations into a VS Code ``launch.json`` without losing a byte
of the user's own.

``launch.json`` is JSON with comments (JSONC: ``//`` and ``/* */`` comments, trailing commas).
The file is edited as text: only the array items stacktap owns (their ``name`` starts with
:data:`PREFIX`) are cut out or replaced in place, and new items go at the end of the
``configurations`` array, so the user's entries, comments and layout stay exactly as they were.
A file that is not valid JSONC is refused with a one-line error and left untouched.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stacktap.errors import DevcloudError

#: The name prefix that marks a configuration as written by stacktap (and so, as its to replace).
PREFIX = "stacktap: "

_PUNCT = "{}[]:,"


class LaunchJsonError(DevcloudError):
    """``launch.json`` cannot be read as JSON with comments; the file was not changed."""


@dataclass(frozen=True)
class _Token:
    kind: str  # one of _PUNCT, "string" or "literal"
    start: int
    end: int


def _scan(text: str) -> tuple[list[_Token], list[tuple[int, int]]]:
    """The tokens of ``text`` and the spans of its comments (strings are not looked into)."""
    tokens: list[_Token] = []
    comments: list[tuple[int, int]] = []
    i, size = 0, len(text)
    while i < size:
        char = text[i]
        if char.isspace():
            i += 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            end = size if end < 0 else end
            comments.append((i, end))
            i = end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise _error(text, i, "unterminated /* comment")
            comments.append((i, end + 2))
            i = end + 2
        elif char == '"':
            j = i + 1
            while j < size and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            if j >= size:
                raise _error(text, i, "unterminated string")
            tokens.append(_Token("string", i, j + 1))
            i = j + 1
        elif char in _PUNCT:
            tokens.append(_Token(char, i, i + 1))
            i += 1
        else:
            j = i
            while j < size and not text[j].isspace() and text[j] not in _PUNCT + '"/':
                j += 1
            j = max(j, i + 1)
            tokens.append(_Token("literal", i, j))
            i = j
    return tokens, comments


def _error(text: str, position: int, message: str) -> LaunchJsonError:
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    return LaunchJsonError(f"line {line} column {column}: {message}")


def _plain_json(text: str, tokens: list[_Token], comments: list[tuple[int, int]]) -> str:
    """``text`` with comments and trailing commas blanked out (same length, same lines)."""
    chars = list(text)
    for start, end in comments:
        for k in range(start, end):
            if chars[k] != "\n":
                chars[k] = " "
    for token, following in itertools.pairwise(tokens):
        if token.kind == "," and following.kind in "}]":
            chars[token.start] = " "
    return "".join(chars)


def parse(text: str) -> dict[str, Any]:
    """The document in ``text``: an object whose ``configurations``, if any, is an array."""
    tokens, comments = _scan(text)
    try:
        document = json.loads(_plain_json(text, tokens, comments))
    except json.JSONDecodeError as exc:
        raise LaunchJsonError(f"line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(document, dict):
        raise LaunchJsonError("the top level is not an object")
    if not isinstance(document.get("configurations", []), list):
        raise LaunchJsonError('"configurations" is not an array')
    return document


@dataclass
class _Layout:
    """Where things are in the text: the top object and the ``configurations`` array's items."""

    object_close: int = -1
    object_has_members: bool = False
    array_open: int = -1
    array_close: int = -1
    #: (start, end, index of the comma after it or -1) of each item
    items: list[tuple[int, int, int]] = field(default_factory=list)


def _locate(text: str, tokens: list[_Token]) -> _Layout:
    found = _Layout()
    depth = 0
    in_array = False
    item_start = -1
    previous: _Token | None = None
    for index, token in enumerate(tokens):
        if depth == 1 and token.kind == "string" and index + 2 < len(tokens):
            after = tokens[index + 1 : index + 3]
            is_key = after[0].kind == ":" and previous is not None and previous.kind in "{,"
            found.object_has_members = found.object_has_members or is_key
            key = json.loads(text[token.start : token.end]) if is_key else None
            if key == "configurations" and after[1].kind == "[":
                # NOTE: a key given twice: json.loads keeps the last one, and so do we.
                found.array_open, found.items, in_array = after[1].start, [], False
        if token.kind in "{[":
            depth += 1
            if depth == 2 and token.start == found.array_open:
                in_array = True
            elif in_array and depth == 3 and item_start < 0:
                item_start = token.start
        elif token.kind in "}]":
            depth -= 1
            if depth == 0:
                found.object_close = token.start
            if in_array and depth == 1:
                if item_start >= 0 and previous is not None:
                    found.items.append((item_start, previous.end, -1))
                found.array_close, in_array, item_start = token.start, False, -1
        elif in_array and depth == 2:
            if token.kind == ",":
                if item_start >= 0 and previous is not None:
                    found.items.append((item_start, previous.end, token.start))
                item_start = -1
            elif item_start < 0:
                item_start = token.start
        previous = token
    return found


@dataclass(frozen=True)
class Merged:
    """The new text and what changed: names added, replaced and removed; the user's kept."""

    text: str
    added: list[str]
    replaced: list[str]
    removed: list[str]
    kept: int


def _render(entry: Mapping[str, Any], indent: str) -> str:
    lines = json.dumps(entry, indent=4, ensure_ascii=False).splitlines()
    return "\n".join(indent + line for line in lines)


def _owned(entry: object) -> bool:
    return isinstance(entry, dict) and str(entry.get("name", "")).startswith(PREFIX)


def merge(
    text: str | None, configurations: list[dict[str, Any]], stale: Callable[[dict[str, Any]], bool]
) -> Merged:
    """``text`` (None: no file yet) with ``configurations`` in it: an item of stacktap's with the
    same name is replaced in place, one that ``stale`` says is out of date is removed, the rest
    are appended; everything else is kept as written."""
    by_name = {c["name"]: c for c in configurations}
    if text is None or not text.strip():
        document = {"version": "0.2.0", "configurations": configurations}
        return Merged(json.dumps(document, indent=4) + "\n", list(by_name), [], [], 0)
    items: list[Any] = parse(text).get("configurations", [])
    tokens, _ = _scan(text)
    where = _locate(text, tokens)
    if where.array_open < 0:
        body = ",\n".join(_render(c, "        ") for c in configurations)
        needs_comma = where.object_has_members and not _ends_with_comma(tokens, where.object_close)
        insert = f'{"," if needs_comma else ""}\n    "configurations": [\n{body}\n    ]\n'
        new_text = text[: where.object_close] + insert + text[where.object_close :]
        return _checked(Merged(new_text, list(by_name), [], [], 0), by_name)
    if len(where.items) != len(items):  # NOTE: would be a bug of the scanner: write nothing
        raise LaunchJsonError('cannot find each item of "configurations" in the text')
    indent = "        "
    if where.items:
        lead = text[text.rfind("\n", 0, where.items[0][0]) + 1 : where.items[0][0]]
        indent = lead if lead and not lead.strip() else indent
    added, replaced, removed, chunks = [], [], [], []
    previous_end = where.array_open + 1
    for (start, end, comma), entry in zip(where.items, items, strict=True):
        # NOTE: an item's chunk runs from after the previous comma up to (without) its own one:
        # the whitespace and comments before it go with it.
        lead, chunk = text[previous_end:start], text[previous_end : comma if comma >= 0 else end]
        previous_end = comma + 1 if comma >= 0 else end
        if _owned(entry) and entry["name"] in by_name and entry["name"] in replaced:
            removed.append(entry["name"])  # NOTE: a second copy (pasted by hand): one is enough
        elif _owned(entry) and entry["name"] in by_name:
            replaced.append(entry["name"])
            chunks.append(lead + _render(by_name[entry["name"]], "").replace("\n", "\n" + indent))
        elif _owned(entry) and stale(entry):
            removed.append(entry["name"])
        else:
            chunks.append(chunk)
    for name, entry in by_name.items():
        if name not in replaced:
            added.append(name)
            chunks.append("\n" + _render(entry, indent))
    tail = text[previous_end : where.array_close]
    if added and "\n" not in tail:
        tail += "\n" + indent[:-4]
    new_text = text[: where.array_open + 1] + ",".join(chunks) + tail + text[where.array_close :]
    kept = len(items) - len(replaced) - len(removed)
    return _checked(Merged(new_text, added, replaced, removed, kept), by_name)


def _ends_with_comma(tokens: list[_Token], position: int) -> bool:
    before = [t for t in tokens if t.end <= position]
    return bool(before) and before[-1].kind == ","


def _checked(merged: Merged, by_name: Mapping[str, Any]) -> Merged:
    """Parse what is about to be written: stacktap's own configurations must read back as made."""
    written = {c.get("name"): c for c in parse(merged.text).get("configurations", []) if isinstance(c, dict)}
    if any(written.get(name) != entry for name, entry in by_name.items()):
        raise LaunchJsonError("the merged text does not read back as written")  # NOTE: a merge bug
    return merged


def read(path: Path) -> str | None:
    """The text of ``path``, None when there is no such file."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as exc:
        raise LaunchJsonError(f"{path} is not UTF-8 text: {exc.reason}") from None


def write(path: Path, text: str) -> None:
    """Replace ``path`` atomically, keeping its permissions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    tmp = path.with_name(path.name + ".stacktap-tmp")
    fd = os.open(str(tmp), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, path)


def names(text: str) -> Iterator[str]:
    """The configuration names in a launch.json text (for messages and tests)."""
    for entry in parse(text).get("configurations", []):
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            yield entry["name"]
