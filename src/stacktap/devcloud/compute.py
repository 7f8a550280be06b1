"""``up --with compute``: nova's conductor, scheduler and compute (fake virt driver) over RabbitMQ.

What ``up`` adds once nova-api and placement serve (see :mod:`stacktap.devcloud.lifecycle`):

1. a RabbitMQ node of the dev cloud's own (``DIR/rabbitmq``, :mod:`stacktap.devcloud.rabbitmq`),
   nova's ``transport_url`` in ``nova.conf`` and in cell1's mapping (a cloud first bootstrapped
   without compute had ``fake://`` there), and a MariaDB of its own (``DIR/mariadb``) for
   neutron-server, which ``up`` serves like the other APIs (:mod:`stacktap.devcloud.neutron`);
2. the three daemons, each its own process and log (:mod:`stacktap.devcloud.daemons`), healthy
   when nova's services table says they are up;
3. the compute host mapped into cell1 (``nova-manage cell_v2 discover_hosts``) once its resource
   provider is in placement, and a small raw image, ``devcloud-image``, in glance.

NOTE: the daemons run with native threads (``concurrency_backend = threading`` in nova.conf), not
eventlet, so stacktap's hooks and nova's own threads behave as in nova-api.
"""

from __future__ import annotations

import struct
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

from stacktap.devcloud import daemons, mariadb, processes, rabbitmq, venv
from stacktap.devcloud.http import request_bytes, request_json
from stacktap.devcloud.layout import Layout
from stacktap.devcloud.manage import clean_env, run_tool
from stacktap.devcloud.services import DAEMONS, GLANCE, NOVA, PLACEMENT, DaemonSpec
from stacktap.devcloud.state import State
from stacktap.errors import DevcloudError

Say = Callable[[str], None]
#: The env a traced daemon runs with, given its process name and the base env (None: untraced).
TraceEnv = Callable[[str, Mapping[str, str]], dict[str, str]] | None

#: nova's ``[DEFAULT] host``: the compute host, its hypervisor and its resource provider's name.
HOST_NAME = "stacktap-devcloud"
IMAGE_NAME = "devcloud-image"
#: The module of ``nova.virt`` nova-compute imports :mod:`stacktap.devcloud.nova_driver` as (a
#: copy in the dev cloud's venv), and nova's ``compute_driver`` (relative to ``nova.virt``).
DRIVER_MODULE = "stacktap_devcloud"
DRIVER = DRIVER_MODULE + ".ImageFetchingFakeDriver"
#: How long the daemons may take to report up (nova-compute imports a lot, then registers).
UP_TIMEOUT = 180.0


def broker_dir(layout: Layout) -> Path:
    return layout.root / "rabbitmq"


def database_dir(layout: Layout) -> Path:
    return layout.root / "mariadb"


#: The databases on the dev cloud's MariaDB: keystone's, placement's, neutron's, and nova's API,
#: cell1 and cell0 ones (glance alone stays on SQLite: one writer at a time is its usual load).
DATABASES = ("keystone", "placement", "neutron", "nova_api", "nova", "nova_cell0")


def database_url(layout: Layout, state: State, database: str) -> str:
    """The SQLAlchemy URL of one of :data:`DATABASES` (whether or not the server runs)."""
    return mariadb.database_url(database_dir(layout), database, state.password)


def neutron_database_url(layout: Layout, state: State) -> str:
    return database_url(layout, state, "neutron")


def missing_packages() -> list[str]:
    """The Debian packages ``up --with compute`` needs that are not installed here (by what
    :mod:`~stacktap.devcloud.rabbitmq` and :mod:`~stacktap.devcloud.mariadb` run)."""
    return [module.PACKAGE for module in (rabbitmq, mariadb) if not module.installed()]


def start_database(layout: Layout, state: State, say: Say) -> None:
    """Start (or reuse) the dev cloud's MariaDB, with the databases and their user."""
    was = mariadb.running_pid(database_dir(layout))
    url = mariadb.start_server(database_dir(layout), DATABASES, state.password)[0]
    port = url.split("@", 1)[1].split("/", 1)[0]
    say(f"mariadb {'already serving' if was else 'serving'} on {port}")


