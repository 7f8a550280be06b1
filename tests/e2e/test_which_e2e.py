"""``stacktap which`` against the dev cloud's own python-openstackclient (its venv)."""

from __future__ import annotations

import json
import subprocess

import pytest

pytestmark = pytest.mark.e2e


def _which(devcloud, *args: str) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return subprocess.run(
        [*devcloud.stacktap, "which", "--openstack", str(devcloud.openstack), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=devcloud.env,
        check=False,
    )


def test_server_list_is_list_server(devcloud) -> None:  # type: ignore[no-untyped-def]
    result = _which(devcloud, "-f", "json", "openstack", "server", "list", "--long")
    assert result.returncode == 0, result.stderr
    match = json.loads(result.stdout)["match"]
    assert "{}:{}".format(match["module"], match["class"]) == "openstackclient.compute.v2.server:ListServer"
    assert match["file"].endswith("openstackclient/compute/v2/server.py")
    assert match["arguments"] == ["--long"]


def test_image_list_text(devcloud) -> None:  # type: ignore[no-untyped-def]
    result = _which(devcloud, "image", "list")
    assert result.returncode == 0, result.stderr
    assert "openstackclient.image.v2.image:ListImage" in result.stdout


def test_typo_suggests_and_fails(devcloud) -> None:  # type: ignore[no-untyped-def]
    result = _which(devcloud, "openstack", "imgae", "lsit")
    assert result.returncode == 1
    assert result.stderr.startswith(
        "stacktap: unknown command 'openstack imgae lsit'; did you mean: image list"
    )
    assert len(result.stderr.strip().splitlines()) == 1
