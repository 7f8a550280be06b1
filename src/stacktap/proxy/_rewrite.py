"""Upstream origins behind path prefixes, and the rewriting that sends clients back to us.

One listening port: upstream origin N (``https://glance:9292``) is served under
``http://127.0.0.1:PORT/_o/N``. Every absolute URL to an upstream origin in a JSON response
(the token catalog, version discovery links, pagination links) and in ``Location`` is
rewritten to its prefixed proxy URL; a new origin gets the next prefix.
"""

from __future__ import annotations

import re
import threading
from urllib.parse import urlsplit

PREFIX = "/_o/"

_URL_RE = re.compile(r"https?://[A-Za-z0-9.\-\[\]:]+")


class Origins:
    """The upstream origins seen so far, each with its index (thread-safe)."""

    def __init__(self, base: str) -> None:
        self.base = base  # e.g. http://127.0.0.1:PORT
        self._lock = threading.Lock()
        self._origins: list[str] = []
        self._index: dict[str, int] = {}

    def add(self, origin: str) -> int:
        origin = origin.rstrip("/").lower()
        with self._lock:
            index = self._index.get(origin)
            if index is None:
                index = self._index[origin] = len(self._origins)
                self._origins.append(origin)
            return index

    def proxy_url(self, url: str) -> str:
        """The proxy URL that reaches ``url`` (an absolute upstream URL)."""
        parts = urlsplit(url)
        index = self.add(f"{parts.scheme}://{parts.netloc}")
        rest = url[len(parts.scheme) + 3 + len(parts.netloc) :]
        return f"{self.base}{PREFIX}{index}{rest}"

    def upstream(self, path: str) -> tuple[str, str] | None:
        """(origin, path upstream) for a request path of ours; None if no known prefix."""
        if not path.startswith(PREFIX):
            return None
        tail = path[len(PREFIX) :]
        match = re.match(r"(\d+)(.*)", tail)
        if match is None:
            return None
        number, rest = match.group(1), match.group(2)
        if rest and rest[0] not in "/?":
            return None
        with self._lock:
            if int(number) >= len(self._origins):
                return None
            origin = self._origins[int(number)]
        if not rest.startswith("/"):
            rest = "/" + rest
        return origin, rest

    def rewrite_text(self, text: str) -> str:
        """Every absolute http(s) URL that is not already ours, made to go through us."""

        def one(match: re.Match[str]) -> str:
            url = match.group(0)
            if url.lower().startswith(self.base.lower()):
                return url
            return self.proxy_url(url)

        return _URL_RE.sub(one, text)
