"""``stacktap paste show``: the filter chain a request goes through, read from api-paste.ini."""

from __future__ import annotations

import json

import click

from stacktap.cli.options import emit_rows, fail
from stacktap.paste.pipeline import PasteConfig, PasteConfigError, Step

STEP_COLUMNS = ("#", "Kind", "Name", "Factory", "Detail")
ROUTE_COLUMNS = ("Path", "Chain", "App factory")


@click.group()
def paste() -> None:
    """Inspect paste.deploy configs (api-paste.ini) of OpenStack services."""


@paste.command()
@click.argument("config", metavar="CONFIG.ini")
@click.argument("path", required=False)
@click.option(
    "--app", "app", metavar="NAME", help="App/composite to start from (default: main or the API root)."
)
@click.option(
    "--auth-strategy",
    default="keystone",
    show_default=True,
    help="Pipeline choice of nova/cinder pipeline factories (keystone, noauth2...).",
)
@click.option("--flavor", default=None, help="Glance deployment flavor (keystone, keystone+caching...).")
@click.option(
    "-f", "--format", "fmt", type=click.Choice(["table", "json", "value"]), default="table", show_default=True
)
def show(
    config: str, path: str | None, app: str | None, auth_strategy: str, flavor: str | None, fmt: str
) -> None:
    """Print the chain for a request PATH: urlmap -> pipeline choice -> filters -> app.

    Without PATH, list every urlmap branch with its chain.
    """
    try:
        paste_config = PasteConfig.from_file(config)
        if path is not None:
            steps = paste_config.resolve(path, app, auth_strategy, flavor)
            _emit_steps(steps, fmt)
        else:
            routes = paste_config.routes(app, auth_strategy, flavor)
            _emit_routes(routes, fmt)
    except PasteConfigError as exc:
        fail(str(exc))


def _emit_steps(steps: list[Step], fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps([step.to_dict() for step in steps], indent=2))
        return
    rows = [(i, s.kind, s.name, s.factory or "", s.detail) for i, s in enumerate(steps, 1)]
    emit_rows(STEP_COLUMNS, rows, fmt)


def _chain(steps: list[Step]) -> str:
    return " > ".join(s.name for s in steps if s.kind in ("filter", "filter-app", "app"))


def _emit_routes(routes: list[tuple[str, list[Step]]], fmt: str) -> None:
    if fmt == "json":
        click.echo(
            json.dumps([{"path": p, "steps": [s.to_dict() for s in steps]} for p, steps in routes], indent=2)
        )
        return
    rows = [(p, _chain(steps), steps[-1].factory or "" if steps else "") for p, steps in routes]
    emit_rows(ROUTE_COLUMNS, rows, fmt)