def transport_url(layout: Layout) -> str:
    """The broker's ``rabbit://`` URL (its ports are kept in the broker dir from the first pick)."""
    return rabbitmq.broker_url(broker_dir(layout))


def start_broker(layout: Layout, say: Say) -> str:
    """Start (or reuse) the dev cloud's RabbitMQ node; its URL."""
    directory = broker_dir(layout)
    directory.mkdir(mode=0o700, exist_ok=True)
    was = rabbitmq.running_pid(directory)
    url = rabbitmq.start_broker(directory)
    port = url.rsplit(":", 1)[1].strip("/")
    say(f"rabbitmq {'already serving' if was else 'serving'} on 127.0.0.1:{port}")
    return url


def map_cell1(layout: Layout, url: str) -> None:
    """Point cell1's mapping at ``url`` when it still names another transport (``fake://``)."""
    conf = ["--config-file", str(layout.etc(NOVA.name) / "nova.conf")]
    listing = _nova_manage_output(layout, [*conf, "cell_v2", "list_cells", "--verbose"])
    for row in listing.splitlines():
        cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0] == "cell1" and cells[2] != url:
            run_tool(
                layout,
                [
                    "nova-manage",
                    *conf,
                    "cell_v2",
                    "update_cell",
                    "--cell_uuid",
                    cells[1],
                    "--transport-url",
                    url,
                ],
            )


