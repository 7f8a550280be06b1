"""The writer thread's work on each record: from raw facts to a redacted, named ``Call``.

Redaction (``stacktap.redact``), bodies, request ids, path templates, catalogs parsed from
token responses and peer names from them (a ``ServiceMap`` per process) all happen here,
off the program's threads, before anything reaches the store.

NOTE: standard library only, Python 3.8+ (runs inside traced programs).
"""

from __future__ import annotations

import getpass
import os
import socket
import sys
import time
from typing import TYPE_CHECKING, Any, List, Optional, Tuple

from stacktap.capture.argv_redact import redact_argv
from stacktap.capture.bodies import make_body
from stacktap.capture.body_capture import BodyCapture
from stacktap.capture.callsite import format_stack, to_call_site
from stacktap.capture.warn import warn_once
from stacktap.catalog import KEYSTONE_TOKEN_PATHS, ServiceMap, parse_catalog
from stacktap.model import BODY_REDACTED, CLIENT, Body, Call, CatalogEntry, Run
from stacktap.paths import path_template

if TYPE_CHECKING:
    from stacktap.capture.exchange import Exchange
    from stacktap.capture.recorder import Recorder

Headers = List[Tuple[str, str]]

_REQUEST_ID_HEADERS = ("x-openstack-request-id", "x-compute-request-id")
_GLOBAL_ID_HEADERS = ("openstack-request-id", "x-openstack-request-id")


class _FailClosedRedactor(object):
    """Used only if ``stacktap.redact`` cannot be loaded: keeps no secret-capable content."""

    _SECRET_HEADER_WORDS = ("token", "auth", "key", "cookie", "secret", "password")

    def mark(self, value: str) -> str:
        import hashlib

        return "{SHA256}" + hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()[:16]

    def headers(self, headers: Headers) -> Headers:
        return [
            (k, self.mark(v) if any(w in k.lower() for w in self._SECRET_HEADER_WORDS) else v)
            for k, v in headers
        ]

    def url(self, url: str) -> str:
        return url.split("?", 1)[0]

    def body_text(self, text: str, content_type: Optional[str]) -> Tuple[str, str]:
        return BODY_REDACTED, self.mark(text)


def _load_redactor() -> Any:
    try:
        from stacktap.redact import default_redactor

        return default_redactor()
    except Exception as exc:
        warn_once("redaction unavailable (%s): bodies are not kept" % exc)
        return _FailClosedRedactor()


def _first_header(headers: Headers, names: Tuple[str, ...]) -> Optional[str]:
    for wanted in names:
        for key, value in headers:
            if key.lower() == wanted:
                return value
    return None


def _is_token_url(url: str) -> bool:
    path = url.split("?", 1)[0].rstrip("/")
    return any(path.endswith(suffix) for suffix in KEYSTONE_TOKEN_PATHS)


def _header_list(headers: Any) -> Headers:
    if headers is None:
        return []
    if isinstance(headers, list):
        return [(str(k), str(v)) for k, v in headers]
    return [(str(k), str(v)) for k, v in headers.items()]


