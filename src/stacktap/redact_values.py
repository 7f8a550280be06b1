"""Secrets recognised by their form, wherever they appear: PEM private keys, and the
``name: value`` / ``name=value`` lines of YAML, INI and kubeconfig text held in strings
(``client-key-data: ...``, ``token: ...``, ``db_password=...``), with names judged by
:func:`stacktap.redact_names.is_secret_name`.

NOTE: runs inside traced programs: Python 3.8+, standard library only.
"""

from __future__ import annotations

import re
from typing import Callable

from stacktap.redact_names import is_secret_name

#: A PEM block holding a private key (or anything not a certificate or a public key).
PEM_RE = re.compile(
    r"-----BEGIN ([A-Z0-9 ]*)-----[\s\S]*?(?:-----END \1-----|$)",
)
_PUBLIC_PEM = ("CERTIFICATE", "PUBLIC KEY", "CERTIFICATE REQUEST", "X509 CRL")
#: ``name: value`` or ``name = value`` at the start of a line (YAML, INI, env files).
_LINE_PAIR_RE = re.compile(r"(?m)^([ \t-]*)([\"']?)([A-Za-z_][\w.\-\[\]]*)\2([ \t]*[:=][ \t]*)(\S[^\r\n]*)$")


def may_hold_form_secret(text: str) -> bool:
    """Whether :func:`redact_forms` could change ``text`` (cheap check)."""
    return "-----BEGIN" in text or ("\n" in text and (":" in text or "=" in text))


def redact_forms(text: str, mark: Callable[[str], str]) -> str:
    """``text`` with private PEM blocks, secret-named lines' values and the values of YAML
    blocks under a secret name (a heat template's ``db_password: {default: ...}``, a
    ``password: |`` block scalar) marked."""
    if "-----BEGIN" in text:
        text = PEM_RE.sub(lambda m: _pem(m, mark), text)
    if "\n" in text and (":" in text or "=" in text):
        text = _LINE_PAIR_RE.sub(lambda m: _line(m, mark), text)
        if ":" in text:
            text = _yaml_blocks(text, mark)
    return text


_YAML_KEY_RE = re.compile(r"^([ \t]*)(?:-[ \t]+)?([\"']?)([A-Za-z_][\w.\-\[\]]*)\2[ \t]*:(?:[ \t]+(.*))?$")
_BLOCK_SCALARS = ("|", ">", "|-", ">-", "|+", ">+")
#: Keys under a secret-named YAML block whose value is the secret (heat parameters).
_VALUE_KEYS = ("default", "value")


def _yaml_blocks(text: str, mark: Callable[[str], str]) -> str:
    lines = text.split("\n")
    secret_blocks: list = []  # indents of the secret-named keys we are under
    scalar_indent = -1  # the indent of a ``secret: |`` key whose block we are in
    changed = False
    for index, line in enumerate(lines):
        stripped = line.lstrip(" \t")
        if not stripped:
            continue
        indent = len(line) - len(stripped)
        if scalar_indent >= 0:
            if indent > scalar_indent:
                lines[index] = line[:indent] + mark(stripped)
                changed = True
                continue
            scalar_indent = -1
        while secret_blocks and indent <= secret_blocks[-1]:
            secret_blocks.pop()
        match = _YAML_KEY_RE.match(line)
        if match is None:
            continue
        name, value = match.group(3), (match.group(4) or "").strip()
        if value in _BLOCK_SCALARS or not value:
            if is_secret_name(name):
                if value:
                    scalar_indent = indent
                else:
                    secret_blocks.append(indent)
            continue
        if secret_blocks and name in _VALUE_KEYS and not value.startswith(("{SHA256}", "<redacted")):
            lines[index] = line[: match.start(4)] + mark(value.strip("\"'"))
            changed = True
    return "\n".join(lines) if changed else text


def _pem(match: "re.Match[str]", mark: Callable[[str], str]) -> str:
    label = match.group(1).strip()
    if label in _PUBLIC_PEM:
        return match.group(0)
    return "<redacted %s %s>" % (label.lower() or "pem block", mark(match.group(0)))


def _line(match: "re.Match[str]", mark: Callable[[str], str]) -> str:
    indent, quote, name, sep, value = match.groups()
    if not is_secret_name(name) or value.startswith("<redacted") or value in ("|", ">", "{", "["):
        return match.group(0)
    return "%s%s%s%s%s%s" % (indent, quote, name, quote, sep, mark(value.strip().strip("\"'")))
