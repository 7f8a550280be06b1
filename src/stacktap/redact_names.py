"""Whether a name means a secret: one matcher for JSON keys, form and query keys, headers,
argv options and ``key=value`` pairs.

A name is split into words (camelCase, ``snake_case``, ``kebab-case``, ``dotted.names``,
``user[password]`` brackets, ``/json/pointer`` paths); it is secret when one of its words
means a secret (``password``, ``passwd``, ``pwd``, ``pass``, ``passphrase``, ``secret``,
``token``, ``credential``, ``key``, ``signature``/``sig``, ``payload``, ``private``,
``cookie``, ``session``, ...) or ends like one (``adminpass``, ``apikey``, ``authtoken``),
unless the word is qualified into a non-secret:

- a qualifier word right after it names a property of the secret, not the secret itself:
  ``key_name``, ``token_type``, ``password_expires_at``, ``secret_ref``,
  ``payload_content_type``, ``cookie_name``, ``key_fingerprint``;
- a qualifier word right before it makes it a public or naming key: ``public_key``,
  ``sort_key``, ``primary_key``;
- or the whole name is one of :data:`NON_SECRET_NAMES` (``keypair``, ``keystone``...).

When in doubt, the name is secret (erring on the side of redacting).

NOTE: runs inside traced programs: Python 3.8+, standard library only.
"""

from __future__ import annotations

import re
from functools import lru_cache

#: Words that mean a secret (lower case).
SECRET_WORDS = frozenset(
    [
        "password", "passwords", "passwd", "pwd", "pass", "passphrase", "passcode",
        "secret", "secrets", "token", "tokens", "credential", "credentials", "cred", "creds",
        "key", "keys", "signature", "sig", "payload", "private", "privkey", "cookie", "cookies",
        "session", "psk", "verifier", "blob", "hmac", "otp", "totp", "kubeconfig", "pkcs12",
    ]
)  # fmt: skip
#: A single word ending like this is secret too (``adminpass``, ``apikey``, ``authtoken``).
SECRET_SUFFIXES = (
    "password", "passwd", "pass", "pwd", "passphrase", "passcode", "secret", "secrets",
    "token", "tokens", "key", "keys", "signature", "cookie", "credential", "credentials",
)  # fmt: skip
#: Words that, right after a secret word, name a property of it (not the secret).
AFTER_QUALIFIERS = frozenset(
    [
        "name", "names", "type", "types", "ref", "refs", "href", "expires", "expiry",
        "expiration", "size", "length", "bits", "algorithm", "algorithms", "alg", "format",
        "encoding", "method", "methods", "manager", "state", "status", "fingerprint", "url",
        "uri", "endpoint", "location", "count", "enabled", "required", "policy", "rotation",
        "version", "persistence", "provider", "duration", "ttl", "lifetime", "timeout",
        "validity", "file", "path", "pair", "pairs", "changed", "created", "updated",
        "strength", "regex", "options", "ip", "address", "network", "subnet", "mode",
    ]
)  # fmt: skip
#: Words that, right before a secret word, make it public or a naming key.
BEFORE_QUALIFIERS = frozenset(["public", "sort", "primary", "foreign", "partition", "cache"])
#: Whole names (lower case, without ``_``/``-``) known not to be secrets.
NON_SECRET_NAMES = frozenset(
    [
        "keypair", "keypairs", "keystone", "keyname", "publickey", "sortkey", "sortkeys",
        "tokentype", "secretref", "secrettype", "fingerprint", "bypass", "compass",
        "passthrough", "sessionpersistence",
    ]
)  # fmt: skip
#: Names secret only in a form body or a query string (OAuth 2 ``code``, ``state`` is not).
QUERY_ONLY_SECRET_NAMES = frozenset(["code", "codeverifier", "oauthverifier", "sig", "key"])

_WORD_RE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_SEPARATORS = re.compile(r"[^A-Za-z0-9]+")


def split_words(name: str) -> list[str]:
    """``name`` as lower-case words: ``DBPassword`` -> ``db, password``,
    ``user[password]`` -> ``user, password``, ``X-Amz-Security-Token`` -> ``x, amz, ...``."""
    words: list[str] = []
    for chunk in _SEPARATORS.split(name):
        if chunk:
            words.extend(word.lower() for word in _WORD_RE.findall(chunk))
    return words


def _secret_word(word: str) -> bool:
    if word in SECRET_WORDS:
        return True
    if word in NON_SECRET_NAMES or len(word) < 5:
        return False
    return word.endswith(SECRET_SUFFIXES)


@lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """Whether a value named ``name`` (a JSON key, header, option, query key) is a secret."""
    try:
        flat = _SEPARATORS.sub("", name).lower()
        if not flat or flat in NON_SECRET_NAMES:
            return False
        secret = False
        previous = ""
        for word in split_words(name):
            if _secret_word(word):
                secret = previous not in BEFORE_QUALIFIERS
            elif secret and word in AFTER_QUALIFIERS:
                secret = False
            previous = word
        return secret
    except Exception:  # NOTE: never raise; a name that breaks the matcher is secret
        return True


@lru_cache(maxsize=4096)
def is_secret_query_name(name: str) -> bool:
    """:func:`is_secret_name`, plus the names secret in forms and queries (OAuth ``code``)."""
    flat = _SEPARATORS.sub("", name).lower()
    return flat in QUERY_ONLY_SECRET_NAMES or is_secret_name(name)


def last_pointer_name(path: str) -> str:
    """The last segment of a JSON pointer (``/driver_info/ipmi_password``)."""
    return path.rstrip("/").rpartition("/")[2]


#: Substrings (lower case, no ``_``/``-``) at least one of which is in every secret name:
#: a text holding none of them holds no secret name (the shortcut of the JSON walk).
NEEDLES: tuple[str, ...] = (
    "pass", "pwd", "secret", "token", "cred", "key", "sig", "payload", "private", "privkey",
    "cookie", "session", "psk", "verifier", "blob", "hmac", "otp", "kubeconfig", "pkcs12",
    "code",
)  # fmt: skip
