"""Calls as runnable ``curl`` command lines, like keystoneauth's ``REQ: curl -g -i -X GET ...``.

Unlike the ``--debug`` lines these run as they are: every word is shell-quoted, and each
redaction mark becomes a shell variable (``-H "X-Auth-Token: $OS_TOKEN"``, a password in a
body becomes ``$OS_PASSWORD``); one secret is one variable across all the calls printed, so
the token a call received and the token later calls send share a name. Bodies that were not
kept (binary, streamed, withheld, truncated) become ``--data-binary @FILE`` with a comment.
"""

from __future__ import annotations

import contextlib
import json
import re
import shlex
from collections.abc import Sequence
from typing import Any

from stacktap.model import BODY_JSON, BODY_NONE, BODY_REDACTED, BODY_TEXT, CLIENT, KIND_HTTP, Body, Call
from stacktap.redact import MARK_RE
from stacktap.render.calls import pick_calls
from stacktap.store.trace import Trace, service_label

#: Headers curl sets itself, or that only stacktap added (``traceparent``).
_SKIPPED_HEADERS = frozenset(["content-length", "connection", "host", "traceparent", "tracestate"])
_HEADER_VARIABLES = {
    "x-auth-token": "OS_TOKEN",
    "x-subject-token": "OS_SUBJECT_TOKEN",
    "x-service-token": "OS_SERVICE_TOKEN",
    "x-storage-token": "OS_TOKEN",
    "authorization": "OS_TOKEN",
    "cookie": "OS_COOKIE",
}
_DEFAULT_VARIABLE = "STACKTAP_SECRET"
_DOUBLE_QUOTE_UNSAFE = re.compile(r'["\\$`!]')
_NAME_CHAR = re.compile(r"[A-Za-z0-9_]")


class Variable:
    """A shell variable standing for one redacted secret."""

    def __init__(self, name: str) -> None:
        self.name = name


Word = list[str | Variable]


class ShellVariables:
    """Names the marks of the calls being printed: one mark, one variable, first hint wins."""

    def __init__(self) -> None:
        self._by_mark: dict[str, Variable] = {}
        self._names: set[str] = set()

    def learn(self, mark: str, hint: str) -> Variable:
        """The variable for ``mark``, named after ``hint`` the first time it is seen."""
        found = self._by_mark.get(mark)
        if found is not None:
            return found
        name, number = hint, 1
        while name in self._names:
            number += 1
            name = f"{hint}_{number}"
        self._names.add(name)
        variable = self._by_mark[mark] = Variable(name)
        return variable

    @property
    def names(self) -> list[str]:
        return sorted(self._names)

    def split(self, text: str, hint: str = _DEFAULT_VARIABLE) -> Word:
        """``text`` cut into literal pieces and variables, one per mark in it."""
        word: Word = []
        position = 0
        for match in MARK_RE.finditer(text):
            if match.start() > position:
                word.append(text[position : match.start()])
            word.append(self.learn(match.group(0), hint))
            position = match.end()
        if position < len(text) or not word:
            word.append(text[position:])
        return word


def key_hint(key: str, parent: str = "") -> str:
    """The variable name a secret under JSON/form/query ``key`` suggests."""
    name = key.lower().replace("-", "_")
    flat = name.replace("_", "")
    parent_flat = parent.lower().replace("_", "").replace("-", "")
    if "password" in flat or flat == "adminpass":
        return "OS_PASSWORD"
    if flat in ("token", "authtoken", "xauthtoken") or (flat == "id" and parent_flat == "token"):
        return "OS_TOKEN"
    if flat == "secret" and parent_flat == "applicationcredential":
        return "OS_APPLICATION_CREDENTIAL_SECRET"
    if flat == "access":
        return "EC2_ACCESS_KEY"
    if flat == "secret" and parent_flat in ("credential", "credentials"):
        return "EC2_SECRET_KEY"
    cleaned = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").upper()
    return "OS_" + cleaned if cleaned else _DEFAULT_VARIABLE


def _learn_json(variables: ShellVariables, value: Any, key: str = "", parent: str = "") -> None:
    if isinstance(value, dict):
        for child_key, child in value.items():
            _learn_json(variables, child, str(child_key), key)
    elif isinstance(value, list):
        for item in value:
            _learn_json(variables, item, key, parent)
    elif isinstance(value, str) and MARK_RE.fullmatch(value):
        variables.learn(value, key_hint(key, parent))


def _learn_pairs(variables: ShellVariables, text: str) -> None:
    """Name the marks of ``k=v&k=v`` text (query strings, form bodies) after their keys."""
    for item in text.split("&"):
        key, _, value = item.partition("=")
        if MARK_RE.fullmatch(value):
            variables.learn(value, key_hint(key))


def _learn_headers(variables: ShellVariables, call: Call) -> None:
    for name, value in call.request_headers:
        hint = _HEADER_VARIABLES.get(name.lower(), key_hint(name))
        for match in MARK_RE.finditer(value):
            variables.learn(match.group(0), hint)


