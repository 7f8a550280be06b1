"""A MariaDB server of its own in a directory: Debian's ``mariadbd``, run as the caller.

Public API: :func:`start_server` (start, or reuse, the server of a directory and make sure
databases and their user exist; returns the SQLAlchemy URLs), :func:`stop_server`,
:func:`running_pid`, :func:`answers`, :func:`database_url`. The dev cloud runs neutron and, once
compute is on, nova on it: neutron's migrations need ALTER of constraints, which SQLite has not
(``neutron-db-manage upgrade heads`` stops with ``NotImplementedError``); nova's conductor,
scheduler and API writing one SQLite file from three processes get "database is locked"; and a
real MariaDB is how both are deployed.

Everything is under the directory: the data dir (``mariadb-install-db`` at the first start),
the unix socket the bootstrap SQL goes through (root, no password, reachable only through the
socket of a 0700 directory), the pid file and the error log. It listens on one free 127.0.0.1
port, where the services connect as their own user with a password.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from stacktap.devcloud.ports import pick_free_port
from stacktap.devcloud.processes import is_alive, stop_process_group
from stacktap.errors import DevcloudError

HOST = "127.0.0.1"
SERVER = "mariadbd"
INSTALL = "mariadb-install-db"
CLIENT = "mariadb"
#: The Debian package that has them.
PACKAGE = "mariadb-server"
MISSING = "MariaDB is not installed ({what} not found): apt-get install mariadb-server"
START_TIMEOUT = 60.0
#: The user the services connect as (its password is the dev cloud's admin password).
USER = "stacktap"


@dataclass(frozen=True)
class Server:
    """A server's directory and port (kept in ``DIR/server.json`` so a second start reuses it)."""

    root: Path
    port: int

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def socket(self) -> Path:
        return self.root / "mysqld.sock"

    @property
    def pid_file(self) -> Path:
        return self.root / "mariadb.pid"

    @property
    def log(self) -> Path:
        return self.root / "log" / "mariadb.log"

    def url(self, database: str, password: str) -> str:
        return f"mysql+pymysql://{USER}:{password}@{HOST}:{self.port}/{database}?charset=utf8"


def _server(root: Path) -> Server:
    path = root / "server.json"
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        return Server(root, int(json.loads(path.read_text())["port"]))
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    port = pick_free_port()
    path.write_text(json.dumps({"port": port}) + "\n")
    return Server(root, port)


def database_url(directory: str | Path, database: str, password: str) -> str:
    """The SQLAlchemy URL of ``database`` on the server of ``directory`` (whether or not it runs)."""
    return _server(Path(directory).resolve()).url(database, password)


