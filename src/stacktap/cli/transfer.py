"""``stacktap export`` and ``stacktap import``: a run out as HAR / JSON / Markdown / OTLP,
and a colleague's stacktap JSON back in."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

import click

from stacktap.agent.spans import DEFAULT_BODY_CAP
from stacktap.cli.options import db_option, fail, one_line_errors, open_store
from stacktap.store import Trace, load_trace

DEFAULT_OTLP_ENDPOINT = "http://127.0.0.1:4318/v1/traces"
_RENDERERS = {
    "har": ("stacktap.render.har", "render_har"),
    "json": ("stacktap.render.json_export", "render_json"),
    "markdown": ("stacktap.render.markdown", "render_markdown"),
}


@click.command("export")
@click.argument("run", default="last")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["har", "json", "markdown", "otlp"]),
    default="json",
    show_default=True,
    help="har: HAR 1.2; json: lossless stacktap JSON (for import); "
    "markdown: an MkDocs page; otlp: send spans to an OpenTelemetry collector.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write to this file (default: stdout).",
)
@click.option(
    "--endpoint",
    default=None,
    metavar="URL",
    help="otlp: traces URL (default: $OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, "
    f"$OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces, else {DEFAULT_OTLP_ENDPOINT}).",
)
@click.option(
    "--header",
    "headers",
    multiple=True,
    metavar="K=V",
    help="otlp: an HTTP header for the collector (repeatable).",
)
@click.option(
    "--bodies",
    is_flag=True,
    help="otlp: also send the stored (redacted) request and response bodies, as span events.",
)
@click.option(
    "--body-cap",
    type=click.IntRange(min=1),
    default=DEFAULT_BODY_CAP,
    show_default=True,
    metavar="CHARS",
    help="otlp: with --bodies, keep at most this many characters of each body.",
)
@db_option
@one_line_errors
def export(
    run: str,
    fmt: str,
    output: str | None,
    endpoint: str | None,
    headers: Sequence[str],
    bodies: bool,
    body_cap: int,
    db: str | None,
) -> None:
    """Export RUN (id, prefix or 'last') as HAR, stacktap JSON, Markdown, or OTLP spans.

    HAR, JSON and Markdown always carry the stored bodies; OTLP spans only with --bodies.
    """
    with open_store(db) as store:
        trace = load_trace(store, run)
    if fmt == "otlp":
        _send_otlp(trace, endpoint, headers, bodies=bodies, body_cap=body_cap)
        return
    module, name = _RENDERERS[fmt]
    import importlib

    text = getattr(importlib.import_module(module), name)(trace)
    if output is None:
        click.echo(text, nl=False)
        return
    _write_private(output, text)
    click.echo(f"stacktap: wrote {output} ({fmt}, {len(trace.calls)} calls)", err=True)


def _write_private(path: str, text: str) -> None:
    """Write ``path`` readable by its owner only when it is new: a trace shows what a
    user did, even with its secrets redacted."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def otlp_endpoint(explicit: str | None, environ: Mapping[str, str]) -> str:
    """The OTLP/HTTP traces URL, following the OpenTelemetry exporter variables."""
    if explicit:
        return explicit
    if environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
    if environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return environ["OTEL_EXPORTER_OTLP_ENDPOINT"].rstrip("/") + "/v1/traces"
    return DEFAULT_OTLP_ENDPOINT


def otlp_headers(options: Sequence[str], environ: Mapping[str, str]) -> dict[str, str]:
    """Headers from $OTEL_EXPORTER_OTLP_(TRACES_)HEADERS (``k=v,k2=v2``), then ``--header``."""
    from stacktap.agent.endpoint import headers_from_env

    headers = headers_from_env(environ)
    for option in options:
        key, sep, value = option.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--header needs K=V, got {option!r}")
        headers[key.strip()] = value.strip()
    return headers


def _send_otlp(
    trace: Trace,
    endpoint: str | None,
    header_options: Sequence[str],
    *,
    bodies: bool = False,
    body_cap: int = DEFAULT_BODY_CAP,
) -> None:
    try:
        from stacktap.agent.endpoint import traces_url
        from stacktap.export.otlp import OTLPExportError, send_trace
    except ImportError as exc:
        missing = getattr(exc, "name", "") or ""
        if missing.startswith(("opentelemetry", "google")):
            fail("OTLP export needs the otlp extra: pip install 'stacktap[otlp]'")
        fail(f"OTLP export is not available: {exc}")
        return
    url = traces_url(otlp_endpoint(endpoint, os.environ))
    headers = otlp_headers(header_options, os.environ)
    try:
        count = send_trace(trace, url, headers, bodies=bodies, body_cap=body_cap)
    except OTLPExportError as exc:
        # NOTE: one line for a missing SDK or a collector that is down or refuses; said here
        # rather than left to one_line_errors, so that does not depend on it being an OSError.
        fail(str(exc) or "OTLP export failed")
        return
    with_bodies = f", bodies capped at {body_cap} characters" if bodies else ""
    click.echo(f"stacktap: sent {count} spans to {url}{with_bodies}")


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@db_option
@one_line_errors
def import_(file: str, db: str | None) -> None:
    """Bring a stacktap JSON trace (from 'export --format json') into the store.

    The run keeps its id and its calls their span ids: importing the same file again
    adds nothing.
    """
    from stacktap.render.json_export import parse_trace_json
    from stacktap.store.importer import import_trace

    if file == "-":
        data = sys.stdin.buffer.read()
    else:
        try:
            with open(file, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            fail(f"cannot read {file}: {exc.strerror or exc}")
            return
    imported = parse_trace_json(data)
    with open_store(db, create=True) as store:
        result = import_trace(store, imported)
    label = imported.run.label or " ".join(imported.run.argv) or imported.run.kind
    if result.added == 0:
        click.echo(f"run {result.run_id} ({label}) already present: nothing imported")
    else:
        calls = result.added - result.statements
        what = f"{calls} calls" + (f" and {result.statements} SQL statements" if result.statements else "")
        already = f", {result.present} already present" if result.present else ""
        click.echo(f"imported run {result.run_id} ({label}): {what}{already}")
