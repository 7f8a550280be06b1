"""Keystone catalogs: parse them from token responses and name the service behind a URL.

A URL maps to the endpoint whose scheme, host and port match and whose path is the
longest prefix of the URL's path (``/compute/v2.1`` beats ``/compute``). Calls to the auth
URL before any catalog is known are keystone's.

NOTE: imported inside traced programs (Python 3.8+, standard library only).
"""

from __future__ import annotations

import json
from typing import Any, Dict, Iterable, List, Optional, Tuple
from urllib.parse import urlsplit

from stacktap.model import Call, CatalogEntry, Peer
from stacktap.paths import default_port

#: Paths (suffixes) that only keystone answers: token issue/validation, v2 tokens.
KEYSTONE_TOKEN_PATHS = ("/v3/auth/tokens", "/v2.0/tokens", "/v3/auth/catalog", "/v3/auth/projects")


def _split(url: str) -> Tuple[str, str, str]:
    """(scheme, host:port with default port made explicit, path without trailing slash)."""
    parts = urlsplit(url)
    scheme = (parts.scheme or "http").lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = default_port(scheme)
    return scheme, "%s:%d" % (host, port), parts.path.rstrip("/")


def parse_catalog(document: Any) -> List[CatalogEntry]:
    """Catalog entries from a keystone v3 (``token.catalog``) or v2 (``access.serviceCatalog``)
    token response body, given as parsed JSON or text. Anything else gives ``[]``."""
    if isinstance(document, (str, bytes)):
        try:
            document = json.loads(document)
        except ValueError:
            return []
    if not isinstance(document, dict):
        return []
    entries: List[CatalogEntry] = []
    token = document.get("token")
    if isinstance(token, dict) and isinstance(token.get("catalog"), list):
        for service in token["catalog"]:
            if not isinstance(service, dict):
                continue
            for endpoint in service.get("endpoints") or []:
                if not isinstance(endpoint, dict) or not endpoint.get("url"):
                    continue
                entries.append(
                    CatalogEntry(
                        service_type=str(service.get("type") or "unknown"),
                        service_name=service.get("name"),
                        service_id=service.get("id"),
                        interface=endpoint.get("interface"),
                        region=endpoint.get("region") or endpoint.get("region_id"),
                        url=str(endpoint["url"]),
                    )
                )
    access = document.get("access")
    if isinstance(access, dict) and isinstance(access.get("serviceCatalog"), list):
        for service in access["serviceCatalog"]:
            if not isinstance(service, dict):
                continue
            for endpoint in service.get("endpoints") or []:
                if not isinstance(endpoint, dict):
                    continue
                for interface in ("public", "internal", "admin"):
                    url = endpoint.get(interface + "URL")
                    if url:
                        entries.append(
                            CatalogEntry(
                                service_type=str(service.get("type") or "unknown"),
                                service_name=service.get("name"),
                                interface=interface,
                                region=endpoint.get("region"),
                                url=str(url),
                            )
                        )
    return entries


class ServiceMap:
    """Names the service behind a URL from the catalog entries seen so far."""

    def __init__(self, entries: Iterable[CatalogEntry] = ()) -> None:
        # (scheme, hostport) -> list of (path, entry), longest path first.
        self._by_origin: Dict[Tuple[str, str], List[Tuple[str, CatalogEntry]]] = {}
        self._auth_prefixes: List[Tuple[str, str, str]] = []
        for entry in entries:
            self.add(entry)

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_origin.values())

    def add(self, entry: CatalogEntry) -> None:
        scheme, hostport, path = _split(entry.url)
        bucket = self._by_origin.setdefault((scheme, hostport), [])
        if any(p == path and e.service_type == entry.service_type for p, e in bucket):
            # NOTE: public/internal/admin often share one URL; keep the first (public
            # comes first in keystone's answers), it names the same service.
            return
        bucket.append((path, entry))
        bucket.sort(key=lambda item: len(item[0]), reverse=True)

    def add_auth_url(self, url: str) -> None:
        """Remember a keystone URL seen before any catalog (``/v3/auth/tokens`` target)."""
        scheme, hostport, path = _split(url)
        for suffix in KEYSTONE_TOKEN_PATHS:
            if path.endswith(suffix):
                path = path[: -len(suffix)]
                break
        key = (scheme, hostport, path)
        if key not in self._auth_prefixes:
            self._auth_prefixes.append(key)

    def lookup(self, url: str) -> Optional[Peer]:
        """The peer service for ``url``, or ``None`` when nothing matches."""
        scheme, hostport, path = _split(url)
        for prefix, entry in self._by_origin.get((scheme, hostport), ()):
            if _is_prefix(prefix, path):
                return Peer(
                    service_type=entry.service_type,
                    service_name=entry.service_name,
                    interface=entry.interface,
                    region=entry.region,
                    endpoint=entry.url,
                )
        for a_scheme, a_hostport, a_path in self._auth_prefixes:
            if a_scheme == scheme and a_hostport == hostport and _is_prefix(a_path, path):
                return Peer(service_type="identity", service_name="keystone")
        if _is_token_path(path):
            return Peer(service_type="identity", service_name="keystone")
        return None


def _is_prefix(prefix: str, path: str) -> bool:
    return path == prefix or path.startswith(prefix + "/") or prefix == ""


def _is_token_path(path: str) -> bool:
    return any(path.endswith(suffix) for suffix in KEYSTONE_TOKEN_PATHS)


def unknown_peer_label(url: str) -> str:
    """``host:port`` for a URL that no catalog names."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = default_port(parts.scheme)
    return "%s:%d" % (host, port)


def name_calls(calls: List[Call], entries: Iterable[CatalogEntry]) -> None:
    """Fill in the peer of client calls that have none, from the run's catalog.

    Token calls make their URL prefix keystone's, so version discovery at the auth URL
    (which comes first) is named too.
    """
    services = ServiceMap(entries)
    for call in calls:
        if _is_token_path(_split(call.url)[2]):
            services.add_auth_url(call.url)
    for call in calls:
        if call.peer.service_type or call.side != "client":
            continue
        peer = services.lookup(call.url)
        if peer is not None:
            call.peer = peer