def _find(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")


def _tool(name: str) -> str:
    found = _find(name)
    if not found:
        raise DevcloudError(MISSING.format(what=name))
    return found


def installed() -> bool:
    """Whether a server can be set up and started here (``mariadbd`` and ``mariadb-install-db``)."""
    return all(_find(name) for name in (SERVER, INSTALL))


def running_pid(directory: str | Path) -> int | None:
    """The pid of the server started in ``directory`` if it still runs (a stale pid file is removed)."""
    server = _server(Path(directory).resolve())
    try:
        pid = int(server.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    if is_alive(pid) and _is_ours(pid, server):
        return pid
    with contextlib.suppress(FileNotFoundError):
        server.pid_file.unlink()
    return None


def _is_ours(pid: int, server: Server) -> bool:
    if not os.path.isdir("/proc/self"):
        return True
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return f"--datadir={server.datadir}".encode() in cmdline


def _answers(server: Server, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((HOST, server.port), timeout=timeout) as sock:
            # NOTE: a ready server greets first (its handshake packet); an empty read is a refusal.
            return bool(sock.recv(4))
    except OSError:
        return False


def answers(directory: str | Path) -> bool:
    """True when the server of ``directory`` greets on its port (whoever started it)."""
    return _answers(_server(Path(directory).resolve()))


def start_server(directory: str | Path, databases: Sequence[str], password: str) -> list[str]:
    """Start (or reuse) the MariaDB of ``directory``, with ``databases`` and the services' user.

    Returns the SQLAlchemy URL of each database. One-line DevcloudError when MariaDB is not
    installed, its port is taken, or it does not answer within the timeout (naming its log).
    """
    root = Path(directory).resolve()
    server = _server(root)
    if running_pid(root) is None:
        _start(server)
    user = f"'{USER}'@'{HOST}'"
    statements = [
        f"CREATE USER IF NOT EXISTS {user} IDENTIFIED BY '{_quote(password)}'",
        f"ALTER USER {user} IDENTIFIED BY '{_quote(password)}'",
    ]
    for database in databases:
        statements.append(f"CREATE DATABASE IF NOT EXISTS `{database}` CHARACTER SET utf8mb4")
        statements.append(f"GRANT ALL PRIVILEGES ON `{database}`.* TO {user}")
    _sql(server, ";".join(statements) + ";")
    return [server.url(database, password) for database in databases]


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _start(server: Server) -> None:
    mariadbd, install = _tool(SERVER), _tool(INSTALL)
    server.log.parent.mkdir(parents=True, exist_ok=True)
    if _answers(server, timeout=0.5):
        raise DevcloudError(f"port {HOST}:{server.port} kept for mariadb is taken by another server")
    # NOTE: mariadbd refuses to run as root unless told to; as anyone else --user is ignored.
    user = ["--user=root"] if os.geteuid() == 0 else []
    if not (server.datadir / "mysql").is_dir():
        _run(
            [
                install,
                "--no-defaults",
                f"--datadir={server.datadir}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                *user,
            ],
            server,
        )
    with open(server.log, "ab") as log:
        log.write(
            f"\n===== stacktap: starting mariadb at {time.strftime('%Y-%m-%d %H:%M:%S')} =====\n".encode()
        )
        log.flush()
        try:
            proc = subprocess.Popen(
                [
                    mariadbd,
                    "--no-defaults",
                    f"--datadir={server.datadir}",
                    f"--socket={server.socket}",
                    f"--port={server.port}",
                    f"--bind-address={HOST}",
                    f"--pid-file={server.root / 'mariadbd.pid'}",
                    "--skip-name-resolve",
                    # NOTE: a throwaway server: small buffers, no fsync per commit.
                    "--innodb-buffer-pool-size=64M",
                    "--innodb-flush-log-at-trx-commit=0",
                    "--max-connections=200",
                    *user,
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=str(server.root),
                start_new_session=True,
            )
        except OSError as exc:
            raise DevcloudError(f"cannot start mariadb: {exc}") from exc
    server.pid_file.write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + START_TIMEOUT
    while not (server.socket.exists() and _answers(server)):
        code = proc.poll()
        if code is not None:
            raise DevcloudError(f"mariadb exited (code {code}) while starting; read {server.log}")
        if time.monotonic() > deadline:
            stop_server(server.root)
            raise DevcloudError(f"mariadb did not answer within {START_TIMEOUT:.0f}s; read {server.log}")
        time.sleep(0.3)


def _run(argv: list[str], server: Server) -> None:
    with open(server.log, "ab") as log:
        try:
            code = subprocess.call(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        except OSError as exc:
            raise DevcloudError(f"cannot run {argv[0]}: {exc}") from exc
    if code != 0:
        raise DevcloudError(f"{Path(argv[0]).name} failed (exit {code}); read {server.log}")


def _sql(server: Server, statements: str) -> None:
    """Run ``statements`` as root through the unix socket (the bootstrap's only root access)."""
    argv = [_tool(CLIENT), "--no-defaults", f"--socket={server.socket}", "-uroot", "-e", statements]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        raise DevcloudError(f"cannot run {CLIENT}: {exc}") from exc
    if done.returncode != 0:
        error = done.stderr.strip().splitlines()[-1:] or ["no output"]
        raise DevcloudError(f"mariadb refused the bootstrap SQL: {error[0]}")


def stop_server(directory: str | Path, timeout: float = 30.0) -> bool:
    """Stop the server of ``directory``; True when one was running."""
    root = Path(directory).resolve()
    pid = running_pid(root)
    if pid is None:
        return False
    stop_process_group(pid, timeout, poll=0.2)
    with contextlib.suppress(FileNotFoundError):
        _server(root).pid_file.unlink()
    return True
