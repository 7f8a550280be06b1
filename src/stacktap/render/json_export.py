"""Lossless stacktap JSON: one run with every field of its calls, layers and catalog.

This is the exchange format between colleagues: ``stacktap export RUN --format json`` on
one machine, ``stacktap import FILE`` on another gives back the same run id and span ids,
so exporting the imported run again yields the identical document.

The document is ``{"format": "stacktap-trace", "version": 1, "run": {...},
"catalog": [...], "calls": [...]}``. Calls are written field by field from the model's
dataclasses, so a field added to ``Call`` later is exported without touching this module;
readers ignore keys they do not know (a newer minor change stays importable).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from stacktap.errors import StacktapError
from stacktap.model import Body, Call, CallSite, CatalogEntry, Layer, Peer, PolicyCheck, Run
from stacktap.store.trace import Trace

FORMAT_NAME = "stacktap-trace"
FORMAT_VERSION = 1

#: Call fields the store fills in on read; exported for readers, ignored on import.
_DERIVED_CALL_FIELDS = ("seq",)


class TraceFileError(StacktapError, ValueError):
    """A file that is not a stacktap JSON trace (one line, for the user)."""


@dataclass
class ImportedTrace:
    """A parsed stacktap JSON document, ready to be written to a store."""

    run: Run
    calls: list[Call]
    catalog: list[CatalogEntry]


# -- export ----------------------------------------------------------------------------


def trace_document(trace: Trace) -> dict[str, Any]:
    """The JSON-ready dict of a trace (see the module docstring for the shape)."""
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "run": _plain(dataclasses.asdict(trace.run)),
        "catalog": [_plain(dataclasses.asdict(entry)) for entry in trace.catalog],
        "calls": [_call_dict(call) for call in trace.all_records],
    }


def render_json(trace: Trace) -> str:
    """The trace as stacktap JSON text (indented, keys in model order, ends with a newline)."""
    return json.dumps(trace_document(trace), indent=2, ensure_ascii=False) + "\n"


def _call_dict(call: Call) -> dict[str, Any]:
    data = _plain(dataclasses.asdict(call))
    # NOTE: asdict turns header tuples into lists already; bodies, peer, call site and
    # layers become nested dicts, which is exactly the shape _call_from_dict reads.
    return data


def _plain(value: Any) -> Any:
    """Tuples to lists, recursively, so the dict equals what json.loads gives back."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


# -- import ----------------------------------------------------------------------------


def parse_trace_json(text: str | bytes) -> ImportedTrace:
    """Parse a stacktap JSON document; anything else raises ``TraceFileError`` (one line)."""
    try:
        document = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise TraceFileError(f"not a stacktap JSON trace: invalid JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        hint = " (a HAR file? stacktap imports only its own JSON)" if _looks_like_har(document) else ""
        raise TraceFileError(f'not a stacktap JSON trace: no "format": {FORMAT_NAME!r}{hint}')
    version = document.get("version")
    if not isinstance(version, int) or version < 1:
        raise TraceFileError(f'not a stacktap JSON trace: bad "version" {version!r}')
    if version > FORMAT_VERSION:
        raise TraceFileError(
            f"stacktap JSON version {version} is newer than this stacktap reads ({FORMAT_VERSION}):"
            " upgrade stacktap"
        )
    run = _section("run", lambda: _run_from_dict(_mapping(document.get("run"), "run")))
    catalog = [
        _section(f"catalog entry {number}", lambda item=item: _catalog_from_dict(_mapping(item, "entry")))
        for number, item in enumerate(_sequence(document.get("catalog", []), "catalog"), 1)
    ]
    calls = [
        _section(f"call {number}", lambda item=item: _call_from_dict(_mapping(item, "call")))
        for number, item in enumerate(_sequence(document.get("calls"), "calls"), 1)
    ]
    return ImportedTrace(run=run, calls=calls, catalog=catalog)


def _looks_like_har(document: Any) -> bool:
    return isinstance(document, dict) and isinstance(document.get("log"), dict)


def _section(where: str, build: Any) -> Any:
    """Run ``build``; turn a malformed part into a TraceFileError naming where it is."""
    try:
        return build()
    except TraceFileError as exc:
        raise TraceFileError(f"bad stacktap JSON trace: {where}: {exc}") from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        raise TraceFileError(f"bad stacktap JSON trace: {where}: {detail}") from None


def _mapping(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TraceFileError(f"{what} is not an object")
    return value


def _sequence(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise TraceFileError(f'"{what}" is not a list')
    return value


def _text(data: dict[str, Any], key: str) -> str:
    value = data[key]
    if not isinstance(value, str) or not value:
        raise TraceFileError(f"{key} must be a non-empty string")
    return value


def _number(data: dict[str, Any], key: str) -> float:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TraceFileError(f"{key} must be a number")
    return value


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """The keys of ``data`` that are fields of dataclass ``cls`` (unknown keys are ignored)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {key: value for key, value in data.items() if key in names}


def _run_from_dict(data: dict[str, Any]) -> Run:
    fields = _known(Run, data)
    _text(fields, "id")
    _number(fields, "started")
    fields["argv"] = list(fields.get("argv") or [])
    return Run(**fields)


def _catalog_from_dict(data: dict[str, Any]) -> CatalogEntry:
    fields = _known(CatalogEntry, data)
    _text(fields, "service_type")
    _text(fields, "url")
    return CatalogEntry(**fields)


def _headers(value: Any) -> list[tuple[str, str]]:
    out = []
    for pair in value or []:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise TraceFileError("a header is not a [name, value] pair")
        out.append((str(pair[0]), str(pair[1])))
    return out


def _call_from_dict(data: dict[str, Any]) -> Call:
    fields = _known(Call, data)
    for name in _DERIVED_CALL_FIELDS:
        fields.pop(name, None)
    for key in ("run_id", "method", "url", "trace_id", "span_id"):
        _text(fields, key)
    _number(fields, "start")
    fields["peer"] = Peer(**_known(Peer, _mapping(fields.get("peer") or {}, "peer")))
    fields["request_headers"] = _headers(fields.get("request_headers"))
    fields["response_headers"] = _headers(fields.get("response_headers"))
    fields["request_body"] = Body.from_dict(_mapping(fields.get("request_body") or {}, "request_body"))
    fields["response_body"] = Body.from_dict(_mapping(fields.get("response_body") or {}, "response_body"))
    site = fields.get("call_site")
    fields["call_site"] = CallSite.from_dict(_mapping(site, "call_site")) if site else None
    fields["stack"] = [str(frame) for frame in fields.get("stack") or []]
    layers = [Layer.from_dict(_mapping(item, "layer")) for item in fields.get("layers") or []]
    for layer in layers:
        if layer.span_id != fields["span_id"]:
            raise TraceFileError(f"layer {layer.name!r} belongs to another span")
    fields["layers"] = layers
    checks = [
        PolicyCheck.from_dict(_mapping(item, "policy check")) for item in fields.get("policy_checks") or []
    ]
    for check in checks:
        if check.span_id != fields["span_id"]:
            raise TraceFileError(f"policy check {check.rule!r} belongs to another span")
    fields["policy_checks"] = checks
    return Call(**fields)
