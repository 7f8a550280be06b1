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
from typing import TYPE_CHECKING, Any, Dict, List, NamedTuple, Optional, Protocol, Tuple
from urllib.parse import urlsplit

from stacktap.agent.argv_redact import redact_argv
from stacktap.agent.bodies import make_body
from stacktap.agent.body_capture import BodyCapture
from stacktap.agent.callsite import format_stack, to_call_site
from stacktap.agent.faults import warn_once
from stacktap.agent.wire import ReceivedBody, ReceivedExchange, header_pairs
from stacktap.catalog import KEYSTONE_TOKEN_PATHS, ServiceMap, parse_catalog, unknown_peer_label
from stacktap.model import BODY_REDACTED, CLIENT, Body, Call, CallSite, CatalogEntry, Peer, Run
from stacktap.paths import path_template

if TYPE_CHECKING:
    from stacktap.agent.exchange import Exchange
    from stacktap.agent.rules import IgnoreRules

from stacktap.settings import IGNORE as IGNORE_ENV


class Recorder(Protocol):
    """What enrichment reads of its recorder (``stacktap.agent.recorder.Recorder``)."""

    service: Optional[str]
    body_cap: int

Headers = List[Tuple[str, str]]

_REQUEST_ID_HEADERS = ("x-openstack-request-id", "x-compute-request-id")
_GLOBAL_ID_HEADERS = ("openstack-request-id", "x-openstack-request-id")


class _FailClosedRedactor(object):
    """Used only if ``stacktap.redact`` cannot be loaded: keeps no secret-capable content."""

    _SECRET_HEADER_WORDS = ("token", "auth", "key", "cookie", "secret", "password")

    def mark(self, value: str) -> str:
        # NOTE: no hash of the value: without the installation's mark key a plain hash would let
        # a guessed password be confirmed from the trace.
        return "{SHA256}unavailable"

    def headers(self, headers: Headers) -> Headers:
        return [
            (k, self.mark(v) if any(w in k.lower() for w in self._SECRET_HEADER_WORDS) else v)
            for k, v in headers
        ]

    def url(self, url: str) -> str:
        # NOTE: no query, no fragment, no userinfo (``http://user:pass@host/``).
        head = url.split("?", 1)[0].split("#", 1)[0]
        scheme, sep, rest = head.partition("://")
        if not sep:
            return head
        netloc, slash, path = rest.partition("/")
        return "%s://%s%s%s" % (scheme, netloc.rpartition("@")[2], slash, path)

    def body_text(self, text: str, content_type: Optional[str]) -> Tuple[str, str]:
        return BODY_REDACTED, self.mark(text)


def _load_redactor() -> Any:
    try:
        from stacktap.redact import default_redactor

        return default_redactor()
    except Exception as exc:
        warn_once("redaction unavailable (%s): bodies are not kept" % exc)
        return _FailClosedRedactor()


def _load_ignore_rules() -> Optional[IgnoreRules]:
    if not os.environ.get(IGNORE_ENV, "").strip():
        return None
    try:
        from stacktap.agent.rules import IgnoreRules

        rules = IgnoreRules.from_env()
    except Exception as exc:
        warn_once("%s not applied: %s: %s" % (IGNORE_ENV, type(exc).__name__, exc))
        return None
    return rules if rules else None


def _first_values(headers: Headers) -> Dict[str, str]:
    """Lower-case name -> value of its first occurrence (one pass for all the lookups)."""
    out: Dict[str, str] = {}
    for key, value in headers:
        lowered = key.lower()
        if lowered not in out:
            out[lowered] = value
    return out


def _first_header(values: Dict[str, str], names: Tuple[str, ...]) -> Optional[str]:
    for wanted in names:
        value = values.get(wanted)
        if value is not None:
            return value
    return None


def _is_token_url(url: str) -> bool:
    path = url.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    return path.endswith(KEYSTONE_TOKEN_PATHS)


def _read_headers(redactor: Any, headers: Any) -> Tuple[Headers, Dict[str, str]]:
    """(redacted headers to store, lower-case name -> first raw value to read ids from)."""
    pairs = header_pairs(headers)
    indexed = getattr(redactor, "headers_indexed", None)
    if indexed is not None:
        return indexed(pairs)
    plain = [(str(k), str(v)) for k, v in pairs]
    return redactor.headers(plain), _first_values(plain)


