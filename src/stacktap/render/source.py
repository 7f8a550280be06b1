"""``stacktap open``: the source of a call's call site and of the handlers that served it.

For a client call: where the client issued it, then the handler of each server-side record
under it (what glance-api or nova-api ran to answer); for a server record: its handler. Each
place is printed as ``file:line`` with a few lines of the file around it, so a reader sees the
code without opening an editor (``--editor`` opens it instead).
"""

from __future__ import annotations

import linecache
from collections.abc import Sequence
from dataclasses import dataclass

from stacktap.model import CLIENT, SERVER, Call, CallSite
from stacktap.render.calls import pick_calls
from stacktap.store.trace import Trace, service_label


@dataclass(frozen=True)
class SourcePlace:
    """One place in the code a call leads to: what it is (``call site``, ``glance-api handler``)
    and where."""

    call: Call
    role: str
    site: CallSite


def source_places(trace: Trace, call: Call) -> list[SourcePlace]:
    """The places ``call`` leads to: its own site, then (for a client call) the handlers of
    the server-side records directly under it."""
    places: list[SourcePlace] = []
    if call.call_site is not None:
        role = "call site" if call.side == CLIENT else f"{call.local_service or service_label(call)} handler"
        places.append(SourcePlace(call, role, call.call_site))
    if call.side == CLIENT:
        for child in trace.children(call):
            if child.side == SERVER and child.call_site is not None:
                service = child.local_service or service_label(child)
                places.append(SourcePlace(child, f"{service} handler", child.call_site))
    return places


def _excerpt(site: CallSite, context: int) -> list[str]:
    """Lines ``site.line - context`` .. ``site.line + context`` of the file, the line marked."""
    lines = []
    for number in range(max(1, site.line - context), site.line + context + 1):
        text = linecache.getline(site.file, number)
        if not text:
            continue
        marker = ">" if number == site.line else " "
        lines.append(f"  {marker}{number:6d}  {text.rstrip()}")
    return lines


def render_source(trace: Trace, numbers: Sequence[int], context: int = 3) -> str:
    """The places of calls ``numbers`` with ``context`` lines of source around each.

    Raises ValueError for a number the run does not have, or when none of the calls has a
    known place (a run recorded without call sites, or an import from HAR).
    """
    blocks: list[str] = []
    for call in pick_calls(trace, numbers):
        places = source_places(trace, call)
        head = f"#{call.seq} {call.method} {call.path_template or call.url}"
        if not places:
            blocks.append(f"{head}\n  (no call site or handler recorded)\n")
            continue
        parts = [head]
        for place in places:
            site = place.site
            parts.append(f"{place.role}: {site.file}:{site.line}  {site.label}")
            excerpt = _excerpt(site, context)
            parts.extend(excerpt or ["  (file not readable here)"])
        blocks.append("\n".join(parts) + "\n")
    return "\n".join(blocks)


def all_places(trace: Trace, numbers: Sequence[int]) -> list[SourcePlace]:
    """Every place of calls ``numbers``, in order (what ``--editor`` opens)."""
    return [place for call in pick_calls(trace, numbers) for place in source_places(trace, call)]
