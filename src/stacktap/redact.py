"""Redaction: secrets never reach the store.

Every header, URL and body goes through a :class:`Redactor` before it is stored. A secret
is replaced by a *mark*, ``{SHA256}`` + the first 16 hex digits of its sha256, so equal
secrets stay linkable (the token sent in ``X-Auth-Token`` of one call and validated in
``X-Subject-Token`` of another get the same mark) while the value itself is gone.

Rules (marks are keyed HMACs, see :mod:`stacktap.redact_marks`):

- headers: the token/credential headers in ``SECRET_HEADERS``; ``Authorization`` keeps its
  scheme (``Bearer {SHA256}...``), cookies keep their names and attributes;
- JSON keys at any depth, case-insensitive and ignoring ``_``/``-`` (``adminPass`` is
  ``admin_pass``): ``SECRET_JSON_KEYS`` when the value is a string (or number, or a list of
  them; dicts are walked, so ``password: {user: {name...}}`` keeps the user name), the whole
  value of ``blob`` (EC2/TOTP credential blobs are JSON *strings*), ``id`` inside a ``token``
  object (``access.token.id``, ``auth.identity.token.id``), and ``access`` next to ``secret``
  or ``signature`` (EC2 key pairs);
- URLs: the password of ``user:pass@`` (or the whole userinfo when there is no password, it
  is then usually a token), and query parameters in ``SECRET_QUERY_KEYS``;
- form bodies (``application/x-www-form-urlencoded``): the JSON and query keys;
- anything that looks like a keystone token (fernet ``gAAAAA...``, JWS ``eyJ...``), and
  the exact values of secrets this Redactor has already marked (token headers, passwords...)
  wherever they show up verbatim later, or elsewhere in the same body: a v2
  ``/v2.0/tokens/<token>`` path, an error message echoing a password, a password quoted in
  the description of the user being created. The memory has no small cap: see
  :mod:`stacktap.redact_echo` for how it is bounded and what it skips (values under 4
  characters, short numbers, ``true``/``null``);
- a body that cannot be parsed (JSON cut at the body cap, text) is redacted on what was
  read (:mod:`stacktap.redact_partial`: a JSON prefix token by token, text by its
  ``name=value`` pairs, XML elements and PEM blocks); it is replaced whole
  (``BODY_REDACTED``) only when a secret's name is left in it without a mark after it.

Nothing here raises: on any internal error the value is replaced whole by a mark.

NOTE: runs inside traced programs and server processes: Python 3.8+, standard library only.
"""

from __future__ import annotations

import json
import os
import re
import threading
from typing import Any, Dict, Iterable, List, Optional, Tuple
from urllib.parse import quote, unquote, unquote_plus, urlsplit, urlunsplit

from stacktap.model import BODY_JSON, BODY_REDACTED, BODY_TEXT
from stacktap.redact_echo import MAX_VALUES, EchoMemory
from stacktap.redact_marks import keyed_digest
from stacktap.redact_names import NEEDLES, is_secret_name, is_secret_query_name, last_pointer_name
from stacktap.redact_partial import redact_json_prefix, redact_multipart, redact_text, unmarked_secret_word
from stacktap.redact_values import may_hold_form_secret, redact_forms

#: Environment variable: extra sensitive key names, comma-separated (JSON, form, query, header).
from stacktap.settings import REDACT_KEYS as REDACT_KEYS_ENV

MARK_PREFIX = "{SHA256}"
MARK_RE = re.compile(r"\{SHA256\}[0-9a-f]{16}")
_WHOLE_MARK_RE = re.compile(r"^\{SHA256\}[0-9a-f]{16}$")

#: Headers whose whole value is a secret (lower case).
SECRET_HEADERS = frozenset(
    [
        "x-auth-token",
        "x-subject-token",
        "x-service-token",
        "x-storage-token",
        "x-auth-key",
        "x-storage-pass",
        "x-account-meta-temp-url-key",
        "x-account-meta-temp-url-key-2",
        "x-container-meta-temp-url-key",
        "x-container-meta-temp-url-key-2",
    ]
)
#: Headers of the form ``<scheme> <credentials>``: the scheme is kept.
_AUTH_HEADERS = frozenset(["authorization", "proxy-authorization"])
#: Headers holding URLs, which get the URL rules.
_URL_HEADERS = frozenset(["location", "content-location", "referer"])
#: Headers holding URLs among other text (``Link: <url>; rel=next``): the message rules.
_TEXT_URL_HEADERS = frozenset(["link"])
_COOKIE_HEADERS = frozenset(["cookie", "set-cookie"])


