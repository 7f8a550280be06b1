"""Every module loaded into traced programs and services imports on the oldest supported
Python (3.8) with nothing but the standard library (``-I -S``: no site-packages, no user site,
no ``PYTHON*`` variables)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from tests.fixtures.pythons import PY38

SRC = Path(__file__).resolve().parents[2] / "src"

#: The shared core the agent may use, besides ``stacktap.agent`` itself.
CORE = [
    "stacktap",
    "stacktap.settings",
    "stacktap.errors",
    "stacktap.model",
    "stacktap.redact",
    "stacktap.catalog",
    "stacktap.paths",
    "stacktap.store",
    "stacktap.store.spill",
    "stacktap.wsgi",
    "stacktap.wsgi.layers",
    "stacktap.wsgi.wrap",
]

SCRIPT = """
import json, pkgutil, importlib, sys
sys.path.insert(0, SRC)
import stacktap.agent
names = [m.name for m in pkgutil.walk_packages(stacktap.agent.__path__, "stacktap.agent.")]
done = []
for name in ["stacktap.agent"] + names + CORE:
    importlib.import_module(name)
    done.append(name)
boot = SRC + "/stacktap/agent/bootstrap/sitecustomize.py"
compile(open(boot).read(), boot, "exec")
others = ("click", "yaml", "platformdirs", "opentelemetry")
third = sorted(m for m in sys.modules if m.split(".")[0] in others)
print(json.dumps({"imported": done, "third_party": third, "version": list(sys.version_info[:2])}))
"""


@pytest.mark.skipif(not os.path.exists(PY38), reason="no Python 3.8 here")
def test_every_agent_module_imports_on_python38_with_only_the_standard_library() -> None:
    script = f"SRC = {str(SRC)!r}\nCORE = {CORE!r}\n" + SCRIPT
    # NOTE: stacktap.wsgi.wrap wraps its app at import: give it one from the standard library.
    env = dict(os.environ, STACKTAP_WRAP_APP="wsgiref.simple_server:demo_app")
    done = subprocess.run(
        [PY38, "-I", "-S", "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["version"] == [3, 8]
    assert report["third_party"] == []
    modules = {
        p.relative_to(SRC).with_suffix("").as_posix().replace("/", ".")
        for p in (SRC / "stacktap" / "agent").rglob("*.py")
    }
    expected = {m.removesuffix(".__init__") for m in modules if "bootstrap" not in m}
    assert expected <= set(report["imported"])
