"""Tiny but real OpenStackClient look-alikes, pip-installed into a temp venv.

``fakeosc`` has the shape OSC has (an API plugin module in ``openstack.cli.base``,
commands in ``openstack.compute.v2`` and ``.v3``, ``openstack.common``, an ``openstack``
console script); ``fakeplugin`` is a third-party plugin (``openstack.cli.extension``,
``openstack.database.v1``), like python-troveclient.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import textwrap
import zipfile
from pathlib import Path

SERVER_V2 = '''\
"""Compute v2 server commands."""


class Command:
    """A base class with a generic docstring."""

    def take_action(self, parsed_args):
        return None


class ListServer(Command):
    """List servers"""

    def take_action(self, parsed_args):
        return "v2"


class ShowServer(Command):
    """Show server details"""
'''

FAKEOSC = {
    "fakeosc/__init__.py": "",
    "fakeosc/shell.py": "def main():\n    return 0\n",
    "fakeosc/common.py": "class ShowQuota:\n    '''Show quotas'''\n",
    "fakeosc/compute/__init__.py": "",
    "fakeosc/compute/client.py": (
        "API_NAME = 'compute'\nAPI_VERSION_OPTION = 'os_compute_api_version'\nDEFAULT_API_VERSION = '2.1'\n"
    ),
    "fakeosc/compute/v2/__init__.py": "",
    "fakeosc/compute/v2/server.py": SERVER_V2,
    "fakeosc/compute/v3/__init__.py": "",
    "fakeosc/compute/v3/server.py": "class ListServer:\n    '''List servers (v3)'''\n",
}
FAKEOSC_ENTRY_POINTS = {
    "console_scripts": ["openstack = fakeosc.shell:main"],
    "openstack.cli": ["module_list = fakeosc.common:ShowQuota"],
    "openstack.cli.base": ["compute = fakeosc.compute.client"],
    "openstack.compute.v2": [
        "server_list = fakeosc.compute.v2.server:ListServer",
        "server_show = fakeosc.compute.v2.server:ShowServer",
    ],
    "openstack.compute.v3": ["server_list = fakeosc.compute.v3.server:ListServer"],
    "openstack.common": ["quota_show = fakeosc.common:ShowQuota"],
}

FAKEPLUGIN = {
    "fakeplugin/__init__.py": "",
    "fakeplugin/client.py": (
        "API_NAME = 'database'\nAPI_VERSION_OPTION = 'os_database_api_version'\nDEFAULT_API_VERSION = '1'\n"
    ),
    "fakeplugin/v1/__init__.py": "",
    "fakeplugin/v1/instances.py": "class ListDatabaseInstances:\n    '''List database instances'''\n",
}
FAKEPLUGIN_ENTRY_POINTS = {
    "openstack.cli.extension": ["database = fakeplugin.client"],
    "openstack.database.v1": ["database_instance_list = fakeplugin.v1.instances:ListDatabaseInstances"],
}


def build_wheel(root: Path, name: str, files: dict[str, str], entry_points: dict[str, list[str]]) -> Path:
    """A pure-Python wheel of ``name`` (built by hand: no setuptools/wheel needed offline)."""
    dist_info = f"{name}-1.0.dist-info"
    contents = {relative: textwrap.dedent(text) for relative, text in files.items()}
    contents[dist_info + "/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n"
    contents[dist_info + "/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: stacktap-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    contents[dist_info + "/entry_points.txt"] = "".join(
        "[{}]\n{}\n\n".format(group, "\n".join(items)) for group, items in entry_points.items()
    )
    record = []
    for relative, text in contents.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{relative},sha256={digest},{len(text.encode())}")
    record.append(dist_info + "/RECORD,,")
    contents[dist_info + "/RECORD"] = "\n".join(record) + "\n"
    wheel = root / (f"{name}-1.0-py3-none-any.whl")
    with zipfile.ZipFile(wheel, "w") as archive:
        for relative, text in contents.items():
            archive.writestr(relative, text)
    return wheel


def make_venv(python: str, where: Path) -> Path:
    """A venv (with pip and setuptools) made by ``python``; returns its bin directory."""
    subprocess.run([python, "-m", "venv", str(where)], check=True, capture_output=True, timeout=300)
    return where / "bin"


def pip_install(bin_dir: Path, project: Path) -> None:
    """A real, offline pip install of a local wheel into the venv."""
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    env.pop("PYTHONPATH", None)
    subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "--no-index", "--no-deps", str(project)],
        check=True,
        capture_output=True,
        timeout=300,
        env=env,
    )
