"""``stacktap which`` against the dev cloud's own python-openstackclient (its venv)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

# NOTE: the fake plugin's wheel builder lives with the unit tests of ``which``.
from tests.which.fake_osc import FAKEPLUGIN, FAKEPLUGIN_ENTRY_POINTS, build_wheel, make_venv, pip_install

from stacktap.which import resolve_command

pytestmark = pytest.mark.e2e


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("OS_")}


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


def test_resolve_in_the_real_osc_venv(devcloud) -> None:  # type: ignore[no-untyped-def]
    """The resolver run inside the dev cloud's own venv (not stacktap's) finds OSC's classes."""
    real = str(devcloud.openstack)
    server = resolve_command(["openstack", "server", "list"], real, env=_env())["match"]
    assert "{}:{}".format(server["module"], server["class"]) == "openstackclient.compute.v2.server:ListServer"
    image = resolve_command(["image", "list"], real, env=_env())["match"]
    assert image["class"] == "ListImage" and image["module"] == "openstackclient.image.v2.image"


def test_plugin_in_a_venv_layered_on_the_real_osc(devcloud, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A plugin installed in a venv that sees the real OSC: ``database instance list``."""
    real = Path(devcloud.openstack)
    bin_dir = make_venv(str(real.parent / "python"), tmp_path / "venv")
    site = next((tmp_path / "venv" / "lib").glob("python3.*/site-packages"))
    osc_site = next((real.parent.parent / "lib").glob("python3.*/site-packages"))
    (site / "zz_osc.pth").write_text(str(osc_site) + "\n")
    pip_install(bin_dir, build_wheel(tmp_path, "fakeplugin", FAKEPLUGIN, FAKEPLUGIN_ENTRY_POINTS))
    script = bin_dir / "openstack"
    lines = real.read_text().splitlines(keepends=True)
    script.write_text(f"#!{bin_dir / 'python'}\n" + "".join(lines[1:]))
    script.chmod(0o755)
    answer = resolve_command(["database", "instance", "list"], str(script), env=_env())
    assert answer["match"]["class"] == "ListDatabaseInstances"
    assert resolve_command(["server", "list"], str(script), env=_env())["match"]["class"] == "ListServer"
    shutil.rmtree(tmp_path / "venv")
