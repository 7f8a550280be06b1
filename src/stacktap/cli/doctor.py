"""``stacktap doctor``: what is wrong with a store and the environment stacktap relies on.

One line per finding (``ok:``, ``warning:``, ``error:``); exit 1 when any is an error.
``--repair`` recovers a damaged store, writes the spill files waiting into it and fixes
permissions, then checks again. The logic lives in ``stacktap.store.health`` (the store)
and ``stacktap.launcher.checks`` (the environment).
"""

from __future__ import annotations

import os
import sys

import click

from stacktap.cli.options import db_option
from stacktap.store import default_db_path


@click.command("doctor")
@db_option
@click.option("--repair", is_flag=True, help="Recover a damaged store, write pending spill files, fix modes.")
@click.option(
    "--python",
    "pythons",
    multiple=True,
    metavar="PYTHON",
    help="A Python to check loads the bootstrap (repeatable; default: python3 on PATH).",
)
def doctor(db: str | None, repair: bool, pythons: tuple[str, ...]) -> None:
    """Check the store (integrity, schema, spill files, permissions, size) and the environment."""
    from stacktap.launcher.checks import check_collector_dir, check_python, default_pythons
    from stacktap.store.health import Finding, check_store, repair_store

    path = os.path.abspath(db or default_db_path())
    findings: list[Finding] = []
    if repair:
        findings.extend(repair_store(path))
    findings.extend(check_store(path))
    for python in pythons or tuple(default_pythons()):
        fine, message = check_python(python, path)
        findings.append(Finding("ok" if fine else "error", message))
    fine, message = check_collector_dir()
    findings.append(Finding("ok" if fine else "warning", message))
    for finding in findings:
        click.echo(finding.line())
    sys.exit(1 if any(f.wrong for f in findings) else 0)
