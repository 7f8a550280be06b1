"""The sequence diagram of a run, as a neutral model that Mermaid, PlantUML and SVG all draw.

Participants are the processes and services in order of first appearance (the command,
then keystone, glance, nova...). Each call is a request arrow and a response arrow; the
server-side record of a call (recorded by the service itself, linked by parent span id)
does not get arrows of its own: it adds a note with the handler and the layers passed,
and the calls the service made while serving it are drawn nested inside (activation bars).

Notes mark what a learner should see: version discovery, a token + catalog being
issued, token validation, and re-authentication after a 401. Consecutive identical
calls (polling) fold into one arrow pair with a count.
"""

from __future__ import annotations

import http
import os
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from stacktap.model import BODY_JSON, CLIENT, KIND_RPC_CALL, KIND_RPC_CAST, SERVER, Call, Run
from stacktap.store.trace import Trace, service_label

#: Notes, by kind.
NOTE_DISCOVERY = "discovery"
NOTE_TOKEN = "token"
NOTE_VALIDATION = "validation"
NOTE_REAUTH = "reauth"
NOTE_HANDLER = "handler"
NOTE_LIMIT = "limit"

_VERSION_SEGMENT = re.compile(r"^v\d+(\.\d+)?$")
_SERVICE_SUFFIXES = ("-api", "-wsgi")
_PYTHON = re.compile(r"^python(\d+(\.\d+)?)?$")


@dataclass
class Participant:
    """A lifeline: the traced command or one service."""

    key: str  # ``P1``, ``P2``...: safe as an identifier in every diagram language
    label: str  # ``openstack``, ``keystone``, ``glance``...
    kind: str  # ``client`` | ``service``


@dataclass
class Arrow:
    """One request or response arrow; a folded arrow stands for ``count`` identical calls."""

    number: int  # 1, 2, 3... in drawing order, as Mermaid's ``autonumber`` counts them
    source: str  # participant key
    target: str  # participant key
    text: str
    response: bool = False
    failed: bool = False  # no response: the call ended in an error (drawn as a cross)
    activate: bool = False  # a request opens an activation bar on its target
    deactivate: bool = False  # a response closes the activation bar on its source
    count: int = 1
    span_ids: list[str] = field(default_factory=list)  # the calls drawn by this arrow


@dataclass
class Note:
    """A note over one participant (or spanning two); ``lines`` are drawn one under the other."""

    over: list[str]  # one or two participant keys
    lines: list[str]
    kind: str


Step = Arrow | Note


@dataclass
class SequenceDiagram:
    """Participants and the steps between them, in drawing order."""

    title: str
    participants: list[Participant]
    steps: list[Step]
    calls_total: int  # calls in the run (both sides)
    calls_drawn: int  # calls drawn (a folded arrow draws several)

    @property
    def arrows(self) -> list[Arrow]:
        return [s for s in self.steps if isinstance(s, Arrow)]

    @property
    def notes(self) -> list[Note]:
        return [s for s in self.steps if isinstance(s, Note)]

    def participant(self, key: str) -> Participant:
        for participant in self.participants:
            if participant.key == key:
                return participant
        raise KeyError(key)


@dataclass
class _Hop:
    """A call as one exchange: the client record, the server record answering it, and the
    calls the server made while serving it."""

    call: Call
    server: Call | None
    inner: list[_Hop]


def build_sequence(trace: Trace, limit: int | None = None) -> SequenceDiagram:
    """The sequence diagram of ``trace``; with ``limit``, at most that many calls are drawn
    and a note says how many were left out."""
    return _Builder(trace, limit).build()


def client_label(run: Run, calls: list[Call]) -> str:
    """The traced command's name: ``openstack`` from ``openstack image list``; the script
    for ``python3 script.py``; else the process name."""
    argv = list(run.argv)
    while argv and _PYTHON.match(os.path.basename(argv[0])):
        argv = argv[1:]
        while argv and argv[0].startswith("-") and argv[0] not in ("-m", "-c"):
            argv = argv[1:]
        if argv and argv[0] == "-m" and len(argv) > 1:
            return argv[1]
        if argv and argv[0] == "-c":
            argv = []
    if argv and argv[0]:
        return os.path.basename(argv[0])
    for call in calls:
        if call.side == CLIENT and call.run_id == run.id and call.process_name:
            return call.process_name
    return "client"


def service_name(local_service: str) -> str:
    """``glance`` for a process that says it is ``glance-api``: the catalog's name for it."""
    for suffix in _SERVICE_SUFFIXES:
        if local_service.endswith(suffix) and len(local_service) > len(suffix):
            return local_service[: -len(suffix)]
    return local_service


def request_text(call: Call) -> str:
    """``GET /v2/images/{image_id}``; ``cast build_and_run_instance`` for RPC."""
    if call.kind == KIND_RPC_CAST:
        return f"cast {call.method}"
    if call.kind == KIND_RPC_CALL:
        return f"call {call.method}"
    template = call.path_template or urlsplit(call.url).path or "/"
    return f"{call.method} {template}"