def _norm(key: str) -> str:
    """A key as rules compare it: lower case, without ``_`` and ``-``."""
    return key.lower().replace("_", "").replace("-", "")


#: JSON (and form) keys whose string value is a secret, normalized.
SECRET_JSON_KEYS = frozenset(
    _norm(k)
    for k in [
        "password",
        "original_password",
        "new_password",
        "adminPass",
        "secret",
        "client_secret",
        "passcode",
        "passphrase",
        "private_key",
        "blob",
        "token",
        "auth_token",
        "access_token",
        "refresh_token",
        "api_key",
        "psk",
        "signature",
        "user_data",
    ]
)
#: Query parameters whose value is a secret, normalized.
SECRET_QUERY_KEYS = frozenset(
    _norm(k)
    for k in [
        "password",
        "token",
        "auth_token",
        "access_token",
        "temp_url_sig",
        "signature",
        "X-Amz-Signature",
        "X-Amz-Security-Token",
        "secret",
        "passcode",
    ]
)
#: Keys whose whole value is marked, whatever its type.
_WHOLE_VALUE_KEYS = frozenset(["blob", "userdata"])  # nova's base64 user data: mark only
#: Keystone tokens: fernet (``gAAAAA`` + url-safe base64) and JWS (``eyJ...`` x3).
TOKEN_RE = re.compile(
    r"gAAAAA[A-Za-z0-9_\-]{60,}(?:=|%3[dD]){0,2}"
    r"|eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"
)

#: How many secret values a Redactor remembers (see :mod:`stacktap.redact_echo`'s bound).
MAX_REMEMBERED = MAX_VALUES

_UNPARSEABLE = "<redacted: unparseable body that may hold secrets, %d bytes>"
_FAILED = "<redacted: %s>"


def mark(value: str) -> str:
    """``{SHA256}`` + the first 16 hex digits of HMAC-SHA256(mark key, value) (see
    :mod:`stacktap.redact_marks`); a mark is returned as is."""
    try:
        if not isinstance(value, str):
            value = str(value)
        if _WHOLE_MARK_RE.match(value):
            return value
        digest = keyed_digest(value.encode("utf-8", "surrogatepass"))
        return MARK_PREFIX + digest[:16]
    except Exception:  # NOTE: never raise, even on a str subclass with a broken __str__
        return MARK_PREFIX + "0" * 16


def is_mark(text: Optional[str]) -> bool:
    """Whether ``text`` is exactly one mark (renderers use it to put ``$OS_TOKEN`` back)."""
    return bool(text) and bool(_WHOLE_MARK_RE.match(text or ""))


