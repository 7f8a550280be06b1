"""The environment ``stacktap run`` relies on, for ``stacktap doctor``: that a Python loads
the bootstrap (and so records its calls), and that the collector can listen.

Runs in stacktap's own process.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
from typing import List, Optional, Tuple

from stacktap.launcher.env import tracing_env

#: What the probe prints: whether the bootstrap installed its import hook, and the version.
_PROBE = "import sys; print('stacktap.agent.import_hook' in sys.modules, '%d.%d' % sys.version_info[:2])"


def check_python(python: str, db: str) -> Tuple[bool, str]:
    """(fine, what to say) for one Python run with the tracing environment of store ``db``."""
    program = shutil.which(python) or python
    env = tracing_env(db, run_id="doctor")
    try:
        probe = subprocess.run([program, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        return False, "cannot run %s: %s" % (python, exc)
    words = probe.stdout.split()
    if probe.returncode or len(words) != 2:
        reason = (probe.stderr.strip().splitlines() or ["exit code %d" % probe.returncode])[-1]
        return False, "%s does not start with the bootstrap: %s" % (program, reason)
    loaded, version = words
    if loaded != "True":
        detail = probe.stderr.strip().splitlines()
        why = detail[-1] if detail else "Python %s (3.8 or newer is needed)" % version
        return False, "%s does not load the bootstrap: %s" % (program, why)
    return True, "%s (Python %s) loads the bootstrap" % (program, version)


def default_pythons() -> List[str]:
    """The Pythons worth probing: ``python3`` on ``PATH`` (what commands usually run)."""
    found = shutil.which("python3")
    return [found] if found else []


def check_collector_dir() -> Tuple[bool, str]:
    """(fine, what to say): whether a collector socket can be made where ``stacktap run``
    makes it (``$TMPDIR`` or ``/tmp``)."""
    from stacktap.launcher.collector import _private_dir

    base = os.environ.get("TMPDIR") or "/tmp"
    try:
        directory = _private_dir()
    except OSError as exc:
        return (
            False,
            "collector socket dir %s is not writable: %s (calls are then stored by each process, slower)"
            % (base, exc),
        )
    address = os.path.join(directory, "collector.sock")
    error: Optional[str] = None
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.bind(address)
    except OSError as exc:
        error = str(exc)
    finally:
        for remove, name in ((os.unlink, address), (os.rmdir, directory)):
            with contextlib.suppress(OSError):
                remove(name)
    if error is not None:
        return False, "cannot listen on a collector socket in %s: %s" % (base, error)
    return True, "collector socket dir %s is writable" % base