def response_text(call: Call) -> str:
    """``200 OK``; the error type for a call that got no response; for RPC ``reply`` (a call)
    or ``published`` (a cast: its handling goes on without the caller)."""
    if call.kind in (KIND_RPC_CALL, KIND_RPC_CAST) and call.error_type is None:
        return "reply" if call.kind == KIND_RPC_CALL else "published"
    if call.status is None:
        return call.error_type or "no response"
    reason = call.reason
    if not reason:
        try:
            reason = http.HTTPStatus(call.status).phrase
        except ValueError:
            reason = ""
    text = f"{call.status} {reason}".strip()
    if call.error_type:
        text += f" ({call.error_type})"
    return text


def is_version_discovery(call: Call) -> bool:
    """A GET on a service root or a version document (``/``, ``/v3``, ``/v2.1``, ``/image``)."""
    if call.method != "GET" or (call.status is not None and call.status >= 400):
        return False
    path = urlsplit(call.url).path.rstrip("/")
    if path == "" or _VERSION_SEGMENT.match(path.rsplit("/", 1)[-1]):
        return True
    if call.peer.endpoint and path == urlsplit(call.peer.endpoint).path.rstrip("/"):
        return True
    body = call.response_body
    if body.kind == BODY_JSON and body.text:
        # NOTE: devstack puts services under a path (``/image``); only the body says
        # that this GET was answered with a version document.
        head = body.text[:40].lstrip()
        return head.startswith('{"versions"') or head.startswith('{"version"')
    return False


def is_token_issue(call: Call) -> bool:
    """``POST /v3/auth/tokens`` answered 201, or ``POST /v2.0/tokens`` answered 200."""
    path = urlsplit(call.url).path.rstrip("/")
    if call.method != "POST":
        return False
    return (path.endswith("/v3/auth/tokens") and call.status == 201) or (
        path.endswith("/v2.0/tokens") and call.status == 200
    )


def is_token_call(call: Call) -> bool:
    """Any call that issues a token (successful or not): the sign of (re-)authentication."""
    path = urlsplit(call.url).path.rstrip("/")
    return call.method == "POST" and (path.endswith("/v3/auth/tokens") or path.endswith("/v2.0/tokens"))


def is_token_validation(call: Call) -> bool:
    """``GET``/``HEAD /v3/auth/tokens``: a service checking the token it was sent."""
    path = urlsplit(call.url).path.rstrip("/")
    return call.method in ("GET", "HEAD") and path.endswith("/v3/auth/tokens")


def _has_catalog(call: Call) -> bool:
    text = call.response_body.text or ""
    return '"catalog"' in text or '"serviceCatalog"' in text


def handler_lines(server: Call) -> list[str]:
    """The note under a server record: the handler, then the layers passed (``a → b → c``)."""
    lines: list[str] = []
    if server.handler or server.app:
        lines.append(str(server.handler or server.app))
    names = []
    for layer in sorted(server.layers, key=lambda item: item.order):
        name = layer.name
        if layer.answered:
            name += f" (answered {layer.status})" if layer.status else " (answered)"
        names.append(name)
    # NOTE: four layers a line keeps a note narrow enough to sit over one lifeline.
    for i in range(0, len(names), 4):
        prefix = "layers: " if i == 0 else "→ "
        lines.append(prefix + " → ".join(names[i : i + 4]))
    return lines