class Redactor:
    """Applies the redaction rules; remembers the secrets it marked to catch them again.

    One Redactor per process is enough (see :func:`default_redactor`); it is thread-safe.
    """

    def __init__(self, extra_keys: Iterable[str] = ()) -> None:
        extra = [str(k).strip() for k in extra_keys if str(k).strip()]
        normalized = frozenset(_norm(k) for k in extra)
        self.json_keys = SECRET_JSON_KEYS | normalized
        self.query_keys = SECRET_QUERY_KEYS | normalized
        self.form_keys = self.json_keys | self.query_keys
        self.header_keys = SECRET_HEADERS | frozenset(k.lower() for k in extra)
        self._extra_keys = normalized
        self._key_needles = _needles(self.json_keys | self.query_keys | set(NEEDLES))
        self._header_special = (
            self.header_keys | _AUTH_HEADERS | _URL_HEADERS | _COOKIE_HEADERS | _TEXT_URL_HEADERS
        )
        self._echoes = EchoMemory()

    # -- marks and memory ----------------------------------------------------------------

    def mark(self, value: str) -> str:
        """The mark of ``value`` (see :func:`mark`); the value is remembered for later scans."""
        marked = mark(value)
        try:
            if isinstance(value, str):
                self._echoes.add(value)
        except Exception:
            pass
        return marked

    def _scrub(self, text: str) -> str:
        """``text`` with remembered secrets and keystone-token look-alikes marked."""
        if self._echoes:
            text = self._echoes.replace(text, mark)
        if "gAAAAA" in text or "eyJ" in text:
            text = TOKEN_RE.sub(lambda m: self.mark(_unpad(m.group(0))), text)
        return text

    def _may_need_scrub(self, text: str) -> bool:
        return "gAAAAA" in text or "eyJ" in text or self._holds_remembered(text)

    def _holds_remembered(self, text: str) -> bool:
        return self._echoes.may_hold(text)

    # -- headers ---------------------------------------------------------------------------

    def headers(self, headers: Iterable[Tuple[str, str]]) -> List[Tuple[str, str]]:
        """Headers with secret values marked, same order; names are compared case-insensitively."""
        out: List[Tuple[str, str]] = []
        special = self._header_special
        try:
            for name, value in headers:
                # NOTE: fast path for the common case (a plain header with a str value and no
                # token look-alike or remembered secret in it); same result as _header().
                if (
                    type(value) is str
                    and type(name) is str
                    and name.lower() not in special
                    and not is_secret_name(name)
                    and "gAAAAA" not in value
                    and "eyJ" not in value
                    and not (self._echoes and self._echoes.may_hold(value))
                ):
                    out.append((name, value))
                else:
                    name = _text(name)
                    out.append((name, self._header(name, value)))
        except Exception:
            return [(_text(name), mark(_text(value))) for name, value in _pairs(headers)]
        return out

    def headers_indexed(
        self, headers: Iterable[Tuple[Any, Any]]
    ) -> Tuple[List[Tuple[str, str]], Dict[str, str]]:
        """``(headers(pairs), {lower-case name: first value, unredacted})`` in one pass.

        Names and values are made ``str`` first (bytes decoded as latin-1, as on the wire).
        The index is for reading Content-Type and request ids; it holds raw values: never
        store it.
        """
        out: List[Tuple[str, str]] = []
        first: Dict[str, str] = {}
        special = self._header_special
        try:
            for name, value in headers:
                if type(name) is not str:
                    name = _text(name)
                if type(value) is not str:
                    value = _text(value)
                lname = name.lower()
                if lname not in first:
                    first[lname] = value
                # NOTE: the fast path of headers(), same result as _header().
                if (
                    lname not in special
                    and not is_secret_name(lname)
                    and "gAAAAA" not in value
                    and "eyJ" not in value
                    and not (self._echoes and self._echoes.may_hold(value))
                ):
                    out.append((name, value))
                else:
                    out.append((name, self._header(name, value)))
        except Exception:
            return [(_text(name), mark(_text(value))) for name, value in _pairs(headers)], {}
        return out, first

    def _header(self, name: str, value: Any) -> str:
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        value = str(value)
        lname = name.lower()
        if lname in _AUTH_HEADERS:
            scheme, sep, credentials = value.strip().partition(" ")
            if not sep:
                return self.mark(value)
            return "%s %s" % (scheme, self.mark(credentials.strip()))
        if lname in _COOKIE_HEADERS:
            return self._cookie(value, lname == "set-cookie")
        if lname in _URL_HEADERS:
            return self.url(value)
        if lname in _TEXT_URL_HEADERS:
            return self.message(value)
        if lname in self.header_keys or is_secret_name(lname):
            return self.mark(value)
        return self._scrub(value)

    def _cookie(self, value: str, set_cookie: bool) -> str:
        if set_cookie and "," in value:
            # NOTE: several cookies folded into one Set-Cookie (``a=1; Path=/, b=2``); the
            # comma of an ``Expires=Wed, 21 Oct`` date is not followed by ``name=``.
            return ", ".join(self._one_cookie(part, True) for part in _FOLDED_COOKIES.split(value))
        return self._one_cookie(value, set_cookie)

    def _one_cookie(self, value: str, set_cookie: bool) -> str:
        parts = value.split(";")
        out = []
        for index, part in enumerate(parts):
            name, sep, cookie_value = part.partition("=")
            # NOTE: Set-Cookie attributes (Path=/, Expires=...) follow the first pair.
            if sep and (index == 0 or not set_cookie):
                out.append("%s=%s" % (name, self.mark(cookie_value.strip())))
            elif not sep and index == 0:
                out.append(self.mark(part))
            else:
                out.append(part)
        return ";".join(out)

    # -- URLs ------------------------------------------------------------------------------

    def url(self, url: str) -> str:
        """``url`` with userinfo, secret query parameters and known secrets marked.

        An URL with nothing to redact is returned unchanged, byte for byte.
        """
        try:
            url = str(url)
            if self._plain_url(url):
                return url
            return self._url(url)
        except Exception:
            return _FAILED % ("URL " + mark(str(url)))

    def _plain_url(self, url: str) -> bool:
        """True when ``_url`` would surely return ``url`` unchanged: no userinfo or query,
        nothing to scrub (in the path or the fragment), and nothing that could make
        ``urlsplit`` raise (brackets of an IPv6 host, non-ASCII host characters that
        normalize to separators)."""
        return (
            "@" not in url
            and "?" not in url
            and "[" not in url
            and "]" not in url
            and "#" not in url
            and url.isascii()
            and not self._may_need_scrub(url)
        )

    def _url(self, url: str) -> str:
        parts = urlsplit(url)
        netloc, path, query, fragment = parts.netloc, parts.path, parts.query, parts.fragment
        if "@" in netloc:
            userinfo, _, hostport = netloc.rpartition("@")
            user, sep, password = userinfo.partition(":")
            # NOTE: a user without a password is most often a token used as the user name.
            userinfo = "%s:%s" % (user, self.mark(unquote(password))) if sep else self.mark(unquote(user))
            netloc = "%s@%s" % (userinfo, hostport)
        if query:
            query = self._pairs_text(query, "&", self.query_keys)
        if self._may_need_scrub(path):
            path = self._scrub(path)
        if fragment and "=" in fragment:
            # NOTE: OAuth implicit grants put the token in the fragment (#access_token=...).
            fragment = self._pairs_text(fragment, "&", self.query_keys)
        elif fragment and self._may_need_scrub(fragment):
            fragment = self._scrub(fragment)
        if (netloc, path, query, fragment) == (parts.netloc, parts.path, parts.query, parts.fragment):
            return url
        return urlunsplit((parts.scheme, netloc, path, query, fragment))

    def _pairs_text(self, text: str, separator: str, keys: frozenset) -> str:
        """``k=v<sep>k=v`` text (query string, form body) with secret values marked."""
        out = []
        for item in text.split(separator):
            name, sep, value = item.partition("=")
            if sep and (_norm(unquote_plus(name)) in keys or is_secret_query_name(unquote_plus(name))):
                out.append("%s=%s" % (name, self.mark(unquote_plus(value))))
            elif sep and "=" in unquote_plus(value) and value != unquote_plus(value):
                out.append("%s=%s" % (name, self._nested_query(value)))
            elif self._may_need_scrub(item):
                out.append(self._scrub(item))
            else:
                out.append(item)
        return separator.join(out)

    def _nested_query(self, value: str) -> str:
        """A parameter whose value is itself an encoded query (nova's noVNC console URL:
        ``?path=%3Ftoken%3D...``): redact the decoded query, encode it again if it changed."""
        decoded = unquote_plus(value)
        head, sep, tail = decoded.rpartition("?")
        redacted = head + sep + self._pairs_text(tail, "&", self.query_keys)
        if redacted == decoded:
            return self._scrub(value)
        return quote(redacted, safe="{}")

    # -- bodies ----------------------------------------------------------------------------

    def body_text(self, text: str, content_type: Optional[str]) -> Tuple[str, str]:
        """``(kind, redacted text)`` for a decoded body; kind is json, text or redacted.

        JSON (by content type, or by its look when the type says nothing) is parsed and walked;
        form bodies are split; anything else, or JSON that does not parse, is kept only when no
        sensitive key name appears in it. A JSON body with nothing to redact comes back as is.
        """
        try:
            return self._body_text(text if isinstance(text, str) else str(text), content_type)
        except Exception:
            return BODY_REDACTED, _FAILED % "body that failed redaction"

    def _body_text(self, text: str, content_type: Optional[str]) -> Tuple[str, str]:
        ctype = (content_type or "").split(";", 1)[0].strip().lower()
        stripped = text.lstrip()
        if "json" in ctype or (
            ctype in ("", "text/plain", "application/octet-stream") and stripped[:1] in ("{", "[")
        ):
            try:
                document = json.loads(text)
            except (ValueError, RecursionError):
                return self._unparseable(text)
            scrub = self._may_need_scrub(text)
            if not scrub and not self._json_may_hold_secret(text):
                # NOTE: the walk would change nothing (see _json_may_hold_secret): skip it.
                return BODY_JSON, text
            # NOTE: remembered secrets and token look-alikes are scrubbed once, on the
            # serialized result, rather than in each string (75,000 of them in a 1 MiB list).
            walk = _Walk(self, scrub=False)
            redacted = walk.value(document)
            out = json.dumps(redacted, ensure_ascii=False) if walk.changed else text
            if scrub or walk.marked:
                out = self._scrub_json(out)
            return BODY_JSON, out
        if "x-www-form-urlencoded" in ctype:
            return BODY_TEXT, self._pairs_text(text, "&", self.form_keys)
        if ctype == "multipart/form-data":
            rules = (self._secret_pair_name, self.mark, self._field_text)
            multipart = redact_multipart(text, content_type or "", *rules)
            if multipart is not None:
                return BODY_TEXT, multipart
        return self._unparseable(text, ctype in ("", "text/plain", "application/octet-stream"))

    def _scrub_json(self, text: str) -> str:
        """Serialized JSON with remembered secrets (those just marked in it included: a
        password quoted in the description of the same body) and token look-alikes marked;
        the whole text is marked when a replacement broke its syntax (a number replaced)."""
        scrubbed = self._scrub(text)
        if scrubbed is not text and scrubbed != text:
            try:
                json.loads(scrubbed)
            except ValueError:
                return json.dumps(mark(text))
        return scrubbed

    def _json_may_hold_secret(self, text: str) -> bool:
        """Whether walking the JSON ``text`` could change anything (False only when sure).

        The walk changes a document only through: a key (normalized) in ``json_keys``
        (``blob``, ``secret``/``signature`` next to ``access``, ``id`` inside ``token``
        included: those names are keys too); an URL string (one with ``?`` or ``@`` and a
        ``/``); a remembered secret or token look-alike (checked by the caller). So a text
        where none of those occurs, after the same normalization as keys (lower case, no
        ``_``/``-``), comes back unchanged, unless a name is spelled so that it does not
        show in the raw text: a JSON escape (``"pass\\u0077ord"``, ``http:\\/\\/u:p@h``)
        is walked. (Percent-encoded names, ``pass%77ord=``, only count inside a query: an
        URL string, walked anyway.)

        NOTE: one difference: a document nested so deep that the walk itself would hit the
        recursion limit (and be replaced whole) is kept when it holds none of the above.
        """
        if "\\u" in text or "\\/" in text or "-----BEGIN" in text:
            return True
        if ("@" in text or "?" in text) and "/" in text:
            # NOTE: a string that may be an URL with userinfo or a query gets the URL rules,
            # which also replace an URL that does not parse (fail closed): walk it.
            return True
        normalized = text.lower().replace("_", "").replace("-", "")
        for needle in self._key_needles:  # noqa: SIM110 (a plain loop: cheaper than any() here)
            if needle in normalized:
                return True
        return False

    def _unparseable(self, text: str, plain: bool = False) -> Tuple[str, str]:
        """A body that did not parse (cut at the cap, or not JSON): redacted on what was
        read (see :mod:`stacktap.redact_partial`); replaced whole only when a secret's name
        is left without a mark after it (prose, or a layout no rule knows)."""
        word = text.strip()
        if plain and len(word) >= 8 and not word.isdigit() and not any(c.isspace() for c in word):
            # NOTE: one long word is a key, a token or a passphrase (a text/plain barbican
            # payload), not a message: marked whole.
            return BODY_TEXT, self.mark(word)
        if word[:1] in ("{", "["):
            rules = (self._secret_key, self._whole_key, self.mark, self._string_rules)
            prefix = redact_json_prefix(text, *rules)
            if prefix is not None:
                return BODY_TEXT, self._scrub(prefix)
        redacted = self._scrub(redact_text(text, self.mark, self._secret_pair_name))
        if unmarked_secret_word(redacted, self._secret_word):
            return BODY_REDACTED, _UNPARSEABLE % len(text.encode("utf-8", "surrogatepass"))
        return BODY_TEXT, redacted

    def _field_text(self, text: str) -> Optional[str]:
        """A multipart field's text redacted by the text rules; None to replace it whole."""
        kind, redacted = self._unparseable(text)
        return None if kind == BODY_REDACTED else redacted

    def _secret_key(self, key: str) -> bool:
        return _norm(key) in self.json_keys or is_secret_name(key)

    def _whole_key(self, key: str) -> bool:
        return _norm(key) in _WHOLE_VALUE_KEYS

    def _secret_pair_name(self, name: str) -> bool:
        return _norm(name) in self.form_keys or is_secret_query_name(name)

    def _secret_word(self, word: str) -> bool:
        return is_secret_name(word) or _norm(word) in self._extra_keys

    def _string_rules(self, value: str) -> str:
        """A JSON string that is not a secret, as the walk would redact it (URLs, JSON and
        YAML held in it, PEM blocks)."""
        result = _Walk(self, scrub=False).value(value)
        return result if isinstance(result, str) else value

    def json(self, obj: Any) -> Any:
        """A redacted copy of parsed JSON (dicts, lists, scalars); ``obj`` is left alone."""
        try:
            return _Walk(self, scrub=True).value(obj)
        except Exception:
            return _FAILED % "JSON that failed redaction"

    def message(self, text: str) -> str:
        """Free text (an error message, a log line): URLs in it get the URL rules, and
        remembered secrets and token look-alikes are marked."""
        try:
            text = str(text)
            text = _URL_IN_TEXT.sub(lambda m: self.url(m.group(0)), text)
            text = _QUERY_IN_TEXT.sub(self._query_in_text, text)
            return self._scrub(text)
        except Exception:
            return _FAILED % "message"

    def _query_in_text(self, match: "re.Match[str]") -> str:
        return self._pairs_text(match.group(0), "&", self.query_keys)


