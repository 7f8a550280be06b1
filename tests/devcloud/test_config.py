"""The ini files: the settings the issue asks for, paste files copied and instrumented, clouds.yaml."""

from __future__ import annotations

import configparser
import stat
from pathlib import Path

import yaml

from stacktap.devcloud import clouds, config
from stacktap.devcloud.layout import Layout
from stacktap.devcloud.state import State


def _cloud(tmp_path: Path) -> tuple[Layout, State]:
    layout = Layout(tmp_path / "cloud")
    layout.make_dirs()
    for shipped in config.SHIPPED_PASTE.values():
        path = layout.venv / shipped
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("[pipeline:main]\npipeline = cors app\n")
    return layout, State(ports={"keystone": 5000, "glance": 9292, "nova": 8774})


def _ini(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    parser.read(path)
    return parser


def test_write_all_settings_and_instrumented_paste(tmp_path: Path) -> None:
    layout, state = _cloud(tmp_path)
    seen: list[str] = []

    def instrument(text: str, service: str) -> str:
        seen.append(service)
        return text.replace("pipeline = ", "pipeline = stacktap ")

    config.write_all(layout, state, ["keystone", "glance", "nova"], instrument)
    keystone = _ini(layout.etc("keystone") / "keystone.conf")
    assert keystone.get("identity", "password_hash_rounds") == "4"
    assert keystone.get("token", "provider") == "fernet"
    assert keystone.get("database", "connection") == "sqlite:///%s" % (layout.data / "keystone.sqlite")
    glance = _ini(layout.etc("glance") / "glance-api.conf")
    assert glance.get("paste_deploy", "flavor") == "keystone"
    assert glance.get("glance_store", "default_store") == "file"
    assert glance.get("keystone_authtoken", "auth_url") == "http://127.0.0.1:5000"
    nova = _ini(layout.etc("nova") / "nova.conf")
    assert nova.get("DEFAULT", "transport_url") == "fake://"
    assert "nova_api.sqlite" in nova.get("api_database", "connection")
    assert seen == ["glance-api", "nova-api"]
    assert "pipeline = stacktap cors app" in (layout.etc("nova") / "api-paste.ini").read_text()
    assert stat.S_IMODE((layout.etc("glance") / "glance-api.conf").stat().st_mode) == 0o600


def test_with_compute_keystone_and_placement_are_on_mariadb_and_resize_stays_on_the_host(
    tmp_path: Path,
) -> None:
    layout, state = _cloud(tmp_path)
    state.with_compute = True
    keystone = config.keystone_conf(layout, state)["database"]["connection"]
    assert keystone.startswith("mysql+pymysql://") and keystone.split("?")[0].endswith("/keystone")
    placement = config.placement_conf(layout, state)["placement_database"]["connection"]
    assert placement.startswith("mysql+pymysql://") and placement.split("?")[0].endswith("/placement")
    assert config.nova_conf(layout, state)["DEFAULT"]["allow_resize_to_same_host"] == "true"
    # every service's file changes with the switch, so up restarts them (new admin user)
    for conf in (config.glance_conf, config.nova_conf, config.neutron_conf, config.placement_conf):
        assert conf(layout, state)["keystone_authtoken"]["service_token_roles_required"] == "true"
    state.with_compute = False
    assert config.glance_conf(layout, state)["keystone_authtoken"]["service_token_roles_required"] == "false"


def test_untraced_paste_is_the_shipped_one(tmp_path: Path) -> None:
    layout, state = _cloud(tmp_path)
    config.write_all(layout, state, ["glance"])
    assert (
        layout.etc("glance") / "glance-api-paste.ini"
    ).read_text() == "[pipeline:main]\npipeline = cors app\n"


def test_clouds_yaml_names_the_cloud_and_is_private(tmp_path: Path) -> None:
    layout, state = _cloud(tmp_path)
    path = clouds.write_clouds_yaml(layout, state)
    cloud = yaml.safe_load(path.read_text())["clouds"]["stacktap-devcloud"]
    assert (
        cloud["auth"]["auth_url"] == "http://127.0.0.1:5000/v3"
        and cloud["auth"]["password"] == state.password
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert clouds.os_env(layout, state)["OS_CLIENT_CONFIG_FILE"] == str(path)
