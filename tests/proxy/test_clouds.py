"""The cloud of ``clouds.yaml`` for ``run --proxy``: which cloud the command names, which file
openstacksdk would read, one-line errors that quote no line of the file, and the private copy
(0600 in a 0700 directory, only ``auth.auth_url`` changed, removed by ``close``)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import yaml

from stacktap.proxy import PrivateCopy, ProxyError, cloud_name, find_clouds_yaml, load_cloud

SECRET = "s3cr3t-pw-do-not-leak"


def _clouds(auth_url: str = "http://127.0.0.1:1/v3") -> dict:
    return {
        "clouds": {
            "mine": {
                "auth": {"auth_url": auth_url, "username": "u", "password": SECRET, "project_name": "p"},
                "region_name": "RegionOne",
            },
            "other": {"auth": {"auth_url": "http://elsewhere:5000/v3"}},
            "no-url": {"auth": {"username": "u"}},
        }
    }


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty home and working directory: no clouds.yaml anywhere but where a test writes one."""
    home = tmp_path / "home"
    work = tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    return home


@pytest.mark.parametrize(
    ("argv", "environ", "expected"),
    [
        (["openstack", "--os-cloud", "a", "server", "list"], {}, "a"),
        (["openstack", "--os-cloud=a", "server", "list"], {"OS_CLOUD": "b"}, "a"),
        (["openstack", "--os-cloud", "a", "--os-cloud", "c"], {}, "c"),
        (["openstack", "server", "list"], {"OS_CLOUD": "b"}, "b"),
        (["openstack", "server", "list"], {}, None),
        (["openstack", "--os-cloud"], {}, None),
        (["--os-cloud", "x"], {}, None),  # NOTE: the program's name is no option of its own
    ],
)
def test_cloud_name_from_argv_first_then_os_cloud(
    argv: list[str], environ: dict, expected: str | None
) -> None:
    assert cloud_name(argv, environ) == expected


def test_clouds_yaml_found_where_openstacksdk_looks_first_one_wins(home: Path, tmp_path: Path) -> None:
    assert find_clouds_yaml({}) is None
    user = home / ".config" / "openstack" / "clouds.yaml"
    user.parent.mkdir(parents=True)
    user.write_text("clouds: {}\n")
    assert find_clouds_yaml({}) == str(user)
    here = Path.cwd() / "clouds.yaml"
    here.write_text("clouds: {}\n")
    assert find_clouds_yaml({}) == str(here)
    chosen = tmp_path / "chosen.yaml"
    chosen.write_text("clouds: {}\n")
    assert find_clouds_yaml({"OS_CLIENT_CONFIG_FILE": str(chosen)}) == str(chosen)
    # NOTE: a $OS_CLIENT_CONFIG_FILE that does not exist: the SDK goes on with the others
    assert find_clouds_yaml({"OS_CLIENT_CONFIG_FILE": str(tmp_path / "gone.yaml")}) == str(here)


def test_load_cloud_takes_its_auth_url_and_tls_settings(home: Path) -> None:
    document = _clouds("https://keystone.example:5000/v3")
    document["clouds"]["mine"].update({"verify": False, "cacert": "/ca.pem"})
    Path("clouds.yaml").write_text(yaml.safe_dump(document))
    cloud = load_cloud("mine", {})
    assert cloud.auth_url == "https://keystone.example:5000/v3"
    assert (cloud.cacert, cloud.insecure) == ("/ca.pem", True)
    assert SECRET not in repr(cloud)
    assert load_cloud("other", {"OS_CACERT": "/env.pem"}).cacert == "/env.pem"


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("absent", None, "no cloud 'absent' in "),
        ("no-url", None, "cloud 'no-url' in "),
        ("mine", f"clouds:\n  mine:\n    auth: {{password: {SECRET}\n", "cannot read "),
        ("mine", "[1, 2]\n", "no cloud 'mine' in "),
    ],
)
def test_bad_cloud_is_one_line_quoting_no_secret(
    home: Path, name: str, text: str | None, message: str
) -> None:
    Path("clouds.yaml").write_text(text if text is not None else yaml.safe_dump(_clouds()))
    with pytest.raises(ProxyError) as caught:
        load_cloud(name, {})
    said = str(caught.value)
    assert message in said and "\n" not in said and SECRET not in said


def test_no_clouds_yaml_is_one_line(home: Path) -> None:
    with pytest.raises(ProxyError, match=r"no clouds\.yaml found"):
        load_cloud("mine", {})


def test_private_copy_is_0600_in_0700_dir_changes_only_auth_url_and_is_removed(home: Path) -> None:
    original = yaml.safe_dump(_clouds())
    Path("clouds.yaml").write_text(original)
    cloud = load_cloud("mine", {})
    copy = PrivateCopy(cloud, "http://127.0.0.1:9/_o/0/v3")
    try:
        assert stat.S_IMODE(os.stat(copy.path).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(copy.directory).st_mode) == 0o700
        expected = _clouds()
        expected["clouds"]["mine"]["auth"]["auth_url"] = "http://127.0.0.1:9/_o/0/v3"
        assert yaml.safe_load(Path(copy.path).read_text()) == expected
        assert Path("clouds.yaml").read_text() == original  # NOTE: the user's file untouched
        assert cloud.document == _clouds()
    finally:
        copy.close()
    assert not os.path.exists(copy.directory)
    copy.close()  # NOTE: twice is harmless
