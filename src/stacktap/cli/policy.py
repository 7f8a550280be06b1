"""``stacktap policy``: which oslo.policy rules runs needed, what was refused, and a skeleton
policy file for a custom role."""

from __future__ import annotations

import re
from collections.abc import Sequence

import click

from stacktap.cli.options import db_option, emit_rows, fail, format_option, one_line_errors, open_store
from stacktap.store import load_trace

#: A role name as keystone takes it, and as it can sit in a check string unquoted.
_ROLE_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,255}$")


@click.command("policy")
@click.argument("runs", nargs=-1, metavar="[RUN]...")
@format_option
@click.option("--denied", is_flag=True, help="Only the rules refused (and the calls refused).")
@click.option(
    "--as-policy-file",
    "as_policy_file",
    is_flag=True,
    help="Print a YAML policy skeleton granting --role every rule the runs' requests checked.",
)
@click.option("--role", metavar="NAME", default=None, help="The role the skeleton grants the rules to.")
@db_option
@one_line_errors
def policy(
    runs: Sequence[str], fmt: str, denied: bool, as_policy_file: bool, role: str | None, db: str | None
) -> None:
    """The oslo.policy rules RUNS (id, prefix or 'last'; default: last) needed, per service.

    Each rule with its results (allowed / denied / raised), who asked (the command, or a
    service for its own calls) and the calls, as 'stacktap show' numbers them, that checked
    it. Needs services traced with stacktap (the dev cloud's --trace-servers).
    """
    from stacktap.render.policy import COLUMNS, EXTRA_COLUMNS, policy_file, policy_rows, rule_uses

    if as_policy_file and not role:
        fail("--as-policy-file needs --role NAME (the role to grant the rules to)", 2)
    if as_policy_file and denied:
        fail("--denied does not go with --as-policy-file (the skeleton grants every rule checked)", 2)
    if role is not None and not as_policy_file:
        fail("--role goes with --as-policy-file", 2)
    if role is not None and not _ROLE_NAME.match(role):
        fail(f"bad role name {role!r}: letters, digits, '_', '-' and '.' only", 2)
    with open_store(db) as store:
        traces = [load_trace(store, ref) for ref in (runs or ("last",))]
    if as_policy_file:
        click.echo(policy_file(traces, role or ""), nl=False)
        return
    uses = rule_uses(traces)
    if not uses:
        click.echo(
            "stacktap: no policy checks recorded in "
            + ", ".join(t.run.id for t in traces)
            + " (were the services traced? stacktap devcloud up --trace-servers)",
            err=True,
        )
    extra = fmt != "table"
    rows = policy_rows(uses, denied, extra=extra, structured=fmt in ("json", "yaml"))
    emit_rows(COLUMNS + (EXTRA_COLUMNS if extra else []), rows, fmt)
