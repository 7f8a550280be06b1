"""The session fixture ``devcloud``: a real keystone, glance, nova, placement and neutron on 127.0.0.1,
with nova's conductor, scheduler and compute (fake driver) over a RabbitMQ of the cloud's own.

It runs ``stacktap devcloud up --dir D --with compute --trace-servers --db D/stacktap.db`` (through the
installed console script), which reuses a cloud that is already up. D is
``$STACKTAP_TEST_DEVCLOUD_DIR``, default ``<repo>/.devcloud``. When this stacktap lacks the
server-tracing pieces the cloud comes up untraced (``traced`` is False). A cloud that cannot come
up makes every test using the fixture fail (never skip). The cloud is left running at the end:
``stacktap devcloud down`` stops it (``make test`` does, when it found it down).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from stacktap.devcloud import clouds, lifecycle, tracing
from stacktap.devcloud.services import selected

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Devcloud:
    """What e2e tests need to drive the dev cloud and check what it recorded."""

    dir: Path
    #: os.environ + the admin's OS_* variables + PATH with the dev cloud's venv bin first
    env: dict[str, str]
    bin: Path
    python: Path
    openstack: Path
    #: the store the traced services write to
    db: Path
    #: service name (keystone, glance, nova) -> root URL, e.g. http://127.0.0.1:35357
    urls: dict[str, str]
    password: str
    traced: bool
    #: how to run this stacktap's CLI (the installed console script)
    stacktap: tuple[str, ...] = ()

    def run_openstack(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``openstack ARGS`` as the admin, untraced; with ``check``, a failure fails the test."""
        done = subprocess.run(
            [str(self.openstack), *args], env=self.env, capture_output=True, text=True, timeout=300
        )
        if check:
            assert done.returncode == 0, f"openstack {' '.join(args)}: {done.stderr[-2000:]}"
        return done

    def openstack_json(self, *args: str) -> Any:
        """What ``openstack ARGS -f json`` prints, parsed."""
        return json.loads(self.run_openstack(*args, "-f", "json").stdout)


def stacktap_command() -> list[str]:
    """The installed ``stacktap`` console script next to this Python (else the module)."""
    script = Path(sys.executable).parent / "stacktap"
    if script.exists():
        return [str(script)]
    found = shutil.which("stacktap")
    if found:
        return [found]
    return [sys.executable, "-c", "from stacktap.cli.main import main; main()"]


def devcloud_dir() -> Path:
    return Path(os.environ.get("STACKTAP_TEST_DEVCLOUD_DIR") or REPO / ".devcloud").absolute()


@pytest.fixture(scope="session")
def devcloud() -> Devcloud:
    directory = devcloud_dir()
    db = directory / "stacktap.db"
    traced = tracing.missing() is None
    # NOTE: the whole cloud, compute side included: servers boot, and what a command does past
    # nova-api (conductor, scheduler, compute, placement, neutron) is there to trace.
    command = [*stacktap_command(), "devcloud", "up", "--dir", str(directory), "--with", "compute"]
    # NOTE: explicit either way, so a cloud traced by an earlier run follows what this one can do.
    command += ["--trace-servers", "--db", str(db)] if traced else ["--no-trace-servers"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=1500, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        tail = result.stderr.strip()[-2000:]
        pytest.fail(f"the dev cloud did not come up ({' '.join(command)}): {tail}", pytrace=False)
    layout, state, _ = lifecycle.status(str(directory))
    return Devcloud(
        dir=directory,
        env=clouds.client_env(layout, state),
        bin=layout.bin,
        python=layout.python,
        openstack=layout.bin / "openstack",
        db=db,
        urls={
            spec.name: spec.root_url(state.ports[spec.name])
            for spec in selected(state.with_nova, state.with_compute)
        },
        password=state.password,
        traced=state.trace_servers,
        stacktap=tuple(stacktap_command()),
    )
