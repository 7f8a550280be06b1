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
    """``text`` with private PEM blocks and secret-named lines' values marked."""
    if "-----BEGIN" in text:
        text = PEM_RE.sub(lambda m: _pem(m, mark), text)
    if "\n" in text and (":" in text or "=" in text):
        text = _LINE_PAIR_RE.sub(lambda m: _line(m, mark), text)
    return text


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
