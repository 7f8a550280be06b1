"""Bodies that do not parse (cut at the body cap, or not JSON at all) are redacted on what
was read, with the same rules as whole ones, rather than dropped whole.

- a JSON prefix (``{"images": [... "password": "hun`` cut anywhere) is scanned token by
  token: the value of a secret-named key is marked (a string cut in the middle too), other
  strings get the string rules of the JSON walk (URLs, JSON and YAML held in strings, PEM
  blocks), and the contextual rules that fit in a prefix hold: JSON-patch ``path``/``value``,
  ``key``/``value`` and ``output_key``/``output_value`` pairs, ``id`` inside ``token``,
  whole-value keys (``blob``, ``user_data``);
- other text: PEM private keys, ``name=value`` / ``name: value`` pairs anywhere (query
  strings, form bodies, INI/YAML lines, ``"name": "value"`` fragments), and XML elements
  (``<password>...</password>``), names judged by :func:`is_secret_name`; what is left is
  checked by :func:`unmarked_secret_word`.

NOTE: one rule of the walk needs the whole object and is not applied to prefixes: an EC2
``access`` value next to a ``secret`` sibling.

NOTE: runs inside traced programs: Python 3.8+, standard library only.
"""

from __future__ import annotations

import json
import re
from typing import Callable, List, Optional

from stacktap.redact_names import is_secret_name, is_secret_query_name, last_pointer_name
from stacktap.redact_values import redact_forms

#: A JSON token: a string (maybe cut: no closing quote), a structural character, a literal.
_JSON_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)("?)|([{}\[\]:,])|([^\s"{}\[\]:,]+)')
_LITERAL = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null")
_NAMED_BY = ("key", "name", "output_key")
_NAMED_VALUES = ("value", "output_value")


class _Frame:
    __slots__ = ("expect_key", "key", "kind", "named", "parent", "whole")

    def __init__(self, kind: str, parent: str, whole: bool) -> None:
        self.kind = kind
        self.parent = parent  # the key this container is the value of
        self.whole = whole  # everything inside is marked
        self.key: Optional[str] = None
        self.expect_key = kind == "{"
        self.named = False  # a sibling named this object's value a secret


