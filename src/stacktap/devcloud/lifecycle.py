"""``up``, ``down`` and ``status``: the dev cloud's whole life, built from the other modules.

``up`` is idempotent: the venv, the databases and the bootstrap are done once (remembered in
the state file), ports are picked once, and a service already serving with the same command,
environment and config files (its fingerprint) is left alone. Anything else it (re)starts; if a
start fails, it stops what this ``up`` started and the error names the log to read.

Choices the state file remembers, so that a bare ``up`` keeps a cloud as it was: ``--python``,
``--with-nova/--without-nova``, ``--trace-servers/--no-trace-servers`` and ``--db``. Changing
one restarts just the services it affects. ``--debug`` is not kept: each ``up`` says which
services run under the debugger (none for a bare ``up``), see ``debug``.
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from stacktap.devcloud import (
    clouds,
    compute,
    config,
    daemons,
    debug,
    glance,
    keystone,
    mariadb,
    neutron,
    nova,
    placement,
    ports,
    processes,
    rabbitmq,
    venv,
)
from stacktap.devcloud import state as state_file
from stacktap.devcloud import tracing as tracing_module
from stacktap.devcloud.http import health
from stacktap.devcloud.keystone_api import KeystoneAdmin
from stacktap.devcloud.layout import Layout
from stacktap.devcloud.manage import clean_env
from stacktap.devcloud.services import (
    ALL,
    DAEMONS,
    GLANCE,
    HOST,
    KEYSTONE,
    NEUTRON,
    NOVA,
    PLACEMENT,
    ServiceSpec,
    selected,
)
from stacktap.devcloud.state import State
from stacktap.errors import DevcloudError

Say = Callable[[str], None]

#: How long one service may take to answer its first request (nova imports a lot).
START_TIMEOUT = 120.0


@dataclass
class UpOptions:
    """``up``'s flags; None means "as the state file says" (or the default on a first ``up``)."""

    python: str | None = None
    with_nova: bool | None = None
    #: conductor, scheduler and compute over RabbitMQ (implies nova)
    with_compute: bool | None = None
    trace_servers: bool | None = None
    db: str | None = None
    new_ports: bool = False
    #: ``--debug``: service -> debugpy port (None: a free one); empty: every service in normal mode
    debug: dict[str, int | None] = field(default_factory=dict)


@dataclass(frozen=True)
class ServiceStatus:
    service: str
    url: str
    pid: int | None
    health: str
    log: str
    #: the debugpy port when the service runs in debug mode
    debug_port: int | None = None