class ProcessIdentity(NamedTuple):
    """The traced process whose calls an enricher works on, when it is not this one."""

    pid: int
    argv: List[str]


def _site_and_stack(ex: Any) -> Tuple[Optional[CallSite], List[str]]:
    if isinstance(ex, ReceivedExchange):
        return ex.call_site, ex.stack  # NOTE: resolved by the traced process (stacktap.agent.wire)
    return to_call_site(ex.site), format_stack(ex.stack)


class Enricher(object):
    """Per-process writer state: the redactor, the service map, the traced process's identity."""

    def __init__(self, recorder: Recorder, process: Optional[ProcessIdentity] = None) -> None:
        self._recorder = recorder
        self.redactor = _load_redactor()
        self.services = ServiceMap()
        self._catalog_seen: set = set()
        self._new_entries: List[CatalogEntry] = []
        self.pid = process.pid if process is not None else os.getpid()
        self.host = socket.gethostname()
        argv = process.argv if process is not None else list(getattr(sys, "argv", None) or [])
        self.argv = redact_argv(argv, self.redactor.mark)
        self.process_name = os.path.basename(argv[0]) if argv and argv[0] else "python"
        self._services_used = False
        #: ``$STACKTAP_IGNORE`` parsed, or None (no rules: nothing to check, nothing imported).
        self.ignore: Optional[IgnoreRules] = _load_ignore_rules()

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

    def from_exchange(self, ex: Exchange | ReceivedExchange, run_id: str) -> Optional[Call]:
        """The redacted, named Call of a client exchange (from the hooks, or received by the
        collector); None when an ignore rule drops it."""
        redactor = self.redactor
        request_headers, request_values = _read_headers(redactor, ex.request_headers)
        response_headers, response_values = _read_headers(redactor, ex.response_headers)
        request_type = request_values.get("content-type")
        response_type = response_values.get("content-type")
        self._learn_catalog(ex.url, ex.response_body, response_type)
        peer = self._peer(ex.url)
        if self.ignore is not None and self._ignored(ex.method, ex.url, peer):
            return None
        cap = self._recorder.body_cap
        call_site, stack = _site_and_stack(ex)
        # NOTE: derived fields come from the redacted URL (a v2 /tokens/<token> path).
        url = redactor.url(ex.url)
        redacted_request, redacted_response = _first_values(request_headers), _first_values(response_headers)
        call = Call(
            run_id=run_id,
            method=ex.method,
            url=url,
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
            path_template=path_template(url),
            request_headers=request_headers,
            request_body=make_body(ex.request_body, request_type, cap, redactor),
            status=ex.status,
            reason=self._message(ex.reason),
            response_headers=response_headers,
            response_body=make_body(ex.response_body, response_type, cap, redactor)
            if ex.error_type is None
            else Body(),
            time_to_headers=ex.time_to_headers,
            duration=ex.duration,
            # NOTE: ids from the redacted headers, scrubbed again for echoes of the bodies.
            request_id=self._message(_first_header(redacted_response, _REQUEST_ID_HEADERS)),
            global_request_id=self._message(_first_header(redacted_request, _GLOBAL_ID_HEADERS)),
            call_site=call_site,
            stack=stack,
            error_type=ex.error_type,
            error_message=self._message(ex.error_message),
        )
        if peer is not None:
            call.peer = peer
        return call

    # -- calls submitted whole (the WSGI filter) ------------------------------------------

    def from_call(self, call: Call, request_bytes: Any, response_bytes: Any, run_id: str) -> Optional[Call]:
        """Fill in and redact a Call built elsewhere; bodies from the raw bytes when given.

        None when the call is a client call that an ignore rule drops (server calls are
        filtered by the server filter's own rules, before they get here).
        """
        cap = self._recorder.body_cap
        redactor = self.redactor
        raw_url = call.url
        request_headers, request_values = _read_headers(redactor, call.request_headers)
        response_headers, response_values = _read_headers(redactor, call.response_headers)
        request_type = request_values.get("content-type")
        response_type = response_values.get("content-type")
        if call.side == CLIENT:
            self._learn_catalog(raw_url, response_bytes, response_type)
            if not (call.peer.service_type or call.peer.service_name):
                peer = self._peer(raw_url)
                if peer is not None:
                    call.peer = peer
            if self.ignore is not None and self._ignored(call.method, raw_url, call.peer):
                return None
        if not call.run_id:
            call.run_id = run_id
        call.pid = call.pid or self.pid
        call.host = call.host or self.host
        call.process_name = call.process_name or self.process_name
        call.process_argv = (
            self.argv if call.process_argv is None else redact_argv(call.process_argv, redactor.mark)
        )
        call.local_service = call.local_service or self._recorder.service
        call.url = redactor.url(raw_url)
        call.request_headers = request_headers
        call.response_headers = response_headers
        # NOTE: bodies first, so the secrets marked in them are known when the derived
        # fields (reason phrase, request ids, messages) are scrubbed for their echoes.
        call.request_body = self._body(call.request_body, request_bytes, request_type, cap)
        call.response_body = self._body(call.response_body, response_bytes, response_type, cap)
        # NOTE: derived fields come from redacted values (a v2 /tokens/<token> path).
        call.path_template = self._message(call.path_template) or path_template(call.url)
        call.reason = self._message(call.reason)
        call.request_id = self._message(
            call.request_id or _first_header(_first_values(response_headers), _REQUEST_ID_HEADERS)
        )
        call.global_request_id = self._message(
            call.global_request_id or _first_header(_first_values(request_headers), _GLOBAL_ID_HEADERS)
        )
        call.error_message = self._message(call.error_message)
        self._redact_policy_checks(call)
        return call

    def _redact_policy_checks(self, call: Call) -> None:
        """Policy checks keep names and ids only (the hook's allow-list); the credentials go
        through the JSON rules all the same, the rule and check strings through the text rules."""
        json_rules = getattr(self.redactor, "json", None)
        for check in call.policy_checks:
            check.span_id = call.span_id
            check.rule = self._message(check.rule) or ""
            check.check = self._message(check.check)
            creds = json_rules(check.creds) if json_rules is not None else {}
            check.creds = creds if isinstance(creds, dict) else {}

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
        self._services_used = True
        if raw is None or "json" not in (content_type or "json").lower():
            return
        if isinstance(raw, (BodyCapture, ReceivedBody)):
            if not raw.complete or raw.truncated:
                return
            raw = raw.data
        for entry in parse_catalog(raw):
            # NOTE: an endpoint URL may carry userinfo (``http://user:pass@host/``): the
            # catalog table, the peer endpoint and diagrams all read this redacted one
            # (the map matches on scheme, host, port and path, which redaction keeps).
            entry.url = self.redactor.url(entry.url)
            key = (entry.service_type, entry.interface, entry.region, entry.url)
            if key in self._catalog_seen:
                continue
            self._catalog_seen.add(key)
            self.services.add(entry)
            self._new_entries.append(entry)

    def take_new_catalog_entries(self) -> List[CatalogEntry]:
        entries, self._new_entries = self._new_entries, []
        return entries

    def _peer(self, raw_url: str) -> Optional[Peer]:
        """The catalog's name for the service behind ``raw_url``, if any."""
        if not self._services_used:
            # NOTE: an empty map names only token URLs (keystone), and a token URL has
            # already been added to it by _learn_catalog: nothing to look up.
            return None
        return self.services.lookup(raw_url)

    # -- ignore rules -----------------------------------------------------------------------

    def _ignored(self, method: str, raw_url: str, peer: Optional[Peer]) -> bool:
        """Whether ``$STACKTAP_IGNORE`` drops this client call (see stacktap.agent.rules).

        ``from`` is this process's service; ``to`` matches the peer's catalog name, its type
        or ``host:port``; ``path`` matches the URL path, or the path below the peer's
        endpoint (``/resource_providers`` of ``http://host/placement/resource_providers``).
        """
        rules = self.ignore
        if rules is None:
            return False
        try:
            path = urlsplit(raw_url).path or "/"
            paths = [path]
            targets = [unknown_peer_label(raw_url)]
            if peer is not None:
                targets[:0] = [t for t in (peer.service_name, peer.service_type) if t]
                if peer.endpoint:
                    prefix = urlsplit(peer.endpoint).path.rstrip("/")
                    if prefix and path.startswith(prefix + "/"):
                        paths.append(path[len(prefix) :])
            source = self._recorder.service
            return any(rules.matches(method, p, source, t) for p in paths for t in targets)
        except Exception as exc:  # NOTE: a rule must never lose a call by accident
            warn_once("ignore rules failed: %s: %s" % (type(exc).__name__, exc))
            return False