class Enricher(object):
    """Per-process writer state: the redactor, the service map, this process's identity."""

    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder
        self.redactor = _load_redactor()
        self.services = ServiceMap()
        self._catalog_seen: set = set()
        self._new_entries: List[CatalogEntry] = []
        self.pid = os.getpid()
        self.host = socket.gethostname()
        argv = list(getattr(sys, "argv", None) or [])
        self.argv = redact_argv(argv, self.redactor.mark)
        self.process_name = os.path.basename(argv[0]) if argv and argv[0] else "python"

    def server_run(self) -> Run:
        """The run a service process records into when no run id was given."""
        try:
            user: Optional[str] = getpass.getuser()
        except Exception:
            user = None
        return Run(
            kind="server",
            label=self._recorder.service or self.process_name,
            argv=self.argv,
            cwd=os.getcwd(),
            host=self.host,
            user=user,
            started=time.time(),
        )

    # -- client exchanges from the hooks -------------------------------------------------

    def from_exchange(self, ex: Exchange, run_id: str) -> Call:
        cap = self._recorder.body_cap
        redactor = self.redactor
        request_headers = _header_list(ex.request_headers)
        response_headers = _header_list(ex.response_headers)
        request_type = _first_header(request_headers, ("content-type",))
        response_type = _first_header(response_headers, ("content-type",))
        self._learn_catalog(ex.url, ex.response_body, response_type)
        call = Call(
            run_id=run_id,
            method=ex.method,
            url=redactor.url(ex.url),
            start=ex.start,
            trace_id=ex.trace_id,
            span_id=ex.span_id,
            parent_span_id=ex.parent_span_id,
            side=CLIENT,
            pid=self.pid,
            process_name=self.process_name,
            process_argv=self.argv,
            thread=ex.thread,
            local_service=self._recorder.service,
            host=self.host,
            path_template=path_template(ex.url),
            request_headers=redactor.headers(request_headers),
            request_body=make_body(ex.request_body, request_type, cap, redactor),
            status=ex.status,
            reason=ex.reason,
            response_headers=redactor.headers(response_headers),
            response_body=make_body(ex.response_body, response_type, cap, redactor)
            if ex.error_type is None
            else Body(),
            time_to_headers=ex.time_to_headers,
            duration=ex.duration,
            request_id=_first_header(response_headers, _REQUEST_ID_HEADERS),
            global_request_id=_first_header(request_headers, _GLOBAL_ID_HEADERS),
            call_site=to_call_site(ex.site),
            stack=format_stack(ex.stack),
            error_type=ex.error_type,
            error_message=self._message(ex.error_message),
        )
        self._name_peer(call, ex.url)
        return call

    # -- calls submitted whole (the WSGI filter) ------------------------------------------

    def from_call(self, call: Call, request_bytes: Any, response_bytes: Any, run_id: str) -> Call:
        """Fill in and redact a Call built elsewhere; bodies from the raw bytes when given."""
        cap = self._recorder.body_cap
        redactor = self.redactor
        raw_url = call.url
        if not call.run_id:
            call.run_id = run_id
        call.pid = call.pid or self.pid
        call.host = call.host or self.host
        call.process_name = call.process_name or self.process_name
        call.process_argv = (
            self.argv if call.process_argv is None else redact_argv(call.process_argv, redactor.mark)
        )
        call.local_service = call.local_service or self._recorder.service
        request_headers = _header_list(call.request_headers)
        response_headers = _header_list(call.response_headers)
        request_type = _first_header(request_headers, ("content-type",))
        response_type = _first_header(response_headers, ("content-type",))
        if call.side == CLIENT:
            self._learn_catalog(raw_url, response_bytes, response_type)
        call.url = redactor.url(raw_url)
        call.path_template = call.path_template or path_template(raw_url)
        call.request_headers = redactor.headers(request_headers)
        call.response_headers = redactor.headers(response_headers)
        call.request_body = self._body(call.request_body, request_bytes, request_type, cap)
        call.response_body = self._body(call.response_body, response_bytes, response_type, cap)
        call.request_id = call.request_id or _first_header(response_headers, _REQUEST_ID_HEADERS)
        call.global_request_id = call.global_request_id or _first_header(request_headers, _GLOBAL_ID_HEADERS)
        call.error_message = self._message(call.error_message)
        if call.side == CLIENT:
            self._name_peer(call, raw_url)
        return call

    def _message(self, text: Optional[str]) -> Optional[str]:
        if text is None:
            return None
        scrub = getattr(self.redactor, "message", None)
        return scrub(text) if scrub is not None else self.redactor.mark(text)

    def _body(self, body: Body, raw: Any, content_type: Optional[str], cap: int) -> Body:
        if raw is not None:
            return make_body(raw, content_type or body.content_type, cap, self.redactor)
        if body.text is not None:
            # NOTE: text given without raw bytes is redacted all the same.
            kind, text = self.redactor.body_text(body.text, body.content_type or content_type)
            body.kind, body.text = kind, text
        return body

    # -- catalogs and peers ----------------------------------------------------------------

    def _learn_catalog(self, url: str, raw: Any, content_type: Optional[str]) -> None:
        if not _is_token_url(url):
            return
        self.services.add_auth_url(url)
        if raw is None or "json" not in (content_type or "json").lower():
            return
        if isinstance(raw, BodyCapture):
            if not raw.complete or raw.truncated:
                return
            raw = raw.data
        for entry in parse_catalog(raw):
            key = (entry.service_type, entry.interface, entry.region, entry.url)
            if key in self._catalog_seen:
                continue
            self._catalog_seen.add(key)
            self.services.add(entry)
            self._new_entries.append(entry)

    def take_new_catalog_entries(self) -> List[CatalogEntry]:
        entries, self._new_entries = self._new_entries, []
        return entries

    def _name_peer(self, call: Call, raw_url: str) -> None:
        if call.peer.service_type or call.peer.service_name:
            return
        peer = self.services.lookup(raw_url)
        if peer is not None:
            call.peer = peer
