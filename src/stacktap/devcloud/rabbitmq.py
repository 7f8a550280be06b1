"""A RabbitMQ broker of its own in a directory: Debian's ``rabbitmq-server``, run as the caller.

Public API: :func:`start_broker` (start, or reuse, a broker in a directory; returns its
``rabbit://`` URL), :func:`stop_broker`, :func:`broker_url`, :func:`running_pid`. The dev cloud
uses it for nova's ``transport_url``; tests use it through ``tests/fixtures/rabbitmq.py``.

Everything the node writes is under the directory: its node name, Mnesia data, logs, plugin file,
config file and Erlang cookie (``HOME`` is the directory, so ``~/.erlang.cookie`` lands there),
and it listens on free 127.0.0.1 ports for AMQP, Erlang distribution and its own epmd.

NOTE: ``/usr/sbin/rabbitmq-server`` switches to the ``rabbitmq`` user (then cannot write a dir it
does not own: ``cannot_log_to_file ... eacces``); ``/usr/lib/rabbitmq/bin/rabbitmq-server`` runs as
the caller, which is what a throwaway node needs. No system service is touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from stacktap.devcloud.ports import pick_free_port
from stacktap.devcloud.processes import is_alive, stop_process_group
from stacktap.errors import DevcloudError

HOST = "127.0.0.1"
#: The server script that does not switch user (Debian's layout).
SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
#: How long a node may take to accept AMQP (about 17 s was seen on a loaded 2-core machine).
START_TIMEOUT = 90.0
#: The Debian package that has it.
PACKAGE = "rabbitmq-server"
MISSING = "RabbitMQ is not installed ({server} missing): apt-get install rabbitmq-server"

# NOTE: the AMQP 0-9-1 protocol header; a broker that is ready answers with a Connection.Start
# method frame (frame type 1), which is what "accepts a connection" means here.
_AMQP_HEADER = b"AMQP\x00\x00\x09\x01"


@dataclass(frozen=True)
class Broker:
    """A broker's directory and ports (kept in ``DIR/broker.json`` so a second start reuses them)."""

    root: Path
    amqp_port: int
    dist_port: int
    epmd_port: int

    @property
    def url(self) -> str:
        return f"rabbit://guest:guest@{HOST}:{self.amqp_port}/"

    @property
    def log(self) -> Path:
        return self.root / "log" / "rabbitmq-server.out"

    @property
    def pid_file(self) -> Path:
        return self.root / "rabbitmq.pid"

    @property
    def node(self) -> str:
        return f"stacktap{self.amqp_port}@localhost"


def _ports_file(root: Path) -> Path:
    return root / "broker.json"


def _broker(root: Path) -> Broker:
    """The broker of ``root`` with the ports picked at its first start (picked now if none)."""
    path = _ports_file(root)
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        raw = json.loads(path.read_text())
        return Broker(root, int(raw["amqp"]), int(raw["dist"]), int(raw["epmd"]))
    amqp = pick_free_port()
    dist = pick_free_port({amqp})
    epmd = pick_free_port({amqp, dist})
    root.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"amqp": amqp, "dist": dist, "epmd": epmd}) + "\n")
    return Broker(root, amqp, dist, epmd)


def broker_url(directory: str | Path) -> str:
    """The ``rabbit://`` URL of the broker in ``directory`` (whether or not it runs)."""
    return _broker(Path(directory).resolve()).url


