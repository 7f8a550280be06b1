"""``make demo``'s script (tools/demo.sh) where RabbitMQ is missing and cannot be installed.

The compute path (boot, show, report, delete) is what ``make demo`` does on this machine, which
has the packages; the fallback is checked here for real: in a mount namespace of its own,
RabbitMQ is made absent (its server scripts under an empty tmpfs, its stanza out of dpkg's
status file) and ``apt-get`` is replaced by one that fails as on a machine without the package,
so ``stacktap devcloud missing`` really finds it missing and the install really fails. The demo
then runs against the session dev cloud (its ``up`` reuses everything).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from stacktap.devcloud import rabbitmq
from stacktap.store import Store

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "tools" / "demo.sh"
INSTALL = REPO / "tools" / "install-debian-packages.sh"


def _namespaces_work() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    probe = ["unshare", "-m", "--propagation", "private", "mount", "-t", "tmpfs", "none", "/mnt"]
    return subprocess.run(probe, capture_output=True, timeout=30).returncode == 0


def test_without_rabbitmq_and_no_way_to_install_it_the_demo_says_so_and_lists_images(
    devcloud: Any, tmp_path: Path
) -> None:
    if not _namespaces_work():
        pytest.skip("needs root and `unshare -m` (a mount namespace) to hide RabbitMQ for real")
    if not devcloud.traced:
        pytest.skip("the demo runs --trace-servers: on an untraced session cloud it would restart it")
    apt = shutil.which("apt-get") or "/usr/bin/apt-get"
    failing_apt = tmp_path / "apt-get"
    failing_apt.write_text("#!/bin/sh\necho 'E: Unable to locate package rabbitmq-server' >&2\nexit 100\n")
    failing_apt.chmod(0o755)
    status = Path("/var/lib/dpkg/status")
    stanzas = status.read_text().split("\n\n")
    without = tmp_path / "dpkg-status"
    without.write_text("\n\n".join(s for s in stanzas if not s.startswith("Package: rabbitmq-server\n")))
    hide = (
        f"mount -t tmpfs none {rabbitmq.SERVER.parents[1]} && mount --bind {failing_apt} {apt}"
        f" && mount --bind {without} {status} && exec bash {DEMO}"
    )
    report = tmp_path / "demo-report.html"
    env = {
        **os.environ,
        "STACKTAP": devcloud.stacktap[0],
        "DEVCLOUD_DIR": str(devcloud.dir),
        "DEVCLOUD_DB": str(devcloud.db),
        "DEMO_REPORT": str(report),
        "TMPDIR": str(tmp_path),
    }
    began = time.time()
    done = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "bash", "-c", hide],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    said = [line for line in done.stderr.splitlines() if line.startswith("demo: ")]
    assert len(said) == 1, done.stderr
    assert "`apt-get install rabbitmq-server` failed" in said[0], said[0]
    assert "openstack image list" in said[0] and str(tmp_path) in said[0]  # names apt's output
    assert "Traceback" not in done.stderr
    # today's demo ran: the image list's call table (its devcloud-image) and its report
    assert "devcloud-image" in done.stdout and "/v2/images" in done.stdout
    assert report.is_file() and report.stat().st_size > 0
    with Store(str(devcloud.db), create=False) as store:
        mine = [run for run in store.runs() if run.kind == "command" and run.started >= began]
    ran = [(run.label, run.argv[-2:], run.exit_code) for run in mine]
    assert ran == [("demo", ["image", "list"], 0)]  # and no server create


def test_the_installer_says_in_one_line_when_it_may_not_install(tmp_path: Path) -> None:
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to run the installer as nobody")
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    done = subprocess.run(
        [*nobody, "bash", str(INSTALL), "bash", "stacktap-no-such-package"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "HOME": str(tmp_path)},
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "not root and no passwordless sudo, so no `apt-get install stacktap-no-such-package` (run it as root)"
    ]
    # nothing to do is success, as nobody too (bash is installed everywhere)
    ok = subprocess.run([*nobody, "bash", str(INSTALL), "bash"], capture_output=True, text=True, timeout=60)
    assert (ok.returncode, ok.stderr) == (0, "")