#: URLs in free text, and bare ``?a=b&c=d`` query strings (``url: /v3/x?password=...``).
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]+")
_QUERY_IN_TEXT = re.compile(r"(?<=\?)[^\s'\"<>#]+")
#: (name key, value key) of objects whose value is named by a sibling.
_NAMED_VALUE_PAIRS = (("output_key", "output_value"), ("key", "value"), ("name", "value"))
#: Keys whose strings are file contents (heat templates and their files): text rules too.
_TEXT_RULE_KEYS = frozenset(["files", "template"])
_FOLDED_COOKIES = re.compile(r",\s*(?=[^;,=\s]+=)")


class _Walk:
    """One pass over parsed JSON, building a redacted copy and noting whether it changed."""

    def __init__(self, redactor: Redactor, scrub: bool) -> None:
        self.redactor = redactor
        self.scrub = scrub  # NOTE: only when the raw text showed a candidate: saves a scan per string
        self.changed = False
        self.marked: List[str] = []  # the secrets marked in this document

    def _marked(self, value: Any) -> str:
        self.changed = True
        text = value if isinstance(value, str) else str(value)
        if isinstance(value, str):
            self.marked.append(text)
        return self.redactor.mark(text)

    def value(self, value: Any, secret: bool = False, parent: str = "") -> Any:
        if isinstance(value, dict):
            out = self.mapping(value, parent)
            if secret:
                # NOTE: a secret-named parameter's definition (heat: ``db_password: {type:
                # string, default: ...}``): its default or value is the secret.
                for key in ("default", "value"):
                    item = value.get(key)
                    if isinstance(item, (str, int, float)) and not isinstance(item, bool):
                        out[key] = self._marked(item)
            return out
        if isinstance(value, (list, tuple)):
            return [self.value(item, secret, parent) for item in value]
        if isinstance(value, str):
            if secret:
                return self._marked(value)
            redacted = value
            if "?" in value or "@" in value:
                # NOTE: URLs inside bodies (console URLs, links, temp URLs) get the URL rules.
                redacted = self.redactor.url(value) if "://" in value or value[:1] == "/" else value
            if len(redacted) > 1 and redacted[0] in "{[" and redacted[-1] in "}]":
                redacted = self._json_in_string(redacted)
            elif may_hold_form_secret(redacted):
                redacted = redact_forms(redacted, self._marked)
            if self.scrub:
                redacted = self.redactor._scrub(redacted)
            if redacted != value:
                self.changed = True
            return redacted
        if secret and isinstance(value, (int, float)) and not isinstance(value, bool):
            return self._marked(value)
        return value

    def _text_rules(self, value: Any) -> Any:
        """Heat ``files``/``template`` contents (a dict of file name -> text, or the text):
        the free-text rules too (``name=value`` anywhere, XML elements)."""
        if isinstance(value, str):
            redacted = redact_text(value, self._marked, self.redactor._secret_pair_name)
            if "://" in redacted or "?" in redacted:
                redacted = self.redactor.message(redacted)  # URLs in the text (``mysql://u:p@h``)
            self.changed = self.changed or redacted != value
            return redacted
        if isinstance(value, dict):
            return {k: self._text_rules(v) for k, v in value.items()}
        return value

    def _json_in_string(self, value: str) -> str:
        """JSON held in a string (``"config": "{\\"password\\": ...}"``), redacted inside."""
        try:
            inner = json.loads(value)
        except (ValueError, RecursionError):
            return redact_forms(value, self._marked) if may_hold_form_secret(value) else value
        if not isinstance(inner, (dict, list)):
            return value
        walk = _Walk(self.redactor, scrub=self.scrub)
        redacted = walk.value(inner)
        if not walk.changed:
            return value
        self.marked.extend(walk.marked)
        return json.dumps(redacted, ensure_ascii=False)

    def mapping(self, obj: Dict[Any, Any], parent: str) -> Dict[Any, Any]:
        keys = self.redactor.json_keys
        norms = {key: _norm(str(key)) for key in obj}
        ec2_pair = any(n in ("secret", "signature") for n in norms.values())
        patch_secret = False
        path = obj.get("path")
        if isinstance(path, str) and "value" in obj and "op" in obj:
            # NOTE: a JSON patch (ironic, glance): {"op": "add", "path": "/driver_info/
            # ipmi_password", "value": ...} carries the secret's name in the path.
            patch_secret = is_secret_name(last_pointer_name(path))
        for name_key, value_key in _NAMED_VALUE_PAIRS:
            named = obj.get(name_key)
            if isinstance(named, str) and value_key in obj and is_secret_name(named):
                # NOTE: a value named by its sibling: heat outputs ({"output_key":
                # "db_password", "output_value": ...}), {"key": ..., "value": ...} items.
                patch_secret = True
        out: Dict[Any, Any] = {}
        for key, item in obj.items():
            name = norms[key]
            if name in _WHOLE_VALUE_KEYS and item is not None:
                text = item if isinstance(item, str) else json.dumps(item, sort_keys=True)
                out[key] = self._marked(text)
            elif (
                name in keys
                or is_secret_name(str(key))
                or (patch_secret and key in ("value", "output_value"))
            ):
                out[key] = self.value(item, secret=True, parent=name)
            elif isinstance(item, str) and (
                (name == "id" and parent == "token") or (name == "access" and ec2_pair)
            ):
                out[key] = self._marked(item)
            else:
                out[key] = self.value(item, parent=name)
                if name in _TEXT_RULE_KEYS:
                    out[key] = self._text_rules(out[key])
        return out


