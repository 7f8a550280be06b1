"""``stacktap devcloud up/status/down/env/ide/missing``: a local OpenStack on 127.0.0.1 (keystone, glance,
nova-api; with compute also placement, neutron, RabbitMQ, MariaDB, nova-conductor, -scheduler, -compute).

Exit codes: ``up`` 0 when every service answers; ``status`` 0 only when every service runs and
answers (so scripts can ask "is it up?"), else 1; ``down`` 0 when it stopped services or nothing
was running (stopping is idempotent: CI calls it unconditionally), 1 when DIR holds no dev cloud;
``missing`` 0 when ``up --with compute`` has the system packages it needs, else 1.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from stacktap import settings
from stacktap.cli.options import emit_rows, fail, format_option
from stacktap.devcloud import clouds, compute, debug, launch_json, lifecycle
from stacktap.devcloud import ide as ide_facts
from stacktap.devcloud.nova import COMPUTE_NOTE, LIMITATION
from stacktap.errors import DevcloudError

F = TypeVar("F", bound=Callable[..., Any])

dir_option = click.option(
    "--dir",
    "directory",
    envvar=settings.DEVCLOUD_DIR,
    default=None,
    metavar="DIR",
    help="The dev cloud's directory (default: $STACKTAP_DEVCLOUD_DIR or <user data dir>/stacktap/devcloud).",
)


def _say(message: str) -> None:
    click.echo(f"stacktap devcloud: {message}", err=True)


def _devcloud_errors(func: F) -> F:
    """DevcloudError and OSError become the one-line ``stacktap: ...`` error, exit 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DevcloudError as exc:
            fail(str(exc))
        except OSError as exc:
            fail((exc.strerror or type(exc).__name__) + (f": {exc.filename}" if exc.filename else ""))
        except KeyboardInterrupt:
            fail("interrupted", code=130)
        return None

    return wrapper  # type: ignore[return-value]


@click.group()
def devcloud() -> None:
    """A local dev cloud (keystone, glance, nova-api) in its own virtualenv, for learning and tests."""


@devcloud.command()
@dir_option
@click.option(
    "--python",
    "python",
    default=None,
    metavar="PATH",
    help="Interpreter for the dev cloud's virtualenv (default: the one running stacktap).",
)
@click.option(
    "--with-nova/--without-nova",
    "with_nova",
    default=None,
    help="Install and serve nova-api (default: on; later: as the last up chose).",
)
@click.option(
    "--with",
    "with_",
    type=click.Choice(["nova", "compute"]),
    multiple=True,
    help="nova: same as --with-nova; compute: also RabbitMQ, nova-conductor, -scheduler and -compute "
    "(fake driver), so servers boot (implies nova). Repeatable.",
)
@click.option(
    "--without",
    type=click.Choice(["nova", "compute"]),
    multiple=True,
    help="Stop and forget nova (and so compute), or just the compute side. Repeatable.",
)
@click.option(
    "--trace-servers/--no-trace-servers",
    "trace_servers",
    default=None,
    help="Record what the services serve and call, into --db (default: off; later: as the last up chose).",
)
@click.option(
    "--db",
    "db",
    default=None,
    metavar="PATH",
    help="Store the traced services write to (default: stacktap's default store).",
)
@click.option("--new-ports", is_flag=True, help="Pick new free ports for the services that are not running.")
@click.option(
    "--debug",
    "debug_services",
    multiple=True,
    metavar="SERVICE[:PORT]",
    help=f"Serve SERVICE ({', '.join(debug.DEBUGGABLE)}) under debugpy on 127.0.0.1:PORT (default: a "
    "free port), ready for an IDE to attach; repeatable. A later up without it: back to normal.",
)
@_devcloud_errors
def up(
    directory: str | None,
    python: str | None,
    with_nova: bool | None,
    with_: tuple[str, ...],
    without: tuple[str, ...],
    trace_servers: bool | None,
    db: str | None,
    new_ports: bool,
    debug_services: tuple[str, ...],
) -> None:
    """Install (once), bootstrap (once) and serve the dev cloud; reuses whatever already runs."""
    both = set(with_) & set(without)
    if both:
        name = sorted(both)[0]
        fail(f"--with {name} and --without {name} contradict each other")
    if "compute" in with_ and ("nova" in without or with_nova is False):
        fail("--with compute needs nova (it runs nova's conductor, scheduler and compute)")
    with_compute: bool | None = None
    if "nova" in with_ or "compute" in with_:
        with_nova = True
    if "nova" in without:
        with_nova = False
    if "compute" in with_:
        with_compute = True
    elif "compute" in without:
        with_compute = False
    wanted = debug.parse(debug_services)
    options = lifecycle.UpOptions(python, with_nova, with_compute, trace_servers, db, new_ports, wanted)
    layout, state = lifecycle.up(directory, options, _say)
    for service, port in state.debug.items():
        _say(f"{service} runs under debugpy on 127.0.0.1:{port}: attach an IDE (stacktap devcloud ide)")
    traced = f"yes, into {state.db}" if state.trace_servers else "no"
    _say(f"up: {clouds.auth_url(state)}; traced: {traced}")
    _say(
        f'use it: eval "$(stacktap devcloud env --dir {layout.root})", or '
        f"OS_CLIENT_CONFIG_FILE={layout.clouds_yaml} openstack --os-cloud {clouds.CLOUD_NAME} ..."
    )


