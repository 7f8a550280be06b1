"""``stacktap api``, ``diff`` and ``which``: understand what a command needs, what changed,
and which Python class runs it."""

from __future__ import annotations

import json
from collections.abc import Sequence

import click

from stacktap.cli.options import db_option, emit_rows, fail, format_option, one_line_errors, open_store
from stacktap.store import load_trace


@click.command("api")
@click.argument("runs", nargs=-1)
@click.option(
    "--server",
    "include_server",
    is_flag=True,
    help="Also list the server-side records (what each service was asked).",
)
@format_option
@db_option
@one_line_errors
def api(runs: Sequence[str], include_server: bool, fmt: str, db: str | None) -> None:
    """The API map of RUNS (default: last): each distinct API called, and how often.

    Answers "which APIs (and so which policies) does `server create` need?".
    """
    from stacktap.render.api_map import COLUMNS, api_map, api_rows

    with open_store(db) as store:
        traces = [load_trace(store, ref) for ref in (runs or ("last",))]
    emit_rows(COLUMNS, api_rows(api_map(traces, include_server=include_server)), fmt)


@click.command("diff")
@click.argument("run_a")
@click.argument("run_b")
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option(
    "--ratio",
    type=click.FloatRange(min=1.0),
    default=1.5,
    show_default=True,
    help="Report a duration change beyond this factor...",
)
@click.option(
    "--min-ms",
    type=click.FloatRange(min=0.0),
    default=20.0,
    show_default=True,
    help="...and beyond this many milliseconds.",
)
@click.option("--changes-only", is_flag=True, help="Hide the calls that did not change.")
@click.option("--all-calls", is_flag=True, help="Also compare the calls services made while serving.")
@db_option
@one_line_errors
def diff(
    run_a: str,
    run_b: str,
    fmt: str,
    ratio: float,
    min_ms: float,
    changes_only: bool,
    all_calls: bool,
    db: str | None,
) -> None:
    """Compare the calls of RUN_A and RUN_B: added (+), removed (-), changed (~)."""
    from stacktap.render.run_diff import SAME, diff_runs, render_diff

    with open_store(db) as store:
        a = load_trace(store, run_a)
        b = load_trace(store, run_b)
    lines = diff_runs(a, b, ratio=ratio, min_delta=min_ms / 1000.0, all_calls=all_calls)
    if fmt == "json":
        shown = [line.to_dict() for line in lines if not changes_only or line.op != SAME]
        click.echo(json.dumps({"a": a.run.id, "b": b.run.id, "calls": shown}, indent=2))
        return
    click.echo(
        render_diff(
            lines,
            _run_text(a.run.id, a.run.label),
            _run_text(b.run.id, b.run.label),
            only_changes=changes_only,
        ),
        nl=False,
    )


def _run_text(run_id: str, label: str | None) -> str:
    return f"{run_id} ({label})" if label else run_id


@click.command("which", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("words", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option(
    "--openstack",
    "openstack",
    default=None,
    metavar="PATH",
    help="The openstack program to ask (default: the one on PATH).",
)
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@one_line_errors
def which(words: Sequence[str], openstack: str | None, fmt: str) -> None:
    """Which OpenStackClient class handles a command: `stacktap which openstack server list`.

    Resolved the way cliff does, inside the openstack program's own Python (its venv and
    plugins). Options go before the command words.
    """
    from stacktap.which import WhichError, describe, resolve_command

    words, openstack = _pull_openstack_option(list(words), openstack)
    try:
        answer = resolve_command(words, openstack)
    except WhichError as exc:
        fail(str(exc))
        return
    if fmt == "json":
        click.echo(json.dumps(answer, indent=2))
    if answer.get("match"):
        if fmt == "text":
            click.echo(describe(answer))
        return
    if not answer.get("groups"):
        fail(describe(answer))
    hint = "; did you mean: {}".format(", ".join(answer["suggestions"])) if answer.get("suggestions") else ""
    fail("unknown command 'openstack {}'{}".format(" ".join(answer.get("words") or []), hint))


def _pull_openstack_option(words: list[str], openstack: str | None) -> tuple[list[str], str | None]:
    """``--openstack PATH`` given after the command words (OSC has no such option itself)."""
    out: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        if word == "--openstack" and index + 1 < len(words):
            openstack = words[index + 1]
            index += 2
            continue
        if word.startswith("--openstack="):
            openstack = word.split("=", 1)[1]
        else:
            out.append(word)
        index += 1
    return out, openstack