def _needles(keys: Iterable[str]) -> Tuple[str, ...]:
    """The shortest set of substrings that finds every key: ``token`` finds ``authtoken``."""
    keys = sorted(set(keys), key=len)
    out: List[str] = []
    for key in keys:
        if key and not any(shorter in key for shorter in out):
            out.append(key)
    return tuple(out)


def _unpad(token: str) -> str:
    """A token without its trailing ``=``/``%3D`` padding, so all spellings get one mark."""
    while True:
        if token.endswith("="):
            token = token[:-1]
        elif token[-3:].lower() == "%3d":
            token = token[:-3]
        else:
            return token


def _text(value: Any) -> str:
    """A header name or value as text: bytes as latin-1 (what HTTP/1.1 puts on the wire).

    NOTE: ``str(b"X-Auth-Token")`` is ``"b'X-Auth-Token'"``, which no rule would recognize.
    """
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("latin-1")
    return str(value)


def _pairs(headers: Iterable[Any]) -> List[Tuple[Any, Any]]:
    out = []
    try:
        for item in headers:
            try:
                name, value = item
            except Exception:
                name, value = "?", item
            out.append((name, value))
    except Exception:
        pass
    return out


_default: Optional[Redactor] = None
_default_keys: Optional[str] = None
_default_lock = threading.Lock()


def default_redactor() -> Redactor:
    """The process-wide Redactor, with the extra keys of ``$STACKTAP_REDACT_KEYS`` (comma list).

    NOTE: one shared instance, so a token marked in one call is recognized in the next.
    """
    global _default, _default_keys
    keys = os.environ.get(REDACT_KEYS_ENV, "")
    with _default_lock:
        if _default is None or keys != _default_keys:
            _default = Redactor(k for k in keys.split(",") if k.strip())
            _default_keys = keys
        return _default
