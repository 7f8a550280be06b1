"""``stacktap devcloud ide``: the configurations it makes and how it writes them, on a dev cloud
that needs no running service (its state file and a venv's site-packages directory)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from stacktap.cli.devcloud import devcloud
from stacktap.devcloud import ide
from stacktap.devcloud import state as state_file
from stacktap.devcloud.layout import Layout
from stacktap.devcloud.state import State

USER_FILE = """{
    // mine
    "version": "0.2.0",
    "configurations": [
        {"name": "My tests", "type": "debugpy", "request": "launch", "module": "pytest"},
    ]
}
"""


@pytest.fixture
def cloud(tmp_path: Path) -> Layout:
    layout = Layout(tmp_path / "cloud")
    layout.make_dirs()
    (layout.venv / "lib" / "python3.11" / "site-packages").mkdir(parents=True)
    state = State(
        ports={"keystone": 5000, "glance": 9292, "nova": 8774, "placement": 8778}, debug={"glance": 5678}
    )
    state_file.save(layout.state_file, state)
    return layout


def _facts(layout: Layout, attach: tuple[ide.Attach, ...] = ()) -> ide.Facts:
    state = state_file.load(layout.state_file)
    assert state is not None
    found = ide.facts(layout, state)
    return ide.Facts(found.python, found.openstack, found.env, found.site_packages, attach, found.db)


def _ide(layout: Layout, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(devcloud, ["ide", "--dir", str(layout.root), *args])
    return result.exit_code, result.stdout, result.stderr


def test_the_launch_configuration_uses_the_clouds_python_and_no_password(cloud: Layout) -> None:
    config = ide.launch_config(_facts(cloud), ["image", "list"], traced=False)
    assert config["name"] == "stacktap: openstack image list"
    assert (config["type"], config["request"], config["justMyCode"]) == ("debugpy", "launch", False)
    assert config["python"] == str(cloud.python) and config["program"] == str(cloud.bin / "openstack")
    assert config["args"] == ["image", "list"]
    assert config["env"] == {
        "OS_CLOUD": "stacktap-devcloud",
        "OS_CLIENT_CONFIG_FILE": str(cloud.clouds_yaml),
        "PATH": f"{cloud.bin}:${{env:PATH}}",
    }
    state = state_file.load(cloud.state_file)
    assert state is not None and state.password not in json.dumps(config)


def test_without_arguments_vs_code_asks_for_them(cloud: Layout) -> None:
    config = ide.launch_config(_facts(cloud), [], traced=False)
    assert (
        config["args"] == "${command:pickArgs}"
        and config["name"] == "stacktap: openstack (asks for arguments)"
    )


def test_traced_runs_the_clouds_openstack_under_stacktap_run(cloud: Layout) -> None:
    found = _facts(cloud)
    config = ide.launch_config(found, ["image", "list"], traced=True)
    assert config["name"] == "stacktap: openstack image list (traced)"
    assert config["python"] == sys.executable and Path(config["program"]).name == "stacktap"
    assert config["args"] == ["run", "--db", found.db, "--", found.python, found.openstack, "image", "list"]
    assert config["subProcess"] is True


def test_an_attach_configuration_maps_the_clouds_site_packages(cloud: Layout) -> None:
    found = _facts(cloud)
    config = ide.attach_config(found, ide.Attach("glance", "127.0.0.1", 5678))
    assert config["name"] == "stacktap: attach glance" and config["request"] == "attach"
    assert config["connect"] == {"host": "127.0.0.1", "port": 5678}
    site = str(cloud.venv / "lib" / "python3.11" / "site-packages")
    assert (
        config["pathMappings"] == [{"localRoot": site, "remoteRoot": site}] and config["justMyCode"] is False
    )


def test_only_running_services_get_an_attach_configuration(cloud: Layout) -> None:
    state = state_file.load(cloud.state_file)
    assert state is not None and state.debug == {"glance": 5678}
    assert ide.facts(cloud, state).attach == ()  # glance is in debug mode, but not running


def test_printed_facts_for_other_editors(cloud: Layout) -> None:
    lines = ide.printable(_facts(cloud, (ide.Attach("glance", "127.0.0.1", 5678),)), ["image", "list"])
    assert f"interpreter: {cloud.python}" in lines
    assert f"program: {cloud.bin / 'openstack'} image list" in lines
    assert f"env: PATH={cloud.bin}:$PATH" in lines and "env: OS_CLOUD=stacktap-devcloud" in lines
    assert "attach glance: 127.0.0.1:5678 (debugpy)" in lines


@pytest.mark.parametrize(
    ("given", "expected"),
    [("ws", "ws/.vscode/launch.json"), ("ws/.vscode", "ws/.vscode/launch.json"), ("a/b.json", "a/b.json")],
)
def test_vscode_names_a_file_a_vscode_dir_or_a_workspace(tmp_path: Path, given: str, expected: str) -> None:
    assert ide.launch_json_path(str(tmp_path / given)) == tmp_path / expected


def test_ide_merges_into_the_users_launch_json_and_says_what_it_did(cloud: Layout, tmp_path: Path) -> None:
    path = tmp_path / "ws" / ".vscode" / "launch.json"
    path.parent.mkdir(parents=True)
    path.write_text(USER_FILE)
    code, out, err = _ide(cloud, "--vscode", str(tmp_path / "ws"), "image", "list")
    assert code == 0, err
    text = path.read_text()
    assert '        {"name": "My tests", "type": "debugpy", "request": "launch", "module": "pytest"},' in text
    assert "// mine" in text
    assert f"wrote {path}:" in out and "added 'stacktap: openstack image list'" in out
    assert "kept 1 other configuration" in out
    code, out, _ = _ide(cloud, "--vscode", str(path), "image", "list")
    assert code == 0 and "replaced 'stacktap: openstack image list'" in out
    assert path.read_text() == text


def test_ide_refuses_a_launch_json_that_is_not_jsonc_and_leaves_it(cloud: Layout, tmp_path: Path) -> None:
    path = tmp_path / "launch.json"
    broken = '{\n    "configurations": [\n        {"name": "a"}\n        {"name": "b"}\n    ]\n}\n'
    path.write_text(broken)
    code, out, err = _ide(cloud, "--vscode", str(path))
    lines = [line for line in err.splitlines() if line.startswith("stacktap: ")]
    assert code == 1 and len(lines) == 1 and "Traceback" not in err
    assert f"{path} is not valid JSON with comments (line 4 column 9: " in lines[0]
    assert "left it untouched" in lines[0]
    assert path.read_text() == broken and out == ""


def test_ide_without_a_cloud_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(devcloud, ["ide", "--dir", str(tmp_path / "none")])
    assert result.exit_code == 1 and "no dev cloud in" in result.stderr
