"""The dev cloud's own virtualenv, pip-installed from the shipped constraints file."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from stacktap.devcloud.layout import Layout
from stacktap.errors import DevcloudError

#: What the dev cloud needs; versions come from the constraints file.
BASE_PACKAGES = ("keystone", "glance", "python-openstackclient", "gunicorn")
NOVA_PACKAGES = ("nova", "openstack-placement", "osc-placement")
#: ``--with compute``: neutron (nova's network API) and the driver for its MariaDB.
COMPUTE_PACKAGES = ("neutron", "PyMySQL")
MIN_PYTHON = (3, 10)

#: The ``pip freeze`` of a working install (keystone 30.0.0, glance 33.0.0, nova 34.0.0,
#: python-openstackclient 10.5.0), shipped inside the package so an installed stacktap finds it.
#: It also pins debugpy, installed only when ``up --debug`` or ``ide`` first needs it.
CONSTRAINTS = Path(__file__).with_name("constraints.txt")

_MARKER = ".stacktap-installed.json"


def packages(with_nova: bool, with_compute: bool = False) -> list[str]:
    wanted = list(BASE_PACKAGES) + (list(NOVA_PACKAGES) if with_nova else [])
    return wanted + (list(COMPUTE_PACKAGES) if with_nova and with_compute else [])


def check_python(python: str) -> tuple[int, int]:
    """The (major, minor) of interpreter ``python``; a clear error if it is missing or too old."""
    resolved = shutil.which(python)
    if not resolved:
        raise DevcloudError(f"--python {python}: no such interpreter")
    try:
        out = subprocess.run(
            [resolved, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except OSError as exc:
        raise DevcloudError(f"--python {python} cannot run: {exc}") from exc
    try:
        major, minor = (int(part) for part in out.stdout.strip().split("."))
    except ValueError:
        raise DevcloudError(f"--python {python} is not a Python interpreter") from None
    if (major, minor) < MIN_PYTHON:
        raise DevcloudError(
            f"--python {python} is Python {major}.{minor}; keystone, glance and nova need "
            f"{MIN_PYTHON[0]}.{MIN_PYTHON[1]} or newer"
        )
    return major, minor


def _wanted(with_nova: bool, with_compute: bool = False) -> dict[str, object]:
    return {
        "packages": packages(with_nova, with_compute),
        "constraints_sha256": hashlib.sha256(CONSTRAINTS.read_bytes()).hexdigest(),
    }


def is_installed(layout: Layout, with_nova: bool, with_compute: bool = False) -> bool:
    """True when an earlier ``up`` installed at least these packages with these constraints."""
    try:
        have = json.loads((layout.venv / _MARKER).read_text())
    except (OSError, ValueError):
        return False
    want = _wanted(with_nova, with_compute)
    return (
        layout.python.exists()
        and have.get("constraints_sha256") == want["constraints_sha256"]
        and set(want["packages"]) <= set(have.get("packages", ()))  # type: ignore[call-overload]
    )


def _venv_python_version(layout: Layout) -> str | None:
    try:
        for line in (layout.venv / "pyvenv.cfg").read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() in ("version", "version_info"):
                return ".".join(value.strip().split(".")[:2])
    except OSError:
        return None
    return None


def ensure(
    layout: Layout, python: str, with_nova: bool, say: Callable[[str], None], with_compute: bool = False
) -> None:
    """Create the venv with ``python`` (if missing) and pip-install the dev cloud into it."""
    if is_installed(layout, with_nova, with_compute):
        return
    major, minor = check_python(python)
    if not layout.python.exists():
        say(f"creating the virtualenv {layout.venv} with {python}")
        result = subprocess.run(
            [python, "-m", "venv", str(layout.venv)], capture_output=True, text=True, timeout=600
        )
        if result.returncode != 0:
            shutil.rmtree(layout.venv, ignore_errors=True)
            last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
            raise DevcloudError(f"{python} -m venv failed: {last[0]}")
    else:
        have = _venv_python_version(layout)
        if have and have != f"{major}.{minor}":
            raise DevcloudError(
                f"the virtualenv {layout.venv} uses Python {have}, not {python}'s {major}.{minor}: "
                "use that --python or another --dir"
            )
    wanted = packages(with_nova, with_compute)
    say(f"installing {', '.join(wanted)} into {layout.venv} (pip log: {layout.pip_log})")
    pip_install(layout, wanted)
    marker = layout.venv / _MARKER
    marker.write_text(json.dumps(_wanted(with_nova, with_compute), indent=2) + "\n")


def site_packages(layout: Layout) -> Path:
    """The dev cloud venv's site-packages (where keystone, glance, nova and OSC live)."""
    found = sorted(layout.venv.glob("lib/python*/site-packages"))
    if not found:
        raise DevcloudError(
            f"no site-packages in {layout.venv}: run `stacktap devcloud up --dir {layout.root}`"
        )
    return found[-1]


def pip_install(layout: Layout, wanted: list[str]) -> None:
    """``pip install -c constraints.txt WANTED`` with the venv's pip; a one-line error naming the log."""
    layout.logs.mkdir(parents=True, exist_ok=True)
    command = [str(layout.python), "-m", "pip", "install", "-c", str(CONSTRAINTS), *wanted]
    env = dict(os.environ)
    for name in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV", "PIP_USER"):
        env.pop(name, None)
    with open(layout.pip_log, "ab") as log:
        log.write(f"\n$ {' '.join(command)}\n".encode())
        log.flush()
        code = subprocess.call(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
    if code != 0:
        raise DevcloudError(
            f"pip install into {layout.venv} failed (exit {code}): {_last_error(layout.pip_log)}; "
            f"read {layout.pip_log}"
        )


def _last_error(log: Path) -> str:
    """The last ``ERROR:`` line pip wrote: usually says which package could not be had."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return "no log"
    errors = [line.strip() for line in lines if line.startswith("ERROR:")]
    return errors[-1][:200] if errors else "see the log"
