"""``which`` end to end against real installs: fake OSC-shaped packages pip-installed into
temp venvs (on Python 3.8 and on this Python), and the real OSC named by
``$STACKTAP_TEST_OPENSTACK`` when set."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from fake_osc import (
    FAKEOSC,
    FAKEOSC_ENTRY_POINTS,
    FAKEPLUGIN,
    FAKEPLUGIN_ENTRY_POINTS,
    build_wheel,
    make_venv,
    pip_install,
)
from tests.fixtures.pythons import PY38

from stacktap.which import WhichError, describe, resolve_command

PYTHONS = [p for p in (PY38, sys.executable) if os.path.exists(p)]


@pytest.fixture(scope="module", params=PYTHONS, ids=lambda p: "py" + Path(p).parts[-3][-6:])
def fake_openstack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("fakeosc")
    bin_dir = make_venv(request.param, root / "venv")
    pip_install(bin_dir, build_wheel(root, "fakeosc", FAKEOSC, FAKEOSC_ENTRY_POINTS))
    pip_install(bin_dir, build_wheel(root, "fakeplugin", FAKEPLUGIN, FAKEPLUGIN_ENTRY_POINTS))
    return str(bin_dir / "openstack")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(extra)
    return env


def test_resolves_class_file_line_and_take_action(fake_openstack: str) -> None:
    answer = resolve_command(["openstack", "server", "list", "--long"], fake_openstack, env=_env())
    match = answer["match"]
    assert (match["module"], match["class"]) == ("fakeosc.compute.v2.server", "ListServer")
    assert match["file"].endswith("fakeosc/compute/v2/server.py")
    assert match["line"] == 11  # "class ListServer(Command):"
    assert match["take_action"]["line"] == 14 and match["take_action"]["class"] == "ListServer"
    assert match["summary"] == "List servers"
    assert match["arguments"] == ["--long"]
    assert match["entry_point"]["group"] == "openstack.compute.v2"
    assert match["entry_point"]["dist"] == "fakeosc"
    # It ran in the venv's own Python, not stacktap's.
    assert answer["python"].startswith(str(Path(fake_openstack).parent))
    assert "openstack server list" in describe(answer)


def test_inherited_take_action_points_at_the_base_class(fake_openstack: str) -> None:
    match = resolve_command(["server", "show", "vm1"], fake_openstack, env=_env())["match"]
    assert match["class"] == "ShowServer" and match["take_action"]["class"] == "Command"


def test_api_version_from_the_environment_picks_the_group(fake_openstack: str) -> None:
    match = resolve_command(["server", "list"], fake_openstack, env=_env(OS_COMPUTE_API_VERSION="3"))["match"]
    assert match["module"] == "fakeosc.compute.v3.server"


def test_plugin_installed_in_that_venv(fake_openstack: str) -> None:
    answer = resolve_command(["database", "instance", "list"], fake_openstack, env=_env())
    match = answer["match"]
    assert (match["module"], match["class"]) == ("fakeplugin.v1.instances", "ListDatabaseInstances")
    assert match["entry_point"]["group"] == "openstack.database.v1"
    assert "openstack.database.v1" in answer["groups"]


def test_typo_gives_suggestions(fake_openstack: str) -> None:
    answer = resolve_command(["sever", "lsit"], fake_openstack, env=_env())
    assert answer["match"] is None
    assert answer["suggestions"][0] == "server list"


def test_no_command_words(fake_openstack: str) -> None:
    with pytest.raises(WhichError, match="which command"):
        resolve_command(["openstack"], fake_openstack, env=_env())