def _learn_body(variables: ShellVariables, body: Body) -> None:
    if not body.text or body.truncated:
        return
    if body.kind == BODY_JSON:
        with contextlib.suppress(ValueError, RecursionError):
            _learn_json(variables, json.loads(body.text))
    elif body.kind == BODY_TEXT:
        _learn_pairs(variables, body.text)


def shell_word(word: Word) -> str:
    """One shell word: single-quoted literals, ``"$VAR"`` for variables, ``"..."`` when it can."""
    if all(isinstance(piece, str) for piece in word):
        return shlex.quote("".join(piece for piece in word if isinstance(piece, str)))
    literals = "".join(piece for piece in word if isinstance(piece, str))
    if not _DOUBLE_QUOTE_UNSAFE.search(literals):
        out = []
        for index, piece in enumerate(word):
            if isinstance(piece, Variable):
                following = word[index + 1] if index + 1 < len(word) else ""
                glued = isinstance(following, str) and bool(_NAME_CHAR.match(following[:1]))
                out.append(f"${{{piece.name}}}" if glued else "$" + piece.name)
            else:
                out.append(piece)
        return '"{}"'.format("".join(out))
    return "".join(
        f'"${piece.name}"' if isinstance(piece, Variable) else shlex.quote(piece) for piece in word if piece
    )


def body_file(call: Call) -> str:
    """The file name a ``--data-binary @FILE`` stands for: ``request-<n>.txt`` or ``.bin``."""
    number = call.seq if call.seq is not None else call.span_id[:8]
    textual = call.request_body.kind in (BODY_TEXT, BODY_JSON, BODY_REDACTED)
    return f"request-{number}.{'txt' if textual else 'bin'}"


def body_note(call: Call) -> str | None:
    """Why the request body is read from a file, or ``None`` when it is given inline."""
    body = call.request_body
    size = body.size or 0
    digest = f" sha256={body.sha256}" if body.sha256 else ""
    if body.kind == BODY_NONE or (body.kind in (BODY_JSON, BODY_TEXT) and not body.truncated):
        return None
    if body.kind == BODY_REDACTED:
        reason = "was withheld (unparseable, might hold secrets)"
    elif body.truncated:
        reason = "was truncated in the store"
    else:
        reason = "was %s data, not kept" % (body.content_type or body.kind)
    return f"# the request body ({size} bytes{digest}) {reason}: put it in {body_file(call)}"


def curl_command(call: Call, variables: ShellVariables | None = None) -> str:
    """One runnable curl line for ``call``; ``variables`` names marks across several calls."""
    variables = variables if variables is not None else ShellVariables()
    _learn_headers(variables, call)
    _learn_body(variables, call.request_body)
    _learn_pairs(variables, call.url.partition("?")[2])
    head = call.method.upper() == "HEAD"
    words = ["curl", "-g", "-I"] if head else ["curl", "-g", "-i", "-X", shlex.quote(call.method)]
    words.append(shell_word(variables.split(call.url)))
    for name, value in call.request_headers:
        lowered = name.lower()
        if lowered in _SKIPPED_HEADERS:
            continue
        if lowered == "accept-encoding":
            if any(enc in value for enc in ("gzip", "deflate", "br")):
                words.append("--compressed")
            continue
        words += ["-H", shell_word(variables.split(f"{name}: {value}"))]
    body = call.request_body
    if body_note(call) is not None:
        words += ["--data-binary", "@" + body_file(call)]
    elif body.text:
        flag = "--data-raw" if body.text.startswith("@") else "-d"
        words += [flag, shell_word(variables.split(body.text))]
    return " ".join(words)


def render_curl(trace: Trace, numbers: Sequence[int] = ()) -> str:
    """``# [n] service`` then the curl line, for calls ``numbers`` (default: all client calls).

    A first comment names the variables to export when any secret was redacted.
    """
    variables = ShellVariables()
    lines: list[str] = []
    for call in pick_calls(trace, numbers):
        if call.kind != KIND_HTTP:
            # NOTE: an RPC message has no curl line (``stacktap log`` shows its arguments);
            # said only when it was asked for by number.
            if numbers:
                lines.append(f"# [{call.seq}] {call.method}: an RPC message, no curl line (see stacktap log)")
            continue
        if call.side == CLIENT:
            caller = f" (called by {call.local_service})" if call.local_service else ""
            lines.append(f"# [{call.seq}] {service_label(call)}{caller}")
        else:
            lines.append(f"# [{call.seq}] {call.local_service or service_label(call)} (server side)")
        note = body_note(call)
        if note:
            lines.append(note)
        lines.append(curl_command(call, variables))
    if variables.names:
        lines.insert(0, "# secrets were redacted: export {} first".format(", ".join(variables.names)))
    return "\n".join(lines) + "\n" if lines else ""