@devcloud.command()
@dir_option
@format_option
@_devcloud_errors
def status(directory: str | None, fmt: str) -> None:
    """Services, URLs, pids, health and logs; exit 1 unless all of them run and answer."""
    layout, state, rows = lifecycle.status(directory)
    emit_rows(
        ["Service", "URL", "PID", "Health", "Log", "Debug"],
        [[r.service, r.url, r.pid or "-", r.health, r.log, _debug_cell(r.debug_port)] for r in rows],
        fmt,
    )
    if fmt == "table":
        click.echo(f"traced: yes, into {state.db}" if state.trace_servers else "traced: no")
        click.echo(f"clouds.yaml: {layout.clouds_yaml} (cloud {clouds.CLOUD_NAME})")
        if state.with_nova:
            click.echo(f"note: {COMPUTE_NOTE if state.with_compute else LIMITATION}")
    if not all(r.pid and r.health.startswith("ok") for r in rows):
        raise SystemExit(1)


def _debug_cell(port: int | None) -> str:
    return f"debugpy 127.0.0.1:{port}" if port else "-"


@devcloud.command()
@dir_option
@_devcloud_errors
def down(directory: str | None) -> None:
    """Stop the services this dev cloud started (by pid). Nothing running is not an error."""
    stopped = lifecycle.down(directory)
    _say(f"stopped {', '.join(stopped)}" if stopped else "nothing was running")


@devcloud.command()
@dir_option
@_devcloud_errors
def env(directory: str | None) -> None:
    """Print ``export OS_...`` lines and PATH: ``eval "$(stacktap devcloud env)"``."""
    layout = lifecycle.Layout.at(directory)
    state = lifecycle.load_state(layout)
    for line in clouds.shell_exports(layout, state):
        click.echo(line)


@devcloud.command()
def missing() -> None:
    """Print the Debian packages ``up --with compute`` needs and this machine lacks, one a line
    (for ``apt-get install``); exit 1 when there is one."""
    packages = compute.missing_packages()
    for package in packages:
        click.echo(package)
    if packages:
        raise SystemExit(1)


@devcloud.command("ide", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@dir_option
@click.option(
    "--vscode",
    "vscode",
    default=None,
    metavar="PATH",
    help="The launch.json to merge into: a .json file, a .vscode dir or a workspace folder (default: .).",
)
@click.option("--print", "print_", is_flag=True, help="Print the facts for other editors; write nothing.")
@click.option("--traced", is_flag=True, help="Launch openstack under `stacktap run` (its calls recorded).")
@click.argument("args", nargs=-1, type=click.UNPROCESSED, metavar="[OPENSTACK ARGS]...")
@_devcloud_errors
def ide_command(
    directory: str | None, vscode: str | None, print_: bool, traced: bool, args: tuple[str, ...]
) -> None:
    """VS Code debug configurations for the dev cloud, merged into .vscode/launch.json: launch
    `openstack ARGS` (asked for at launch when none are given), attach to each --debug service."""
    layout = lifecycle.Layout.at(directory)
    state = lifecycle.load_state(layout)
    found = ide_facts.facts(layout, state)
    if print_:
        # NOTE: other editors run the debugpy of the interpreter (VS Code brings its own).
        debug.ensure_debugpy(layout, _say)
        for line in ide_facts.printable(found, list(args)):
            click.echo(line)
        return
    path = ide_facts.launch_json_path(vscode)
    configurations = ide_facts.configurations(found, list(args), traced)
    try:
        merged = launch_json.merge(launch_json.read(path), configurations, ide_facts.is_stale)
    except launch_json.LaunchJsonError as exc:
        fail(f"{path} is not valid JSON with comments ({exc}); left it untouched")
    launch_json.write(path, merged.text)
    click.echo(f"wrote {path}:")
    for config in configurations:
        how = "replaced" if config["name"] in merged.replaced else "added"
        where, command = config.get("connect"), config.get("args", [])
        command = [config.get("program", ""), *([command] if isinstance(command, str) else command)]
        target = f"{where['host']}:{where['port']}" if where else " ".join(command)
        click.echo(f"  {how} {config['name']!r}: {target}")
    for name in merged.removed:
        click.echo(f"  removed {name!r} (its service is no longer in debug mode)")
    click.echo(f"  kept {merged.kept} other configuration{'s' if merged.kept != 1 else ''}")
    if not found.attach:
        click.echo("  no service in debug mode: `stacktap devcloud up --debug glance` adds an attach one")


if __name__ == "__main__":
    devcloud(prog_name="stacktap devcloud")
