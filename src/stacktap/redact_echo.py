"""Echo memory: every secret value a Redactor marked, found again wherever it is repeated.

A password sent in one body and echoed in an error message, a token marked in a header and
seen again in a ``/v2.0/tokens/<token>`` path, a password quoted in the description of the
user being created: once a value has been marked, any later text holding it verbatim gets
its mark there too, for the rest of the process (the run, for ``stacktap run``'s collector).

How it is found without keeping the values: a text is cut into *runs* (maximal stretches of
word characters; anything else, a ``%XX`` escape and a JSON ``\\x``/``\\uXXXX`` escape
separate runs). Each remembered value is indexed by its longest run (its *anchor*): the
process-keyed ``hash()`` of the anchor, the anchor's offset in the value, the value's
length and the hash of the whole value. A text is scanned by hashing its runs whose length
is one of the anchors' lengths; on a hit, the window the value would cover is hashed and
compared, and replaced by its mark when equal.

What is not remembered (NOTE, to keep absurd false positives out): values shorter than
4 characters, ``true``/``false``/``null``/``none``, numbers shorter than 8 digits (ports,
status codes, sizes), marks, and values without a run of 2 characters or more. A value
glued to other word characters in the text (``xSECRETy``) is not found there: runs are
compared whole.

NOTE: runs inside traced programs: Python 3.8+, standard library only.
"""

from __future__ import annotations

import re
import threading
from collections import deque
from typing import Callable, Deque, Dict, Iterator, List, Set, Tuple

#: Characters between runs: non-word characters, ``%XX`` and JSON escapes.
_DELIMS = re.compile(r"(?:%[0-9A-Fa-f]{2}|\\u[0-9A-Fa-f]{4}|\\.|\W)+")


#: ASCII non-word characters as spaces: ``str.translate`` + ``str.split`` cut a text
#: without escapes into runs ten times faster than a regex split.
_TO_SPACE = {c: " " for c in range(128) if not (chr(c).isalnum() or chr(c) == "_")}


def _split(text: str) -> List[str]:
    """The runs of ``text``.

    NOTE: without ``%`` or ``\\``, only ASCII non-word characters separate runs (a value
    next to ``«`` is then not found there); with them, any non-word character and escapes."""
    if "%" in text or "\\" in text:
        return _DELIMS.split(text)
    return text.translate(_TO_SPACE).split()
_MARK_RE = re.compile(r"^\{SHA256\}[0-9a-f]{16}$")
MIN_LENGTH = 4
_SHORT_NUMBER = 8
_LITERALS = frozenset(["true", "false", "null", "none"])
#: NOTE: the bound. Each value costs about 300 bytes (a few small tuples and ints in a dict,
#: a set and a deque): at most ~20 MiB for 65,536 distinct secrets, beyond which the oldest
#: are forgotten. A run of any OpenStack command marks tens of values, a busy service
#: thousands a day.
MAX_VALUES = 65536

#: (offset of the anchor in the value, length of the value, hash of the value)
_Entry = Tuple[int, int, int]


def worth_remembering(value: str) -> bool:
    """Whether ``value`` is remembered (see the module's NOTE for what is not)."""
    if len(value) < MIN_LENGTH or value.lower() in _LITERALS or _MARK_RE.match(value):
        return False
    return not (len(value) < _SHORT_NUMBER and not value.strip("0123456789.,+-eE"))


def _occurrences(text: str, anchors: List[str]) -> Iterator[Tuple[int, str]]:
    """``(start, anchor)`` of each occurrence of the anchors in ``text`` as a whole run.

    NOTE: a few anchors: one ``str.find`` scan each (fast in C); many: one regex pass over
    all of them at once (``\\b``: anchors are runs of word characters)."""
    if len(anchors) <= 8:
        for anchor in anchors:
            start = text.find(anchor)
            while start >= 0:
                end = start + len(anchor)
                if _run_starts(text, start) and not _is_word(text[end : end + 1]):
                    yield start, anchor
                start = text.find(anchor, start + 1)
        return
    alternatives = "|".join(map(re.escape, sorted(anchors, key=len, reverse=True)))
    for match in re.compile(r"%s(?:%s)(?!\w)" % (_RUN_START, alternatives)).finditer(text):
        yield match.start(), match.group(0)


