"""A line-preserving view of an ini file: sections and options with the lines they span,
so a rewrite can change a few options and keep every comment and blank line.

NOTE: standard library only, Python 3.8+ (imported by the installer in service setups).
"""

from __future__ import annotations

import configparser
import re
from typing import List, Optional, Tuple

_SECTION = re.compile(r"^\[(?P<name>[^\]]+)\]\s*$")


class IniOption(object):
    """``key = value``; ``start``/``end`` are the line indexes it spans (continuations too)."""

    __slots__ = ("end", "key", "lines", "start")

    def __init__(self, key: str, start: int, end: int, lines: List[str]) -> None:
        self.key = key
        self.start = start
        self.end = end
        self.lines = lines

    @property
    def value(self) -> str:
        first = self.lines[0]
        cut = _delimiter_at(first)
        parts = [first[cut + 1 :], *self.lines[1:]]
        return " ".join(p.strip() for p in parts if p.strip() and not p.strip().startswith(("#", ";")))


class IniSection(object):
    """``[kind:name]`` and its options."""

    __slots__ = ("end", "header", "line", "options")

    def __init__(self, header: str, line: int) -> None:
        self.header = header
        self.line = line
        self.end = line + 1  # one past its last line
        self.options: List[IniOption] = []

    @property
    def kind(self) -> str:
        return self.header.partition(":")[0].strip() if ":" in self.header else self.header.strip()

    @property
    def name(self) -> str:
        return self.header.partition(":")[2].strip() if ":" in self.header else "main"

    def option(self, key: str) -> Optional[IniOption]:
        for option in self.options:
            if option.key == key:
                return option
        return None


def _delimiter_at(line: str) -> int:
    positions = [p for p in (line.find("="), line.find(":")) if p >= 0]
    return min(positions) if positions else -1


def check_syntax(text: str, source: str = "<ini>") -> None:
    """Raise ValueError (one line) if configparser cannot read ``text``."""
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        parser.read_string(text, source=source)
    except configparser.Error as exc:
        raise ValueError("%s: %s" % (source, " ".join(str(exc).split()))) from None


def parse_ini_lines(lines: List[str]) -> List[IniSection]:
    """The sections of ``lines`` (as ``str.splitlines(True)`` gives them)."""
    sections: List[IniSection] = []
    current: Optional[IniSection] = None
    option: Optional[IniOption] = None
    for index, raw in enumerate(lines):
        line = raw.rstrip("\r\n")
        stripped = line.strip()
        match = _SECTION.match(stripped) if not line[:1].isspace() else None
        if match:
            current = IniSection(match.group("name"), index)
            sections.append(current)
            option = None
            continue
        if current is None:
            continue
        if not stripped or stripped.startswith(("#", ";")):
            if not stripped:
                option = None
            continue
        if line[:1].isspace() and option is not None:
            option.lines.append(line)
            option.end = index + 1
            current.end = index + 1
            continue
        cut = _delimiter_at(line)
        if cut < 0:
            continue
        option = IniOption(line[:cut].strip(), index, index + 1, [line])
        current.options.append(option)
        current.end = index + 1
    return sections


Edit = Tuple[int, int, List[str]]  # replace lines[start:end] with these lines


def apply_edits(lines: List[str], edits: List[Edit]) -> List[str]:
    """``lines`` with each edit applied (edits must not overlap)."""
    out = list(lines)
    for start, end, new in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        out[start:end] = [n if n.endswith("\n") else n + "\n" for n in new]
    return out