def _env(broker: Broker) -> dict[str, str]:
    root = broker.root
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
    env.update(
        {
            "HOME": str(root),
            "RABBITMQ_NODENAME": broker.node,
            "RABBITMQ_NODE_IP_ADDRESS": HOST,
            "RABBITMQ_NODE_PORT": str(broker.amqp_port),
            "RABBITMQ_DIST_PORT": str(broker.dist_port),
            "ERL_EPMD_PORT": str(broker.epmd_port),
            "ERL_EPMD_ADDRESS": HOST,
            "RABBITMQ_MNESIA_BASE": str(root / "mnesia"),
            "RABBITMQ_LOG_BASE": str(root / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(root / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(root / "rabbitmq.conf"),
            "RABBITMQ_PID_FILE": str(root / "rabbitmq-node.pid"),
        }
    )
    return env


def _write_files(broker: Broker) -> None:
    root = broker.root
    for sub in ("mnesia", "log"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "enabled_plugins").write_text("[].\n")
    # NOTE: a dev broker: no disk-space alarm on a nearly full test machine (it would block
    # every publisher), and ``guest`` works on loopback (the default; said for the reader).
    (root / "rabbitmq.conf").write_text(
        "# Written by stacktap: a throwaway broker.\n"
        "loopback_users.guest = true\n"
        "disk_free_limit.absolute = 1\n"
    )


def accepts_amqp(port: int, timeout: float = 2.0) -> bool:
    """True when a broker on 127.0.0.1:``port`` answers the AMQP header with Connection.Start."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            sock.sendall(_AMQP_HEADER)
            first = sock.recv(1)
    except OSError:
        return False
    return first == b"\x01"


def installed() -> bool:
    """Whether a broker can be started here (:data:`SERVER` exists)."""
    return SERVER.exists()


def running_pid(directory: str | Path) -> int | None:
    """The pid of the broker started in ``directory`` if it still runs (a stale pid file is removed)."""
    broker = _broker(Path(directory).resolve())
    try:
        pid = int(broker.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    if is_alive(pid) and _is_ours(pid, broker):
        return pid
    with contextlib.suppress(FileNotFoundError):
        broker.pid_file.unlink()
    return None


def _is_ours(pid: int, broker: Broker) -> bool:
    """The pid leads a process group that runs this broker's node (never signal a stranger)."""
    if not os.path.isdir("/proc/self"):
        return True
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    return f"RABBITMQ_NODENAME={broker.node}".encode() in environ.split(b"\0")


def start_broker(directory: str | Path, timeout: float = START_TIMEOUT) -> str:
    """Start a RabbitMQ node in ``directory`` (or reuse the one running there); its ``rabbit://`` URL.

    Raises DevcloudError (one line) when RabbitMQ is not installed, its port is taken, or it does
    not accept AMQP within ``timeout`` (naming its log).
    """
    root = Path(directory).resolve()
    broker = _broker(root)
    # NOTE: a node that runs is reused before the package is looked for: it needs nothing more.
    if running_pid(root) is not None and accepts_amqp(broker.amqp_port):
        return broker.url
    if not installed():
        raise DevcloudError(MISSING.format(server=SERVER))
    stop_broker(root)
    if accepts_amqp(broker.amqp_port, timeout=0.5):
        raise DevcloudError(f"port {HOST}:{broker.amqp_port} kept for rabbitmq is taken by another broker")
    _write_files(broker)
    with open(broker.log, "ab") as log:
        log.write(
            f"\n===== stacktap: starting rabbitmq at {time.strftime('%Y-%m-%d %H:%M:%S')} =====\n".encode()
        )
        log.flush()
        try:
            # NOTE: its own session, so the node outlives the caller and one killpg stops it all.
            proc = subprocess.Popen(
                [str(SERVER)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=_env(broker),
                cwd=str(root),
                start_new_session=True,
            )
        except OSError as exc:
            raise DevcloudError(f"cannot start rabbitmq: {exc}") from exc
    broker.pid_file.write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + timeout
    while not accepts_amqp(broker.amqp_port):
        code = proc.poll()
        if code is not None:
            stop_broker(root)
            raise DevcloudError(f"rabbitmq exited (code {code}) while starting; read {broker.log}")
        if time.monotonic() > deadline:
            stop_broker(root)
            raise DevcloudError(f"rabbitmq did not accept AMQP within {timeout:.0f}s; read {broker.log}")
        time.sleep(0.5)
    return broker.url


def stop_broker(directory: str | Path, timeout: float = 20.0) -> bool:
    """Stop the broker of ``directory`` and its epmd; True when a broker was running."""
    root = Path(directory).resolve()
    broker = _broker(root)
    pid = running_pid(root)
    if pid is not None:
        stop_process_group(pid, timeout, poll=0.2)
        with contextlib.suppress(FileNotFoundError):
            broker.pid_file.unlink()
    _stop_epmd(broker)
    return pid is not None


def _stop_epmd(broker: Broker) -> None:
    """NOTE: the node starts ``epmd -daemon`` on its own port, which leaves the session; ask it to go."""
    epmd = shutil.which("epmd") or next(iter(sorted(Path("/usr/lib/erlang").glob("erts-*/bin/epmd"))), None)
    if not epmd:
        return
    env = {**os.environ, "ERL_EPMD_PORT": str(broker.epmd_port)}
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            [str(epmd), "-port", str(broker.epmd_port), "-kill"],
            env=env,
            capture_output=True,
            timeout=10,
            stdin=subprocess.DEVNULL,
        )
