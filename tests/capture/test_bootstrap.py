"""The bootstrap: chaining to a shadowed sitecustomize, only ``stacktap`` importable, Python 3.8."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from capture_helpers import LocalServer, new_run, py38_venv, run_traced, stored_calls
from tests.fixtures.pythons import PY312

from stacktap.launcher.env import tracing_env


def test_shadowed_sitecustomize_still_runs(tmp_path: Path, server: LocalServer) -> None:
    own = tmp_path / "own"
    own.mkdir()
    (own / "sitecustomize.py").write_text("import os\nos.environ['OWN_SITECUSTOMIZE'] = 'ran'\n")
    db = tmp_path / "st.db"
    run = new_run(db)
    proc = run_traced(
        """
        import os, sys, requests
        print(os.environ.get("OWN_SITECUSTOMIZE"), sys.modules["sitecustomize"].__file__)
        requests.get(sys.argv[1] + "/json")
        """,
        db,
        run.id,
        args=(server.url,),
        extra_env={"PYTHONPATH": tracing_env(str(db))["PYTHONPATH"] + os.pathsep + str(own)},
    )
    assert proc.stdout.strip() == "ran %s" % (own / "sitecustomize.py"), proc.stderr
    assert len(stored_calls(db, run.id)) == 1


def test_broken_shadowed_sitecustomize_is_reported_as_site_does(tmp_path: Path) -> None:
    own = tmp_path / "own"
    own.mkdir()
    (own / "sitecustomize.py").write_text("raise RuntimeError('boom')\n")
    plain = subprocess.run(
        [sys.executable, "-c", "print('ok')"],
        env={**os.environ, "PYTHONPATH": str(own)},
        capture_output=True,
        text=True,
    )
    env = tracing_env(str(tmp_path / "st.db"), run_id="r1")
    env["PYTHONPATH"] += os.pathsep + str(own)
    traced = subprocess.run([sys.executable, "-c", "print('ok')"], env=env, capture_output=True, text=True)
    assert traced.stdout == plain.stdout == "ok\n"
    assert "RuntimeError: boom" in plain.stderr and "RuntimeError: boom" in traced.stderr


@pytest.mark.skipif(not os.path.exists(PY312), reason="needs pyenv Python 3.12")
def test_only_stacktap_is_importable_from_its_install(tmp_path: Path) -> None:
    env = tracing_env(str(tmp_path / "st.db"), run_id="r1")
    code = "import importlib.util as u, stacktap; print(stacktap.__file__, u.find_spec('click'))"
    proc = subprocess.run([PY312, "-c", code], env=env, capture_output=True, text=True)
    import stacktap

    assert proc.stdout.strip() == f"{stacktap.__file__} None", proc.stderr


def test_python38_child_is_traced(tmp_path: Path, server: LocalServer) -> None:
    python = py38_venv()
    if python is None:
        pytest.skip("no Python 3.8 venv with requests")
    db = tmp_path / "st.db"
    run = new_run(db)
    proc = run_traced(
        """
        import sys, requests
        print(sys.version_info[:2], requests.get(sys.argv[1] + "/json").json()["hello"])
        print(requests.get(sys.argv[1] + "/bytes?size=2000000", stream=True).raw.read(10))
        """,
        db,
        run.id,
        python=python,
        args=(server.url,),
    )
    assert proc.stdout.splitlines()[0] == "(3, 8) world", proc.stderr
    assert proc.stderr == ""
    first, second = stored_calls(db, run.id)
    assert first.response_body.kind == "json" and first.call_site is not None
    # NOTE: lines come from instruction offsets (co_lines is 3.10+; 3.8 maps them with dis).
    assert (first.call_site.function, first.call_site.line) == ("<module>", 3)
    assert (second.call_site.function, second.call_site.line) == ("<module>", 4)
    assert second.response_body.kind == "unread" and second.response_body.size == 10