#: Where a run may start: after a non-word character, ``\\x``, ``\\uXXXX`` or ``%XX``.
_RUN_START = r"(?:(?<!\w)|(?<=\\[^u])|(?<=\\u[0-9A-Fa-f]{4})|(?<=%[0-9A-Fa-f]{2}))"


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _run_starts(text: str, start: int) -> bool:
    if start == 0 or not _is_word(text[start - 1]):
        return True
    if start >= 2 and text[start - 2] == "\\":
        return True
    if start >= 3 and text[start - 3] == "%":
        return all(c in "0123456789abcdefABCDEF" for c in text[start - 2 : start])
    return start >= 6 and text[start - 6 : start - 4] == "\\u"


class EchoMemory:
    """The remembered values of one Redactor, as hashes (thread-safe)."""

    def __init__(self, max_values: int = MAX_VALUES) -> None:
        self._max = max_values
        self._lock = threading.Lock()
        self._values: Set[int] = set()
        self._anchors: Dict[int, Tuple[_Entry, ...]] = {}
        self._lengths: Dict[int, int] = {}  # anchor length -> how many anchors have it
        self._order: Deque[Tuple[int, int, _Entry]] = deque()  # (anchor hash, anchor length, entry)

    def __len__(self) -> int:
        return len(self._values)

    def add(self, value: str) -> None:
        """Remember ``value`` (when :func:`worth_remembering`)."""
        whole = hash(value)
        if whole in self._values or not worth_remembering(value):
            return
        anchor = max(_split(value), key=len, default="")
        if len(anchor) < 2:
            return
        start = value.find(anchor)
        entry = (start, len(value), whole)
        key = hash(anchor)
        with self._lock:
            if whole in self._values:
                return
            self._values.add(whole)
            self._anchors[key] = (*self._anchors.get(key, ()), entry)
            self._lengths[len(anchor)] = self._lengths.get(len(anchor), 0) + 1
            self._order.append((key, len(anchor), entry))
            while len(self._order) > self._max:
                self._forget(*self._order.popleft())

    def _forget(self, key: int, length: int, entry: _Entry) -> None:
        self._values.discard(entry[2])
        left = tuple(e for e in self._anchors.get(key, ()) if e != entry)
        if left:
            self._anchors[key] = left
        else:
            self._anchors.pop(key, None)
        count = self._lengths.get(length, 0) - 1
        if count > 0:
            self._lengths[length] = count
        else:
            self._lengths.pop(length, None)

    def may_hold(self, text: str) -> bool:
        """Whether a remembered value's anchor occurs in ``text`` (cheap; may be a false
        positive, never a false negative for what :meth:`replace` would change)."""
        if not self._values:
            return False
        # NOTE: all in C (split, hash, the disjointness test): a Python loop over the runs of
        # a 1 MiB body costs several times more.
        return not self._anchors.keys().isdisjoint(map(hash, _split(text)))

    def replace(self, text: str, mark: Callable[[str], str]) -> str:
        """``text`` with every remembered value in it replaced by ``mark(value)``."""
        if not self._values:
            return text
        anchors = self._anchors
        # NOTE: the runs that are anchors are found in C (split, hash, a set intersection),
        # then each one's occurrences by str.find: no Python loop over a large body's runs.
        runs = set(_split(text))
        by_hash = dict(zip(map(hash, runs), runs))  # noqa: B905 (Python 3.8: no strict=)
        found = [by_hash[key] for key in anchors.keys() & by_hash.keys()]
        if not found:
            return text
        hits: List[Tuple[int, int]] = []
        size = len(text)
        for start, anchor in _occurrences(text, found):
            for offset, length, whole in anchors.get(hash(anchor), ()):
                begin = start - offset
                if begin >= 0 and begin + length <= size and hash(text[begin : begin + length]) == whole:
                    hits.append((begin, begin + length))
        if not hits:
            return text
        # NOTE: overlapping hits (a value inside a longer one): the earliest, then longest, wins.
        hits.sort(key=lambda hit: (hit[0], -hit[1]))
        out: List[str] = []
        pos = 0
        for begin, end in hits:
            if begin < pos:
                continue
            out.append(text[pos:begin])
            out.append(mark(text[begin:end]))
            pos = end
        out.append(text[pos:])
        return "".join(out)