@contextmanager
def _locked(layout: Layout) -> Iterator[None]:
    """One ``up``/``down`` at a time per dir (parallel test sessions share one cloud)."""
    with open(layout.lock_file, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def load_state(layout: Layout) -> State:
    """The state of the dev cloud in ``layout``; a one-line error when there is none."""
    current = state_file.load(layout.state_file)
    if current is None:
        raise DevcloudError(f"no dev cloud in {layout.root} (run `stacktap devcloud up --dir {layout.root}`)")
    return current


def _apply_options(current: State | None, options: UpOptions) -> State:
    result = current or State(python=sys.executable)
    if options.python:
        result.python = options.python
    if options.with_nova is not None:
        result.with_nova = options.with_nova
    if options.with_compute is not None:
        result.with_compute = options.with_compute
    if options.with_compute:
        result.with_nova = True
    elif options.with_nova is False:
        # NOTE: the compute side cannot run without nova-api and placement.
        result.with_compute = False
    if options.trace_servers is not None:
        result.trace_servers = options.trace_servers
    if options.db:
        result.db = os.path.abspath(os.path.expanduser(options.db))
    if result.trace_servers and not result.db:
        from stacktap.store import default_db_path

        result.db = os.path.abspath(default_db_path())
    return result


def _assign_ports(layout: Layout, current: State, new_ports: bool) -> None:
    if new_ports:
        for spec in ALL:
            if processes.running(layout, spec.name) is None:
                current.ports.pop(spec.name, None)
    for spec in ALL:
        if spec.name not in current.ports:
            current.ports[spec.name] = ports.pick_free_port(avoid=set(current.ports.values()))


@dataclass(frozen=True)
class _Plan:
    """How one service is to run: what its fingerprint is made of."""

    spec: ServiceSpec
    port: int
    app: str
    env: dict[str, str]
    fingerprint: str
    #: what debug mode adds to the gunicorn config ("" in normal mode)
    extra: str = ""


def _plan(layout: Layout, current: State, spec: ServiceSpec, tracer: tracing_module.Tracing | None) -> _Plan:
    port = current.ports[spec.name]
    base = clean_env({spec.config_dir_env: str(layout.etc(spec.name))})
    env = tracer.env(spec, base) if tracer else base
    app = tracer.app(spec) if tracer else spec.wsgi_app
    extra = debug.gunicorn_settings(current.debug.get(spec.name))
    argv = [*processes.command(layout, spec), processes.gunicorn_conf(layout, spec, port, app, extra)]
    return _Plan(
        spec, port, app, env, processes.fingerprint(argv, env, config.config_files(layout, spec.name)), extra
    )


def up(directory: str | None, options: UpOptions, say: Say) -> tuple[Layout, State]:
    """Bring the dev cloud in ``directory`` up (or make sure it is); returns its layout and state."""
    layout = Layout.at(directory)
    layout.make_dirs()
    with _locked(layout):
        current = _apply_options(state_file.load(layout.state_file), options)
        tracer = tracing_module.load(current.db or "") if current.trace_servers else None
        _assign_ports(layout, current, options.new_ports)
        current.debug = debug.resolve(layout, current, options.debug)
        state_file.save(layout.state_file, current)

        venv.ensure(layout, current.python, current.with_nova, say, with_compute=current.with_compute)
        if current.debug:
            debug.ensure_debugpy(layout, say)
        specs = selected(current.with_nova, current.with_compute)
        if current.with_compute:
            compute.start_broker(layout, say)
            compute.start_database(layout, current, say)
        config.write_all(layout, current, [s.name for s in specs], tracer.instrument if tracer else None)
        modules = (keystone, glance, nova, placement) if current.with_nova else (keystone, glance)
        for module in (*modules, neutron) if current.with_compute else modules:
            module.bootstrap(layout, current, say)
            state_file.save(layout.state_file, current)

        _serve(layout, current, [_plan(layout, current, spec, tracer) for spec in specs], say)
        if current.with_compute:
            _serve_compute(layout, current, tracer, say)
        else:
            for name in compute.stop_all(layout):
                say(f"stopped {name} (no --with compute)")
        clouds.write_clouds_yaml(layout, current)
        state_file.save(layout.state_file, current)
    return layout, current


def _serve_compute(layout: Layout, current: State, tracer: tracing_module.Tracing | None, say: Say) -> None:
    """neutron's stand-in agent, conductor, scheduler and compute up and mapped, an image to boot."""
    compute.map_cell1(layout, compute.transport_url(layout))
    token = KeystoneAdmin(clouds.auth_url(current), current.password).token
    neutron.ensure_agent(layout, NEUTRON.root_url(current.ports[NEUTRON.name]), token, say)
    compute.serve(layout, current, token, tracer.process_env if tracer else None, say)
    compute.ensure_image(current.ports[GLANCE.name], token)


def _serve(layout: Layout, current: State, plans: list[_Plan], say: Say) -> None:
    started: list[tuple[_Plan, object]] = []
    try:
        for plan in plans:
            proc = _start_unless_serving(layout, plan, say)
            if proc is not None:
                started.append((plan, proc))
        for plan, proc in started:
            processes.wait_healthy(layout, plan.spec, plan.port, proc, START_TIMEOUT)  # type: ignore[arg-type]
        if not current.with_nova:
            for spec in (NOVA, PLACEMENT):
                if processes.stop(layout, spec.name):
                    say(f"stopped {spec.name} (--without-nova)")
        if not current.with_compute and processes.stop(layout, NEUTRON.name):
            say(f"stopped {NEUTRON.name} (no --with compute)")
        _register_catalog(current)
    except BaseException as exc:
        names = [plan.spec.name for plan, _ in started]
        for name in names:
            processes.stop(layout, name)
        if isinstance(exc, DevcloudError) and names:
            raise DevcloudError(f"{exc} (stopped {', '.join(names)}, started by this up)") from exc
        raise


def _start_unless_serving(layout: Layout, plan: _Plan, say: Say) -> object | None:
    spec, url = plan.spec, plan.spec.root_url(plan.port)
    current = processes.running(layout, spec.name)
    if current is not None:
        same = processes.started_fingerprint(layout, spec.name) == plan.fingerprint
        if same and health(url).startswith("ok"):
            say(f"{spec.name} already serving on {HOST}:{plan.port} (pid {current.pid})")
            return None
        say(f"restarting {spec.name} ({'not answering' if same else 'its configuration changed'})")
        processes.stop(layout, spec.name)
    if not ports.is_free(plan.port):
        raise DevcloudError(
            f"port {HOST}:{plan.port} kept for {spec.name} is taken by another process; stop it, or pick "
            f"new ports with `stacktap devcloud up --dir {layout.root} --new-ports`"
        )
    proc = processes.start(layout, spec, plan.port, plan.app, plan.env, plan.fingerprint, plan.extra)
    say(f"serving {spec.name} on {HOST}:{plan.port} (log: {layout.log(spec.name)})")
    return proc


def _register_catalog(current: State) -> None:
    """Make the catalog match the ports: identity (from bootstrap), image and compute endpoints."""
    admin = KeystoneAdmin(clouds.auth_url(current), current.password)
    identity = admin.ensure_service(KEYSTONE.catalog_type, KEYSTONE.name)
    admin.ensure_endpoints(identity, clouds.auth_url(current), ("public", "internal", "admin"))
    image = admin.ensure_service(GLANCE.catalog_type, GLANCE.name)
    admin.ensure_endpoints(image, GLANCE.endpoint_url(current.ports[GLANCE.name]), ("public", "internal"))
    if current.with_nova:
        compute_url = NOVA.endpoint_url(current.ports[NOVA.name])
        compute = admin.ensure_service(NOVA.catalog_type, NOVA.name)
        admin.ensure_endpoints(compute, compute_url, ("public", "internal"))
        nova.ensure_flavors(compute_url, admin.token)
        placement_service = admin.ensure_service(PLACEMENT.catalog_type, PLACEMENT.name)
        admin.ensure_endpoints(
            placement_service, PLACEMENT.endpoint_url(current.ports[PLACEMENT.name]), ("public", "internal")
        )
    else:
        admin.remove_service(NOVA.catalog_type, NOVA.name)
        admin.remove_service(PLACEMENT.catalog_type, PLACEMENT.name)
    if current.with_compute:
        admin.grant_project_role("service")
        network = admin.ensure_service(NEUTRON.catalog_type, NEUTRON.name)
        admin.ensure_endpoints(
            network, NEUTRON.endpoint_url(current.ports[NEUTRON.name]), ("public", "internal")
        )
    else:
        admin.remove_service(NEUTRON.catalog_type, NEUTRON.name)


def down(directory: str | None) -> list[str]:
    """Stop every service this dev cloud started (by pid); the names of those that were running."""
    layout = Layout.at(directory)
    load_state(layout)
    with _locked(layout):
        # NOTE: the daemons first (they talk to the APIs), the broker last (everyone talks to it).
        stopped = [spec.name for spec in reversed(DAEMONS) if daemons.stop(layout, spec)]
        stopped += [spec.name for spec in reversed(ALL) if processes.stop(layout, spec.name)]
        return stopped + compute.stop_all(layout)


def status(directory: str | None) -> tuple[Layout, State, list[ServiceStatus]]:
    """Each service of the cloud: URL, pid (None when not running), health, log file."""
    layout = Layout.at(directory)
    current = load_state(layout)
    rows = []
    for spec in selected(current.with_nova, current.with_compute):
        port = current.ports.get(spec.name, 0)
        proc = processes.running(layout, spec.name)
        url = spec.root_url(port)
        rows.append(
            ServiceStatus(
                spec.name,
                url,
                proc.pid if proc else None,
                health(url) if proc else "stopped",
                str(layout.log(spec.name)),
                debug.serving_port(layout, spec.name) if proc else None,
            )
        )
    if current.with_compute:
        rows += _compute_rows(layout, current)
    return layout, current, rows


def _compute_rows(layout: Layout, current: State) -> list[ServiceStatus]:
    """The broker and the daemons; a daemon is healthy when nova's services table says it is up."""
    broker = compute.broker_dir(layout)
    url = compute.transport_url(layout)
    pid = rabbitmq.running_pid(broker)
    port = int(url.rsplit(":", 1)[1].strip("/"))
    amqp = "ok (amqp)" if pid and rabbitmq.accepts_amqp(port) else ("down (no amqp)" if pid else "stopped")
    rows = [ServiceStatus("rabbitmq", url.replace("guest:guest@", ""), pid, amqp, str(broker / "log"))]
    database = compute.database_dir(layout)
    db_pid = mariadb.running_pid(database)
    db_url = compute.neutron_database_url(layout, current).split("@", 1)[1].split("?")[0]
    db_health = ("ok (answers)" if mariadb.answers(database) else "down (no answer)") if db_pid else "stopped"
    rows.append(ServiceStatus("mariadb", f"mysql://{db_url}", db_pid, db_health, str(database / "log")))
    try:
        token = KeystoneAdmin(clouds.auth_url(current), current.password).token
        states = compute.service_states(NOVA.endpoint_url(current.ports[NOVA.name]), token)
    except (OSError, DevcloudError) as exc:
        states, why = {}, f"unknown (nova: {getattr(exc, 'reason', exc)})"
    else:
        why = ""
    for spec in DAEMONS:
        proc = daemons.running(layout, spec)
        if proc is None:
            health_text = "stopped"
        else:
            health_text = why or (
                f"ok ({states[spec.binary]})"
                if states.get(spec.binary) == "up"
                else f"down ({states.get(spec.binary, 'not registered')})"
            )
        rows.append(
            ServiceStatus(
                spec.name,
                f"rpc:{spec.binary}",
                proc.pid if proc else None,
                health_text,
                str(layout.log(spec.name)),
            )
        )
    return rows
