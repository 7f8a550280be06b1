"""Tracing reaches forks and subprocesses; the writer restarts in a forked child."""

from __future__ import annotations

from pathlib import Path

from capture_helpers import LocalServer, new_run, run_traced, stored_calls


def test_fork_and_subprocess_are_traced(tmp_path: Path, server: LocalServer) -> None:
    db = tmp_path / "st.db"
    run = new_run(db)
    proc = run_traced(
        """
        import os, subprocess, sys, requests
        base = sys.argv[1]
        requests.get(base + "/json")  # starts the writer thread before the fork
        pid = os.fork()
        if pid == 0:
            requests.get(base + "/json?child=fork")
            sys.exit(0)
        os.waitpid(pid, 0)
        child = "import requests, sys; requests.get(sys.argv[1] + '/json?child=sub')"
        subprocess.run([sys.executable, "-c", child, base], check=True)
        print("done")
        """,
        db,
        run.id,
        args=(server.url,),
    )
    assert proc.stdout.strip() == "done", proc.stderr
    calls = stored_calls(db, run.id)
    assert sorted(c.url.rsplit("/", 1)[1] for c in calls) == ["json", "json?child=fork", "json?child=sub"]
    assert len({c.pid for c in calls}) == 3
    assert len({c.trace_id for c in calls}) == 1  # one trace per command, whatever the process


def test_program_without_requests_never_loads_the_hooks(tmp_path: Path) -> None:
    db = tmp_path / "st.db"
    run = new_run(db)
    proc = run_traced(
        """
        import sys
        print(sorted(m for m in sys.modules if m.startswith(("stacktap", "requests", "urllib3"))))
        import requests
        print(hasattr(requests.adapters.HTTPAdapter.send, "_stacktap_original"))
        """,
        db,
        run.id,
    )
    first, second = proc.stdout.splitlines()
    assert (
        first == "['stacktap', 'stacktap.agent', 'stacktap.agent.faults', 'stacktap.agent.import_hook']"
    )
    assert second == "True", proc.stderr
