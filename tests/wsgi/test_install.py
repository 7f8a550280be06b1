from __future__ import annotations

import configparser
from pathlib import Path

import pytest

from stacktap.paste.install import instrument_paste_ini

DATA = Path(__file__).parent / "data"


def parse(text: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return parser


def test_nova_pipelines_and_composites_start_with_stacktap() -> None:
    text = instrument_paste_ini((DATA / "nova-api-paste.ini").read_text(), "nova-api")
    ini = parse(text)
    assert ini["composite:openstack_compute_api_v21"]["keystone"].split()[:2] == ["stacktap", "cors"]
    assert ini["pipeline:oscomputeversions"]["pipeline"].split()[0] == "stacktap"
    assert ini["pipeline:meta"]["pipeline"].split()[0] == "stacktap"
    assert ini["filter:stacktap"]["service"] == "nova-api"
    assert ini["filter:stacktap"]["paste.filter_factory"] == "stacktap.wsgi:filter_factory"
    # urlmap entries are left alone
    assert ini["composite:osapi_compute"]["/v2.1/+"] == "openstack_compute_api_v21"
    assert "# v21 is an exactly feature match" in text


def test_filters_are_wrapped_for_layer_timing() -> None:
    ini = parse(instrument_paste_ini((DATA / "glance-api-paste.ini").read_text(), "glance-api"))
    authtoken = ini["filter:authtoken"]
    assert authtoken["paste.filter_factory"] == "stacktap.wsgi.layers:layer_filter_factory"
    assert authtoken["stacktap.factory"] == "keystonemiddleware.auth_token:filter_factory"
    assert authtoken["stacktap.layer"] == "authtoken"
    assert authtoken["delay_auth_decision"] == "true"
    assert ini["composite:api"]["keystone"].split()[0] == "stacktap"
    assert ini["composite:glance-api"]["/"] == "api"


def test_egg_and_filter_app_factories_are_wrapped_with_their_kind() -> None:
    text = "[filter:a]\nuse = egg:PasteDeploy#prefix\n[filter:b]\npaste.filter_app_factory = m:f\n"
    ini = parse(instrument_paste_ini(text, "s"))
    assert ini["filter:a"]["stacktap.factory"] == "egg:PasteDeploy#prefix"
    assert "use" not in ini["filter:a"]
    assert ini["filter:b"]["stacktap.kind"] == "filter_app"


def test_without_layers_only_the_pipelines_change() -> None:
    ini = parse(instrument_paste_ini((DATA / "nova-api-paste.ini").read_text(), "nova-api", layers=False))
    assert ini["filter:authtoken"]["paste.filter_factory"] == "keystonemiddleware.auth_token:filter_factory"
    assert ini["filter:stacktap"]["layers"] == "false"


def test_multi_line_pipelines_keep_their_shape() -> None:
    text = "[pipeline:main]\npipeline =\n    cors\n    app\n[filter:cors]\npaste.filter_factory = m:f\n"
    out = instrument_paste_ini(text, "s", layers=False)
    assert "pipeline =\n    stacktap cors\n    app\n" in out


def test_instrumenting_twice_changes_nothing() -> None:
    once = instrument_paste_ini((DATA / "cinder-api-paste.ini").read_text(), "cinder-api")
    assert instrument_paste_ini(once, "cinder-api") == once
    assert parse(once)["composite:openstack_volume_api_v3"]["noauth"].split()[0] == "stacktap"


def test_a_file_configparser_cannot_read_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"api-paste\.ini"):
        instrument_paste_ini("[filter:x\nuse = y\n", "s")