def _flat(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


def _decode(raw: str) -> str:
    try:
        return str(json.loads('"%s"' % raw))
    except ValueError:
        # NOTE: cut inside an escape (``\\u00``): decode what is whole.
        cut = raw.rfind("\\")
        try:
            return str(json.loads('"%s"' % raw[:cut])) if cut >= 0 else raw
        except ValueError:
            return raw


def redact_json_prefix(
    text: str,
    secret_key: Callable[[str], bool],
    whole_key: Callable[[str], bool],
    mark: Callable[[str], str],
    string_rules: Callable[[str], str],
) -> Optional[str]:
    """``text`` (JSON, maybe cut anywhere) with secrets marked; None when it holds a token
    that no JSON has (``'single quotes'``, a Python repr): the text rules fit it better."""
    stack: List[_Frame] = []
    out: List[str] = []
    pos = 0

    def value_is_secret(frame: Optional[_Frame]) -> bool:
        if frame is None:
            return False
        if frame.whole:
            return True
        key = frame.key
        if frame.kind != "{" or key is None:
            return False
        return (
            secret_key(key)
            or (frame.named and key in _NAMED_VALUES)
            or (_flat(key) == "id" and _flat(frame.parent) == "token")
        )

    for match in _JSON_TOKEN.finditer(text):
        out.append(text[pos : match.start()])
        pos = match.end()
        token = match.group(0)
        frame = stack[-1] if stack else None
        structural = match.group(3)
        if structural:
            if structural in "{[":
                whole = frame is not None and (
                    frame.whole
                    or (frame.kind == "{" and frame.key is not None and whole_key(frame.key))
                    or (structural == "[" and value_is_secret(frame))
                )
                parent = (frame.key or "") if frame is not None and frame.kind == "{" else ""
                if frame is not None and frame.kind == "[":
                    parent = frame.parent
                stack.append(_Frame(structural, parent, whole))
            elif structural in "}]":
                if stack:
                    stack.pop()
            elif frame is not None and frame.kind == "{":
                frame.expect_key = structural == ","
                if structural == ",":
                    frame.key = None
            out.append(token)
            continue
        if match.group(4) is not None:
            if not _LITERAL.fullmatch(token) and match.end() < len(text.rstrip()):
                return None
            secret = value_is_secret(frame) and token not in ("true", "false", "null")
            out.append(mark(token) if secret else token)
            continue
        raw, closed = match.group(1), match.group(2) == '"'
        value = _decode(raw)
        if frame is not None and frame.kind == "{" and frame.expect_key:
            frame.key = value
            out.append(token)
            continue
        if frame is not None and frame.kind == "{" and frame.key is not None:
            if frame.key == "path" and is_secret_name(last_pointer_name(value)):
                frame.named = True  # a JSON patch: {"path": "/driver_info/ipmi_password", "value"...}
            elif frame.key in _NAMED_BY and is_secret_name(value):
                frame.named = True  # {"output_key": "db_password", "output_value": ...}
        new = mark(value) if value_is_secret(frame) else string_rules(value)
        if new == value:
            out.append(token)
        else:
            encoded = json.dumps(new, ensure_ascii=False)
            out.append(encoded if closed else encoded[:-1])
    out.append(text[pos:])
    return "".join(out)


#: ``name=value`` / ``name: value`` / ``"name": "value"`` anywhere in a text.
_INLINE_PAIR = re.compile(
    r"(?<![\w.\-\[\]])([\"']?)([A-Za-z_][\w.\-\[\]]*)\1([ \t]*[:=][ \t]*)"
    r"(\"[^\"\r\n]*\"?|'[^'\r\n]*'?|[^\s&;,<>\"']+)"
)
#: An XML element's start tag and the text right after it.
_XML_ELEMENT = re.compile(r"<([A-Za-z_][\w.\-:]*)((?:\s[^<>]*)?)>([^<]+)")
_WORD = re.compile(r"[A-Za-z_][\w\-\[\]]*")


def redact_text(
    text: str, mark: Callable[[str], str], secret: Callable[[str], bool] = is_secret_query_name
) -> str:
    """Free text with private PEM blocks, secret-named pairs' values and secret-named XML
    elements' text marked."""
    text = redact_forms(text, mark)

    def pair(match: "re.Match[str]") -> str:
        quote, name, sep, value = match.groups()
        if not secret(name) or value.startswith(("{SHA256}", "<redacted")):
            return match.group(0)
        if value[:1] in "\"'":
            inner = value[1:-1] if len(value) > 1 and value[-1] == value[0] else value[1:]
            if not inner:
                return match.group(0)
            closing = value[0] if len(value) > 1 and value.endswith(value[0]) else ""
            marked = value[0] + mark(inner) + closing
        else:
            marked = mark(value)
        return "%s%s%s%s%s" % (quote, name, quote, sep, marked)

    def element(match: "re.Match[str]") -> str:
        name, attributes, content = match.groups()
        if not content.strip() or not secret(name.rpartition(":")[2]) or content.startswith("{SHA256}"):
            return match.group(0)
        return "<%s%s>%s" % (name, attributes, mark(content.strip()))

    if "=" in text or ":" in text:
        text = _INLINE_PAIR.sub(pair, text)
    if "<" in text:
        text = _XML_ELEMENT.sub(element, text)
    return text


def unmarked_secret_word(text: str, secret: Callable[[str], bool] = is_secret_name) -> bool:
    """Whether ``text`` names a secret (``password``, ``private-key``, ``X-API-Key``,
    ``api_key``...) without a mark right after the name (an XML closing tag aside): prose or
    a layout the rules do not know may then hold the secret itself."""
    for match in _WORD.finditer(text):
        if secret(match.group(0)) and text[max(0, match.start() - 2) : match.start()] != "</":
            after = text[match.end() : match.end() + 48]
            if "{SHA256}" not in after and "<redacted" not in after:
                return True
    return False


_BOUNDARY_RE = re.compile(r"boundary=\"?([^\";\s]+)\"?", re.IGNORECASE)
_FIELD_NAME_RE = re.compile(r"\bname=\"([^\"]*)\"|\bname=([^;\s]+)", re.IGNORECASE)


def redact_multipart(
    text: str,
    content_type: str,
    secret: Callable[[str], bool],
    mark: Callable[[str], str],
    text_rules: Callable[[str], Optional[str]],
) -> Optional[str]:
    """A ``multipart/form-data`` body with each field judged by its name: a secret-named
    field's value marked, a file part replaced by its size, other fields through
    ``text_rules`` (which gives None for a field to replace whole). None without a boundary."""
    match = _BOUNDARY_RE.search(content_type)
    if match is None:
        return None
    delimiter = "--" + match.group(1)
    parts = text.split(delimiter)
    out = [parts[0]]
    for part in parts[1:]:
        if part.startswith("--"):
            out.append(part)
            continue
        head, sep, content = part.partition("\r\n\r\n")
        if not sep:
            head, sep, content = part.partition("\n\n")
        if not sep:  # NOTE: cut (at the cap) inside the part's headers
            out.append(text_rules(part) or "<redacted: part of %d characters>" % len(part))
            continue
        tail = "\r\n" if content.endswith("\r\n") else ("\n" if content.endswith("\n") else "")
        value = content[: len(content) - len(tail)]
        named = _FIELD_NAME_RE.search(head)
        name = (named.group(1) or named.group(2) or "") if named else ""
        if "filename=" in head.lower():
            new = "<redacted: file of %d characters>" % len(value) if value else value
        elif name and secret(name):
            new = mark(value) if value else value
        else:
            kept = text_rules(value)
            new = kept if kept is not None else "<redacted: field of %d characters>" % len(value)
        out.append(head + sep + new + tail)
    return delimiter.join(out)
