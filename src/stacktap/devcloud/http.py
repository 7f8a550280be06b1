"""A tiny JSON-over-HTTP client (standard library) for health checks and admin API calls."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

# NOTE: the dev cloud is on 127.0.0.1: never send its requests (or its admin password) through an
# http_proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class HTTPResult:
    def __init__(self, status: int, headers: Mapping[str, str], body: Any) -> None:
        self.status = status
        self.headers = headers
        self.body = body


def request_json(
    method: str,
    url: str,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> HTTPResult:
    """Send ``body`` as JSON; any HTTP status comes back (not raised); network errors raise OSError."""
    data = None if body is None else json.dumps(body).encode()
    return request_bytes(method, url, data, "application/json", headers, timeout)


def request_bytes(
    method: str,
    url: str,
    data: bytes | None,
    content_type: str = "application/octet-stream",
    headers: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> HTTPResult:
    """Send ``data`` as is (an image upload); the answer is parsed as JSON when it is JSON."""
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", content_type)
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status, resp_headers, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        status, resp_headers, raw = exc.code, exc.headers, exc.read()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode("utf-8", "replace")
    return HTTPResult(status, resp_headers, parsed)


def health(url: str, timeout: float = 3.0) -> str:
    """``"ok (200)"`` when a GET of ``url`` answers below 500, else what went wrong, in a few words."""
    try:
        status = request_json("GET", url, timeout=timeout).status
    except OSError as exc:
        reason = getattr(exc, "reason", exc)
        return f"down ({reason})"
    return ("ok (%d)" if status < 500 else "failing (%d)") % status
