"""``stacktap run``: output, exit codes and signals as without stacktap; the summary line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stacktap.cli.run import _say, parse_fast, parse_size
from stacktap.store import Store, spill


def stacktap_run(db: Path, *cmd: str, extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*STACKTAP_CLI, "run", "--db", str(db), *extra, "--", *cmd],
        capture_output=True,
        text=True,
        timeout=60,
    )


STACKTAP_CLI = [sys.executable, "-c", "from stacktap.cli.main import main; main()"]


def test_output_and_exit_code_are_the_commands(tmp_path: Path) -> None:
    cmd = ["sh", "-c", "echo out; echo err >&2; exit 3"]
    plain = subprocess.run(cmd, capture_output=True, text=True)
    traced = stacktap_run(tmp_path / "st.db", *cmd)
    assert (traced.returncode, traced.stdout) == (plain.returncode, plain.stdout) == (3, "out\n")
    lines = traced.stderr.splitlines()
    assert lines[0] == "err" and len(lines) == 2
    assert lines[1].startswith("stacktap: nothing traced in run ")


def test_summary_counts_calls_and_services(tmp_path: Path) -> None:
    from tests.capture.capture_helpers import LocalServer

    server = LocalServer()
    try:
        code = "import requests, sys; [requests.get(sys.argv[1] + '/json') for _ in range(3)]"
        traced = stacktap_run(
            tmp_path / "st.db", sys.executable, "-c", code, server.url, extra=("--label", "x")
        )
    finally:
        server.close()
    assert traced.returncode == 0, traced.stderr
    [line] = traced.stderr.splitlines()
    with Store(str(tmp_path / "st.db")) as store:
        [run] = store.runs()
    assert line == f"stacktap: recorded 3 calls to 1 service in run {run.id} (stacktap show {run.id})"
    assert (run.kind, run.label, run.exit_code) == ("command", "x", 0)
    assert run.argv[0] == sys.executable and run.ended is not None


def test_killed_by_signal_is_128_plus_n(tmp_path: Path) -> None:
    traced = stacktap_run(tmp_path / "st.db", "sh", "-c", "kill -KILL $$")
    assert traced.returncode == 128 + signal.SIGKILL


def test_sigterm_is_passed_to_the_child(tmp_path: Path) -> None:
    marker = tmp_path / "got-term"
    script = (
        f"import signal, sys, time\ndef h(*a):\n    open({str(marker)!r}, 'w').write('x'); sys.exit(42)\n"
        + "signal.signal(signal.SIGTERM, h)\nprint('ready', flush=True)\ntime.sleep(30)\n"
    )
    proc = subprocess.Popen(
        [*STACKTAP_CLI, "run", "--db", str(tmp_path / "st.db"), "--", sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 42
    assert marker.exists()


def test_ctrl_c_reaches_the_child_once(tmp_path: Path) -> None:
    script = (
        "import time\ntry:\n    print('ready', flush=True); time.sleep(30)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', flush=True); time.sleep(0.5); raise SystemExit(7)\n"
    )
    proc = subprocess.Popen(
        [*STACKTAP_CLI, "run", "--db", str(tmp_path / "st.db"), "--", sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole group
    assert proc.wait(timeout=30) == 7
    assert proc.stdout.read() == "interrupted\n"


def test_unwritable_store_runs_the_command_with_one_warning(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    traced = stacktap_run(tmp_path / "file" / "st.db", sys.executable, "-c", "print('hi')")
    assert traced.returncode == 0 and traced.stdout == "hi\n"
    [line] = traced.stderr.splitlines()
    assert line.startswith("stacktap: warning: run ") and "cannot open store" in line
    # NOTE: the directory next to the store cannot be made either: the user cache dir
    assert f"kept in {spill.spill_dirs(str(tmp_path / 'file' / 'st.db'))[1]} " in line


@pytest.mark.parametrize(
    ("mode", "message"), [(0o644, "permission denied: {}"), (0o755, "cannot run {}: Exec format error")]
)
def test_a_file_that_cannot_run_is_126_in_one_line(tmp_path: Path, mode: int, message: str) -> None:
    program = tmp_path / "not-a-program"
    program.write_bytes(b"\x00\x01 no shebang, no ELF")
    program.chmod(mode)
    traced = stacktap_run(tmp_path / "st.db", str(program))
    assert traced.returncode == 126
    assert traced.stderr == "stacktap: " + message.format(program) + "\n"


def test_command_not_found_is_127_in_one_line(tmp_path: Path) -> None:
    traced = stacktap_run(tmp_path / "st.db", "no-such-command-xyz")
    assert traced.returncode == 127
    assert traced.stderr == "stacktap: command not found: no-such-command-xyz\n"


def test_bad_body_cap_is_a_one_line_error(tmp_path: Path) -> None:
    traced = stacktap_run(tmp_path / "st.db", "true", extra=("--body-cap", "lots"))
    assert traced.returncode == 2
    assert traced.stderr == "stacktap: not a size: 'lots' (try 1048576, 512k, 2M)\n"


def test_body_cap_reaches_the_child(tmp_path: Path) -> None:
    traced = stacktap_run(
        tmp_path / "st.db",
        sys.executable,
        "-c",
        "import os; print(os.environ['STACKTAP_BODY_CAP'])",
        extra=("--body-cap", "2k"),
    )
    assert traced.stdout == "2048\n"


@pytest.mark.parametrize(
    ("text", "size"), [("100", 100), ("512k", 524288), ("2M", 2 * 1024**2), ("1GiB", 1024**3)]
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


# -- start-up: the usual command lines run without click ------------------------------

USUAL = [
    ["--db", "x.db", "--", "openstack", "server", "list"],
    ["--db=x.db", "openstack", "--os-cloud", "c", "server", "list"],
    ["--label", "a b", "--no-propagate", "--body-cap", "2M", "--", "sh", "-c", "exit 3"],
    ["--body-cap=512k", "--label=x", "--", "-weird", "--db", "y"],
    ["cmd", "--", "--label", "x"],
    ["--", "--"],
]
UNUSUAL = [
    [],
    ["--"],
    ["--db", "x.db"],
    ["--help"],
    ["-h", "cmd"],
    ["--no-propagate", "--no-propagate", "cmd"],
    ["--label", "a", "--label", "b", "cmd"],
    ["--label", "--", "cmd"],
    ["--label=", "cmd"],
    ["--db", "", "cmd"],
    ["--no-propagate=1", "cmd"],
    ["--bogus", "cmd"],
    ["--lab", "x", "cmd"],
    ["-", "cmd"],
]


def _click_params(args: list[str]) -> dict[str, object]:
    from stacktap.cli.run import _click_command

    return dict(_click_command().make_context("run", list(args)).params)


@pytest.mark.parametrize("args", USUAL)
def test_usual_command_lines_parse_as_click_parses_them(
    args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STACKTAP_DB", raising=False)
    assert parse_fast(args) == _click_params(args)


@pytest.mark.parametrize("args", UNUSUAL)
def test_anything_else_is_left_to_click(args: list[str]) -> None:
    assert parse_fast(args) is None


def test_run_does_not_load_click_or_what_it_does_not_need(tmp_path: Path) -> None:
    """``stacktap run`` starts in front of the traced command: only what the run needs loads."""
    probe = (
        "import sys\n"
        f"sys.argv = ['stacktap', 'run', '--db', {str(tmp_path / 'st.db')!r}, '--', 'true']\n"
        "from stacktap.cli.main import main\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert exc.code == 0, exc.code\n"
        "heavy = ('click', 'platformdirs', 'secrets', 'stacktap.redact', 'stacktap.catalog',"
        " 'stacktap.render', 'stacktap.cli.options',"
        " 'stacktap.agent.recorder', 'stacktap.agent.enrich')\n"
        # NOTE: the name matcher loads (about 1 ms): the run row's argv is redacted by meaning.
        "needed = ('stacktap.redact_names',)\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy) and m not in needed))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stderr


def test_store_from_the_environment(tmp_path: Path) -> None:
    db = tmp_path / "env.db"
    env = {**os.environ, "STACKTAP_DB": str(db)}
    traced = subprocess.run([*STACKTAP_CLI, "run", "true"], capture_output=True, text=True, env=env)
    assert traced.returncode == 0, traced.stderr
    with Store(str(db)) as store:
        [run] = store.runs()
    assert run.argv == ["true"] and run.exit_code == 0


def test_secret_options_are_marked_in_the_stored_argv(tmp_path: Path) -> None:
    traced = stacktap_run(tmp_path / "st.db", "sh", "-c", "exit 0", "x", "--os-password", "hunter2")
    assert traced.returncode == 0, traced.stderr
    with Store(str(tmp_path / "st.db")) as store:
        [run] = store.runs()
    assert run.argv[:4] == ["sh", "-c", "exit 0", "x"] and run.argv[4] == "--os-password"
    assert run.argv[5].startswith("{SHA256}") and "hunter2" not in str(run.argv)


def test_unusual_command_lines_still_run_through_click(tmp_path: Path) -> None:
    db = tmp_path / "st.db"
    twice = ["--no-propagate", "--no-propagate"]  # click's parser takes the last one
    cmd = ["sh", "-c", "exit 5"]
    argv = [*STACKTAP_CLI, "run", "--db", str(db), *twice, "--", *cmd]
    traced = subprocess.run(argv, capture_output=True, text=True)
    assert traced.returncode == 5
    assert traced.stderr.startswith("stacktap: nothing traced in run ")
    usage = subprocess.run([*STACKTAP_CLI, "run", "--db", str(db)], capture_output=True, text=True)
    assert usage.returncode == 2 and "Missing argument '-- CMD [ARGS]...'" in usage.stderr


def test_messages_lose_terminal_escapes_off_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    _say("stacktap: command not found: \033[31mred")
    assert capsys.readouterr().err == "stacktap: command not found: red\n"