def _nova_manage_output(layout: Layout, args: list[str]) -> str:
    try:
        done = subprocess.run(
            [str(layout.bin / "nova-manage"), *args],
            capture_output=True,
            text=True,
            env=clean_env(),
            stdin=subprocess.DEVNULL,
            timeout=120,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise DevcloudError(f"cannot run nova-manage: {exc}") from exc
    if done.returncode != 0:
        raise DevcloudError(
            f"nova-manage {' '.join(args[2:4])} failed (exit {done.returncode}): {done.stderr[-200:]}"
        )
    return done.stdout


@dataclass(frozen=True)
class _DaemonPlan:
    spec: DaemonSpec
    argv: list[str]
    env: dict[str, str]
    fingerprint: str


def install_driver(layout: Layout) -> Path:
    """Copy the dev cloud's virt driver (:mod:`stacktap.devcloud.nova_driver`) into the dev
    cloud's venv as ``nova.virt.``:data:`DRIVER_MODULE`, unless it is there already; its path.

    NOTE: nova imports ``compute_driver`` only from its own ``nova.virt`` package, so the copy
    goes into nova's package directory (of the venv the dev cloud made and owns).
    """
    text = resources.files("stacktap.devcloud").joinpath("nova_driver.py").read_text(encoding="utf-8")
    path = venv.site_packages(layout) / "nova" / "virt" / f"{DRIVER_MODULE}.py"
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path


def _plan(layout: Layout, spec: DaemonSpec, driver: Path, trace_env: TraceEnv) -> _DaemonPlan:
    files = [layout.etc(NOVA.name) / "nova.conf"]
    argv = daemons.command(layout, spec, files)
    base = clean_env()
    env = trace_env(spec.process, base) if trace_env else base
    # NOTE: the driver is in the fingerprint: a changed driver restarts the daemons.
    return _DaemonPlan(spec, argv, env, processes.fingerprint(argv, env, [*files, driver]))


@dataclass(frozen=True)
class _Started:
    """A daemon this ``up`` launched: its process and when (UTC, as nova's heartbeats are)."""

    proc: subprocess.Popen[bytes]
    at: datetime


def serve(layout: Layout, state: State, token: str, trace_env: TraceEnv, say: Say) -> None:
    """Start the daemons that do not run as planned, wait until nova sees them up, map the host."""
    started: dict[str, _Started] = {}
    driver = install_driver(layout)
    try:
        for plan in (_plan(layout, spec, driver, trace_env) for spec in DAEMONS):
            current = daemons.running(layout, plan.spec)
            if current is not None and daemons.started_fingerprint(layout, plan.spec) == plan.fingerprint:
                say(f"{plan.spec.process} already running (pid {current.pid})")
                continue
            if current is not None:
                say(f"restarting {plan.spec.process} (its configuration changed)")
                daemons.stop(layout, plan.spec)
            at = datetime.now(timezone.utc)
            proc = daemons.start(layout, plan.spec, plan.argv, plan.env, plan.fingerprint)
            started[plan.spec.name] = _Started(proc, at)
            say(f"running {plan.spec.process} (log: {layout.log(plan.spec.name)})")
        compute_url = NOVA.endpoint_url(state.ports[NOVA.name])
        _wait_services_up(layout, compute_url, token, started)
        _discover_host(layout, PLACEMENT.root_url(state.ports[PLACEMENT.name]), token)
    except BaseException:
        for spec in DAEMONS:
            if spec.name in started:
                daemons.stop(layout, spec)
        raise


def stop_all(layout: Layout) -> list[str]:
    """Stop the daemons (compute first), the broker and the database; the names of those that ran."""
    stopped = [spec.name for spec in reversed(DAEMONS) if daemons.stop(layout, spec)]
    if rabbitmq.stop_broker(broker_dir(layout)):
        stopped.append("rabbitmq")
    if mariadb.running_pid(database_dir(layout)) is not None and mariadb.stop_server(database_dir(layout)):
        stopped.append("mariadb")
    return stopped


def _services(compute_url: str, token: str) -> list[dict[str, object]]:
    """nova's os-services rows for this host (empty when nova does not answer with a list)."""
    listed = request_json("GET", compute_url + "/os-services", headers={"X-Auth-Token": token}, timeout=10)
    if listed.status != 200 or not isinstance(listed.body, dict):
        return []
    rows = listed.body.get("services", [])
    return [row for row in rows if isinstance(row, dict) and row.get("host") == HOST_NAME]


def _state(row: Mapping[str, object]) -> str:
    return "disabled" if row.get("status") == "disabled" else str(row.get("state"))


def service_states(compute_url: str, token: str) -> dict[str, str]:
    """nova's view of its services on this host: binary -> ``up``/``down``/``disabled``."""
    return {str(row.get("binary", "")): _state(row) for row in _services(compute_url, token)}


def heartbeat(row: Mapping[str, object]) -> datetime | None:
    """A service row's last heartbeat (``updated_at``, which nova gives in UTC without a zone)."""
    value = row.get("updated_at")
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def not_up_yet(rows: Iterable[Mapping[str, object]], started_at: Mapping[str, datetime]) -> list[str]:
    """The binaries of :data:`DAEMONS` nova does not show up, in ``DAEMONS`` order.

    ``started_at`` maps a binary this ``up`` launched to its launch time: such a daemon counts
    only once its row has a heartbeat newer than that. NOTE: nova says ``up`` while the last
    heartbeat is fresher than ``service_down_time`` (60 s), so right after ``up --without
    compute`` the stopped daemon's old row still says ``up``; taking it would let ``up`` return
    before the new nova-compute listens, and the first boot fails with NoValidHost. A daemon
    that was already running and reused has no entry and is taken at nova's word.
    """
    latest = {str(row.get("binary", "")): row for row in rows}
    waiting = []
    for spec in DAEMONS:
        found = latest.get(spec.binary)
        if found is None or _state(found) != "up":
            waiting.append(spec.binary)
            continue
        since = started_at.get(spec.binary)
        beat = heartbeat(found)
        if since is not None and (beat is None or beat <= since):
            waiting.append(spec.binary)
    return waiting


def _wait_services_up(layout: Layout, compute_url: str, token: str, started: Mapping[str, _Started]) -> None:
    deadline = time.monotonic() + UP_TIMEOUT
    started_at = {spec.binary: started[spec.name].at for spec in DAEMONS if spec.name in started}
    while True:
        for spec in DAEMONS:
            launched = started.get(spec.name)
            code = launched.proc.poll() if launched is not None else None
            if code is not None:
                raise DevcloudError(
                    f"{spec.process} exited (code {code}) while starting: {daemons.log_tail(layout, spec)}; "
                    f"read {layout.log(spec.name)}"
                )
        rows = _services(compute_url, token)
        waiting = not_up_yet(rows, started_at)
        if not waiting:
            return
        if time.monotonic() > deadline:
            binary = waiting[0]
            spec = next(s for s in DAEMONS if s.binary == binary)
            state = next((_state(row) for row in rows if row.get("binary") == binary), "nothing")
            stale = " with no heartbeat since it started" if state == "up" else ""
            raise DevcloudError(
                f"{spec.process} did not report up within {UP_TIMEOUT:.0f}s (nova says {state}{stale}); "
                f"read {layout.log(spec.name)}"
            )
        time.sleep(1.0)


def _discover_host(layout: Layout, placement_url: str, token: str) -> None:
    """Map the compute host into cell1 once nova-compute has put its resource provider in placement."""
    headers = {"X-Auth-Token": token, "OpenStack-API-Version": "placement 1.14"}
    deadline = time.monotonic() + UP_TIMEOUT
    while True:
        found = request_json("GET", f"{placement_url}/resource_providers?name={HOST_NAME}", headers=headers)
        if found.status == 200 and found.body.get("resource_providers"):
            break
        if time.monotonic() > deadline:
            raise DevcloudError(
                f"nova-compute registered no resource provider in placement within {UP_TIMEOUT:.0f}s; "
                f"read {layout.log('compute')}"
            )
        time.sleep(1.0)
    conf = ["--config-file", str(layout.etc(NOVA.name) / "nova.conf")]
    run_tool(layout, ["nova-manage", *conf, "cell_v2", "discover_hosts"])


def raw_image(size: int = 2 << 20) -> bytes:
    """A raw disk that looks bootable: an MBR with one active Linux partition, then zeros.

    NOTE: the dev cloud's driver downloads it and boots nothing. glance inspects every upload (oslo.utils'
    format_inspector): a boot signature without a partition fails its MBR safety check, so the
    partition entry is needed, and it must fit the disk (start at sector 2048, as fdisk does).
    """
    sectors = size // 512
    sector = bytearray(512)
    # status (active), CHS start, type 0x83 (Linux), CHS end, first LBA, number of sectors
    sector[446:462] = struct.pack(
        "<B3sB3sII", 0x80, b"\x00\x02\x00", 0x83, b"\xff\xff\xff", 2048, sectors - 2048
    )
    sector[510:512] = b"\x55\xaa"
    return bytes(sector) + bytes(size - len(sector))


def ensure_image(glance_port: int, token: str, name: str = IMAGE_NAME) -> str:
    """The id of image ``name`` (public, raw, bare; default ``devcloud-image``), uploaded unless
    glance has an active one by that name; a half-made one (``queued`` after a failed upload)
    is deleted first."""
    url = GLANCE.root_url(glance_port) + "/v2/images"
    headers = {"X-Auth-Token": token}
    listed = request_json("GET", f"{url}?name={name}", headers=headers)
    if listed.status != 200:
        raise DevcloudError(f"glance refused to list images: HTTP {listed.status}")
    images = listed.body.get("images", [])
    for image in images:
        if image.get("status") == "active":
            return str(image["id"])
    for image in images:
        request_json("DELETE", f"{url}/{image['id']}", headers=headers)
    meta = {"name": name, "disk_format": "raw", "container_format": "bare", "visibility": "public"}
    created = request_json("POST", url, meta, headers)
    if created.status >= 300:
        raise DevcloudError(f"glance refused to create {name}: HTTP {created.status}")
    file_url = f"{url}/{created.body['id']}/file"
    uploaded = request_bytes("PUT", file_url, raw_image(), headers=headers, timeout=120)
    if uploaded.status >= 300:
        raise DevcloudError(f"glance refused the upload of {name}: HTTP {uploaded.status} {uploaded.body}")
    return str(created.body["id"])
