"""Stepping through the dev cloud with a real debugger: glance-api under ``up --debug glance``,
and ``openstack image list`` launched from the configuration ``devcloud ide`` writes.

The debugger client is the test's own: the Debug Adapter Protocol over a plain socket
(``Content-Length`` framing, JSON messages), talking to the real debugpy in the dev cloud's venv.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from stacktap.devcloud import debug, lifecycle
from stacktap.devcloud.ide import ENV_PATH
from stacktap.devcloud.layout import Layout
from stacktap.devcloud.ports import pick_free_port

pytestmark = pytest.mark.e2e

#: Long enough for a loaded 2-core machine: glance under the tracer answers slower.
WAIT = 120.0


class Dap:
    """A Debug Adapter Protocol client. A reader thread takes every message as it comes (as an
    IDE does: debugpy waits for its client to read), queueing events and responses."""

    def __init__(self, host: str, port: int, timeout: float = WAIT) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.create_connection((host, port), timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        self.sock.settimeout(None)
        self.timeout = timeout
        self.seq = 0
        self.events: list[dict[str, Any]] = []
        self.responses: dict[int, dict[str, Any]] = {}
        self.closed = False
        self.changed = threading.Condition()
        self.send_lock = threading.Lock()
        threading.Thread(target=self._read_all, daemon=True).start()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()

    def _write(self, message: dict[str, Any]) -> None:
        data = json.dumps(message).encode()
        with self.send_lock:
            self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(data) + data)

    def send(self, command: str, **arguments: Any) -> int:
        with self.send_lock:
            self.seq += 1
            seq = self.seq
        self._write({"seq": seq, "type": "request", "command": command, "arguments": arguments})
        return seq

    def _read_all(self) -> None:
        stream = self.sock.makefile("rb")
        try:
            while True:
                length = None
                while True:
                    line = stream.readline()
                    if not line:
                        return
                    if line in (b"\r\n", b"\n"):
                        break
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                assert length is not None, "a DAP message without Content-Length"
                self._take(json.loads(stream.read(length)))
        except (OSError, ValueError):
            return
        finally:
            with self.changed:
                self.closed = True
                self.changed.notify_all()

    def _take(self, message: dict[str, Any]) -> None:
        if message["type"] == "request":  # a reverse request (runInTerminal...): not supported here
            reply = {"type": "response", "request_seq": message["seq"], "command": message["command"]}
            self._write({**reply, "seq": 0, "success": False, "message": "not supported by the test client"})
            return
        with self.changed:
            if message["type"] == "event":
                self.events.append(message)
            elif message["type"] == "response":
                self.responses[message["request_seq"]] = message
            self.changed.notify_all()

    def _wait(self, found: Any, what: str) -> Any:
        deadline = time.monotonic() + self.timeout
        with self.changed:
            while True:
                value = found()
                if value is not None:
                    return value
                if self.closed:
                    raise ConnectionError(f"the debug adapter closed the connection before {what}")
                if not self.changed.wait(timeout=max(0.0, deadline - time.monotonic())):
                    raise TimeoutError(f"no {what} within {self.timeout:.0f}s; events: {self.events}")

    def response(self, seq: int) -> dict[str, Any]:
        reply: dict[str, Any] = self._wait(lambda: self.responses.pop(seq, None), f"response {seq}")
        assert reply["success"], reply
        return reply.get("body") or {}

    def request(self, command: str, **arguments: Any) -> dict[str, Any]:
        return self.response(self.send(command, **arguments))

    def event(self, name: str) -> dict[str, Any]:
        def first() -> dict[str, Any] | None:
            for index, event in enumerate(self.events):
                if event["event"] == name:
                    return self.events.pop(index)
            return None

        event: dict[str, Any] = self._wait(first, f"event {name!r}")
        return event


def _stacktap(devcloud: Any, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*devcloud.stacktap, "devcloud", *args, "--dir", str(devcloud.dir)],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def _normal_up(devcloud: Any) -> None:
    flags = ["--trace-servers", "--db", str(devcloud.db)] if devcloud.traced else ["--no-trace-servers"]
    result = _stacktap(devcloud, "up", *flags)
    assert result.returncode == 0, result.stderr


@contextmanager
def _glance_under_debugpy(devcloud: Any) -> Iterator[int]:
    """glance in debug mode for the block, back to normal after it, whatever happened."""
    try:
        result = _stacktap(devcloud, "up", "--debug", "glance")
        assert result.returncode == 0, result.stderr
        _, state, _ = lifecycle.status(str(devcloud.dir))
        yield state.debug["glance"]
    finally:
        _normal_up(devcloud)


def _first_statement(python: Path, module: str, cls: str, function: str) -> tuple[str, int]:
    """The file defining ``module.cls.function`` (as the dev cloud's Python imports it) and the
    line of the function's first statement (where a breakpoint stops at each call)."""
    script = (
        "import ast, importlib, inspect, json, sys\n"
        "module, cls, function = sys.argv[1:]\n"
        "path = inspect.getsourcefile(getattr(getattr(importlib.import_module(module), cls), function))\n"
        "tree = ast.parse(open(path).read())\n"
        "owner = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls)\n"
        "fn = next(n for n in owner.body if isinstance(n, ast.FunctionDef) and n.name == function)\n"
        "print(json.dumps([path, fn.body[0].lineno]))\n"
    )
    command = [str(python), "-c", script, module, cls, function]
    out = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    path, line = json.loads(out.stdout)
    return path, int(line)


def _image_list(devcloud: Any) -> subprocess.CompletedProcess[str]:
    command = [str(devcloud.openstack), "image", "list"]
    return subprocess.run(command, env=devcloud.env, capture_output=True, text=True, timeout=600)


def _image_list_table(devcloud: Any) -> str:
    result = _image_list(devcloud)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def an_image(devcloud: Any) -> Iterator[str]:
    """An image (queued: no data) for the block, so that ``image list`` prints a real table."""
    name = f"stacktap-e2e-debug-{os.getpid()}-{time.monotonic_ns()}"
    command = [str(devcloud.openstack), "image", "create", name, "-f", "value", "-c", "id"]
    created = subprocess.run(command, env=devcloud.env, capture_output=True, text=True, timeout=300)
    assert created.returncode == 0, created.stderr
    try:
        yield name
    finally:
        delete = [str(devcloud.openstack), "image", "delete", created.stdout.strip()]
        subprocess.run(delete, env=devcloud.env, capture_output=True, timeout=300)


def test_a_breakpoint_in_glance_images_index_stops_the_request_and_reads_req(
    devcloud: Any, an_image: str
) -> None:
    expected = _image_list_table(devcloud)
    assert an_image in expected
    path, line = _first_statement(devcloud.python, "glance.api.v2.images", "ImagesController", "index")
    with _glance_under_debugpy(devcloud) as port:
        status = json.loads(_stacktap(devcloud, "status", "-f", "json").stdout)
        assert {row["Service"]: row["Debug"] for row in status}["glance"] == f"debugpy 127.0.0.1:{port}"
        dap = Dap("127.0.0.1", port)
        try:
            dap.request("initialize", clientID="stacktap-test", adapterID="debugpy", pathFormat="path")
            attached = dap.send("attach", justMyCode=False)
            dap.event("initialized")
            placed = dap.request("setBreakpoints", source={"path": path}, breakpoints=[{"line": line}])
            assert placed["breakpoints"][0]["verified"], placed
            dap.request("configurationDone")
            dap.response(attached)

            outcome: dict[str, Any] = {}
            command = threading.Thread(
                target=lambda: outcome.update(result=_image_list(devcloud)), daemon=True
            )
            command.start()
            stopped = dap.event("stopped")["body"]
            assert stopped["reason"] == "breakpoint"
            frames = dap.request("stackTrace", threadId=stopped["threadId"])["stackFrames"]
            assert frames[0]["name"].split(".")[-1] == "index", frames[0]
            assert frames[0]["source"]["path"] == path and frames[0]["line"] == line
            scopes = dap.request("scopes", frameId=frames[0]["id"])["scopes"]
            local = next(s for s in scopes if s["name"].lower().startswith("locals"))
            names = {
                v["name"]: v
                for v in dap.request("variables", variablesReference=local["variablesReference"])["variables"]
            }
            assert "Request" in names["req"]["type"] or "Request" in names["req"]["value"], names["req"]
            assert command.is_alive()  # the command waits while glance is paused
            dap.request("continue", threadId=stopped["threadId"])
            command.join(timeout=WAIT)
            assert not command.is_alive()
        finally:
            dap.close()
        result = outcome["result"]
        assert result.returncode == 0, result.stderr
        assert result.stdout == expected
    rows = {row["Service"]: row for row in json.loads(_stacktap(devcloud, "status", "-f", "json").stdout)}
    assert rows["glance"]["Debug"] == "-" and rows["glance"]["Health"].startswith("ok")
    assert _image_list_table(devcloud) == expected


def _ide_configuration(devcloud: Any, workspace: Path, *options: str) -> dict[str, Any]:
    # NOTE: the options first: everything from the first argument on is openstack's.
    command = [*devcloud.stacktap, "devcloud", "ide", "--dir", str(devcloud.dir), "--vscode", str(workspace)]
    result = subprocess.run(
        [*command, *options, "image", "list"], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    launch = json.loads((workspace / ".vscode" / "launch.json").read_text())
    name = "stacktap: openstack image list" + (" (traced)" if "--traced" in options else "")
    config: dict[str, Any] = next(c for c in launch["configurations"] if c["name"] == name)
    assert config["justMyCode"] is False and config["request"] == "launch"
    return config


@contextmanager
def _launched_like_vs_code(
    config: dict[str, Any], tmp_path: Path, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], Dap, Path, Path]]:
    """What VS Code does with a launch configuration: the config's python runs debugpy, which
    runs the program with the config's env (on top of the editor's own, ${env:PATH} replaced)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "STACKTAP_"))}
    env.update({k: v.replace(ENV_PATH, os.environ["PATH"]) for k, v in config["env"].items()})
    env.update(extra_env or {})
    port = pick_free_port()
    command = [
        config["python"], "-m", "debugpy", "--listen", f"127.0.0.1:{port}", "--wait-for-client",
        config["program"], *config["args"],
    ]  # fmt: skip
    # NOTE: files, not pipes: debugpy's adapter process inherits them and outlives the program
    # while a client is connected, so a pipe would see no end of file.
    out_path, err_path = tmp_path / "out.txt", tmp_path / "err.txt"
    with open(out_path, "w") as out_file, open(err_path, "w") as err_file:
        proc = subprocess.Popen(command, env=env, stdout=out_file, stderr=err_file, stdin=subprocess.DEVNULL)
    try:
        dap = Dap("127.0.0.1", port)
        try:
            dap.request("initialize", clientID="stacktap-test", adapterID="debugpy", pathFormat="path")
            attached = dap.send("attach", justMyCode=False, subProcess=config.get("subProcess", False))
            dap.event("initialized")
            dap.request("configurationDone")
            dap.response(attached)
            yield proc, dap, out_path, err_path
            proc.wait(timeout=600)
        finally:
            dap.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_launch_configuration_runs_openstack_under_debugpy(
    devcloud: Any, an_image: str, tmp_path: Path
) -> None:
    # NOTE: VS Code brings its own debugpy; the test uses the one `--print` installs for other editors.
    printed = _stacktap(devcloud, "ide", "--print")
    assert printed.returncode == 0, printed.stderr
    assert f"interpreter: {devcloud.python}" in printed.stdout.splitlines()
    assert debug.has_debugpy(Layout.at(devcloud.dir))
    config = _ide_configuration(devcloud, tmp_path)
    with _launched_like_vs_code(config, tmp_path) as (proc, dap, out, err):
        assert dap.event("process")["body"]["name"] == config["program"]
    assert proc.returncode == 0, err.read_text()
    assert an_image in out.read_text() and out.read_text() == _image_list_table(devcloud)


def test_the_traced_launch_stops_in_the_openstack_child_of_stacktap_run(
    devcloud: Any, an_image: str, tmp_path: Path
) -> None:
    # NOTE: stacktap's own venv has no debugpy: it gets the dev cloud's, the way VS Code puts
    # its bundled copy on the path of whatever interpreter it launches.
    bundled = tmp_path / "bundled"
    bundled.mkdir()
    found = subprocess.run(
        [str(devcloud.python), "-c", "import debugpy, os; print(os.path.dirname(debugpy.__file__))"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    (bundled / "debugpy").symlink_to(found.stdout.strip())
    config = _ide_configuration(devcloud, tmp_path, "--traced")
    assert config["subProcess"] is True
    path, line = _first_statement(
        devcloud.python, "openstackclient.image.v2.image", "ListImage", "take_action"
    )
    with _launched_like_vs_code(config, tmp_path, {"PYTHONPATH": str(bundled)}) as (proc, dap, out, err):
        # NOTE: as VS Code does, a second session for the child debugpy reports.
        child_attach = dap.event("debugpyAttach")["body"]
        child = Dap(child_attach["connect"]["host"], child_attach["connect"]["port"])
        try:
            child.request("initialize", clientID="stacktap-test", adapterID="debugpy", pathFormat="path")
            attached = child.send("attach", **child_attach)
            child.event("initialized")
            placed = child.request("setBreakpoints", source={"path": path}, breakpoints=[{"line": line}])
            assert placed["breakpoints"][0]["verified"], placed
            child.request("configurationDone")
            child.response(attached)
            stopped = child.event("stopped")["body"]
            frame = child.request("stackTrace", threadId=stopped["threadId"])["stackFrames"][0]
            assert frame["name"].split(".")[-1] == "take_action" and frame["line"] == line
            child.request("continue", threadId=stopped["threadId"])
            proc.wait(timeout=600)
        finally:
            child.close()
    assert proc.returncode == 0, err.read_text()
    assert an_image in out.read_text() and out.read_text() == _image_list_table(devcloud)
    assert "stacktap: recorded " in err.read_text()