class _Builder:
    """Turns the call tree of a trace into participants and steps."""

    def __init__(self, trace: Trace, limit: int | None) -> None:
        self.trace = trace
        self.limit = limit
        self.participants: dict[str, Participant] = {}
        self.steps: list[Step] = []
        self.number = 0
        self.drawn = 0
        self.stopped = False
        self.client = client_label(trace.run, trace.calls)

    def build(self) -> SequenceDiagram:
        hops = [self._hop(call) for call in self.trace.roots]
        self._emit_siblings(hops, None)
        if self.stopped:
            keys = [p.key for p in self.participants.values()]
            left = len(self.trace.calls) - self.drawn
            self.steps.append(
                Note(
                    over=[keys[0], keys[-1]] if len(keys) > 1 else keys[:1],
                    lines=[f"{left} more calls not drawn (limit {self.limit or 0})"],
                    kind=NOTE_LIMIT,
                )
            )
        return SequenceDiagram(
            title=self.trace.run.label or " ".join(self.trace.run.argv) or self.trace.run.id,
            participants=list(self.participants.values()),
            steps=self.steps,
            calls_total=len(self.trace.calls),
            calls_drawn=self.drawn,
        )

    # -- the tree -------------------------------------------------------------------------

    def _hop(self, call: Call) -> _Hop:
        if call.side == SERVER:
            return _Hop(call=call, server=call, inner=[self._hop(c) for c in self.trace.children(call)])
        servers = [c for c in self.trace.children(call) if c.side == SERVER]
        inner = [self._hop(c) for c in self.trace.children(call) if c.side != SERVER]
        for server in servers:
            inner.extend(self._hop(c) for c in self.trace.children(server))
        inner.sort(key=lambda hop: hop.call.start)
        return _Hop(call=call, server=servers[0] if servers else None, inner=inner)

    def _signature(self, hop: _Hop, source: str) -> tuple:
        call = hop.call
        return (
            source,
            self._target_label(hop),
            call.side,
            call.method,
            call.path_template,
            call.status,
            call.error_type,
            hop.server.handler if hop.server else None,
            tuple(self._signature(h, self._target_label(hop)) for h in hop.inner),
        )

    # -- participants ---------------------------------------------------------------------

    def _participant(self, label: str, kind: str) -> str:
        found = self.participants.get(label)
        if found is None:
            found = Participant(key=f"P{len(self.participants) + 1}", label=label, kind=kind)
            self.participants[label] = found
        return found.key

    def _source_label(self, call: Call) -> str:
        """Who sent a top-level call: the command, or the service whose process made it."""
        if call.side == SERVER:
            # NOTE: a server record nobody in this trace sent (a service's own run, or a
            # caller that did not propagate traceparent).
            return "caller"
        if call.local_service:
            return service_name(call.local_service)
        if call.run_id == self.trace.run.id or not call.process_name:
            return self.client
        return call.process_name

    def _target_label(self, hop: _Hop) -> str:
        if hop.call.side == SERVER:
            return service_name(hop.call.local_service or service_label(hop.call))
        return service_label(hop.call)

    # -- steps ----------------------------------------------------------------------------

    def _emit_siblings(self, hops: list[_Hop], source: str | None) -> None:
        index = 0
        while index < len(hops) and not self.stopped:
            hop = hops[index]
            hop_source = source if source is not None else self._source_label(hop.call)
            signature = self._signature(hop, hop_source)
            count = 1
            while index + count < len(hops):
                nxt = hops[index + count]
                nxt_source = source if source is not None else self._source_label(nxt.call)
                if self._signature(nxt, nxt_source) != signature:
                    break
                count += 1
            following = hops[index + count] if index + count < len(hops) else None
            self._emit_hop(hops[index : index + count], hop_source, following)
            index += count

    def _emit_hop(self, group: list[_Hop], source_label: str, following: _Hop | None) -> None:
        if self.limit is not None and self.drawn >= self.limit:
            self.stopped = True
            return
        hop = group[0]
        call = hop.call
        count = len(group)
        spans = [h.call.span_id for h in group]
        source = self._participant(source_label, CLIENT if source_label == self.client else "service")
        target = self._participant(self._target_label(hop), "service")
        self.drawn += sum(1 + (1 if h.server is not None and h.server is not h.call else 0) for h in group)
        suffix = f" (x{count})" if count > 1 else ""

        self.number += 1
        self.steps.append(
            Arrow(self.number, source, target, request_text(call) + suffix, activate=True, count=count,
                  span_ids=spans)
        )
        if hop.server is not None:
            lines = handler_lines(hop.server)
            if lines:
                self.steps.append(Note(over=[target], lines=lines, kind=NOTE_HANDLER))
        for inner in group[1:]:
            # NOTE: folded calls are identical in shape; only their inner calls are counted.
            self.drawn += _count_calls(inner.inner)
        self._emit_siblings(hop.inner, self._target_label(hop))

        self.number += 1
        self.steps.append(
            Arrow(self.number, target, source, response_text(call) + suffix, response=True,
                  failed=_failed(call), deactivate=True, count=count, span_ids=spans)
        )
        for note in self._notes_after(call, source, target, following):
            self.steps.append(note)

    def _notes_after(self, call: Call, source: str, target: str, following: _Hop | None) -> list[Note]:
        notes = []
        if is_version_discovery(call):
            notes.append(Note(over=[target], lines=["version discovery"], kind=NOTE_DISCOVERY))
        elif is_token_issue(call):
            text = "token + catalog issued" if _has_catalog(call) else "token issued"
            over = [source, target] if source != target else [target]
            notes.append(Note(over=over, lines=[text], kind=NOTE_TOKEN))
        elif is_token_validation(call) and call.status is not None and call.status < 400:
            notes.append(Note(over=[target], lines=["token validated"], kind=NOTE_VALIDATION))
        if call.status == 401 and following is not None and is_token_call(following.call):
            lines = ["401: token rejected, re-authenticate"]
            notes.append(Note(over=[source], lines=lines, kind=NOTE_REAUTH))
        return notes


def _failed(call: Call) -> bool:
    """No response came back (drawn as a cross); an RPC call or cast has no status to show it."""
    if call.kind in (KIND_RPC_CALL, KIND_RPC_CAST):
        return call.error_type is not None
    return call.status is None


def _count_calls(hops: list[_Hop]) -> int:
    total = 0
    for hop in hops:
        total += 1 + (1 if hop.server is not None and hop.server is not hop.call else 0)
        total += _count_calls(hop.inner)
    return total
