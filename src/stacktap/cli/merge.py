"""``stacktap merge``: join stores copied from several hosts into one."""

from __future__ import annotations

import click

from stacktap.cli.options import one_line_errors
from stacktap.store.merge import merge_stores


@click.command("merge")
@click.argument("inputs", nargs=-1, required=True, metavar="STORE...")
@click.option(
    "-o",
    "--output",
    required=True,
    metavar="PATH",
    help="Store to merge into: a new file, or one of the inputs.",
)
@one_line_errors
def merge(inputs: tuple[str, ...], output: str) -> None:
    """Merge stores from several hosts (client, controllers) into one.

    Runs, calls, layers and catalogs are copied; traces that crossed hosts become whole
    trees again (same trace id, parent links across stores). Merging twice adds nothing.
    """
    result = merge_stores(output, list(inputs))
    added = result.added
    click.echo(
        f"merged {len(result.inputs)} store(s) into {output}: +{added['runs']} runs,"
        f" +{added['calls']} calls, +{added['layers']} layers, +{added['catalog']} catalog endpoints"
    )
