"""The import contract of pyproject.toml (``lint-imports``, run by ``make lint``) holds, and it
fails on a forbidden import: here, a copy of the package whose agent imports the CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter not installed")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(root / "src"))
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(
        REPO / "src" / "stacktap", root / "src" / "stacktap", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


def test_the_contract_holds(tmp_path: Path) -> None:
    done = _lint(_copy(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("module", "bad_import", "broken"),
    [
        ("agent/relay.py", "import stacktap.cli.main", "The agent and the shared core"),
        ("agent/recorder.py", "import click", "The agent and the shared core"),
        ("render/table.py", "import stacktap.store.sqlite", "Renderers write nothing"),
        ("model.py", "import stacktap.agent.relay", "No import cycles"),
    ],
)
def test_a_forbidden_import_is_caught(tmp_path: Path, module: str, bad_import: str, broken: str) -> None:
    root = _copy(tmp_path)
    path = root / "src" / "stacktap" / module
    path.write_text(path.read_text() + "\n" + bad_import + "\n")
    done = _lint(root)
    assert done.returncode != 0
    assert "Broken contracts" in done.stdout, done.stdout + done.stderr
    assert broken in done.stdout.split("Broken contracts", 1)[1]
