from __future__ import annotations

from pathlib import Path

import pytest

from stacktap.paste.install import instrument_paste_ini
from stacktap.paste.pipeline import PasteConfig, PasteConfigError

DATA = Path(__file__).parent / "data"


def names(steps: list) -> list[str]:
    return [step.name for step in steps]


def test_nova_servers_detail_goes_through_the_keystone_pipeline() -> None:
    config = PasteConfig.from_file(str(DATA / "nova-api-paste.ini"))
    steps = config.resolve("/v2.1/servers/detail")
    assert names(steps) == [
        "osapi_compute", "openstack_compute_api_v21", "cors", "http_proxy_to_wsgi", "compute_req_id",
        "faultwrap", "request_log", "sizelimit", "osprofiler", "authtoken", "keystonecontext",
        "osapi_compute_app_v21",
    ]  # fmt: skip
    assert steps[0].kind == "urlmap" and steps[0].detail == "/v2.1/+ -> openstack_compute_api_v21"
    assert steps[1].factory == "call:nova.api.auth:pipeline_factory_v21"
    assert steps[-1].kind == "app" and steps[-1].factory == "nova.api.openstack.compute:APIRouterV21.factory"


def test_nova_version_document_paths_take_the_short_pipelines() -> None:
    config = PasteConfig.from_file(str(DATA / "nova-api-paste.ini"))
    assert names(config.resolve("/v2.1"))[-1] == "oscomputeversionapp_v2"
    assert names(config.resolve("/"))[-1] == "oscomputeversionapp"
    assert config.resolve("/", app="metadata")[-1].name == "metaapp"


def test_glance_flavor_picks_app_and_pipeline() -> None:
    config = PasteConfig.from_file(str(DATA / "glance-api-paste.ini"))
    steps = config.resolve("/v2/images", flavor="keystone")
    assert steps[0].name == "glance-api-keystone"
    assert "authtoken" in names(steps) and steps[-1].name == "apiv2app"
    plain = config.resolve("/v2/images")
    assert plain[0].name == "glance-api" and "unauthenticated-context" in names(plain)
    assert config.resolve("/healthcheck")[-1].name == "healthcheck"


def test_cinder_pipeline_follows_auth_strategy() -> None:
    config = PasteConfig.from_file(str(DATA / "cinder-api-paste.ini"))
    assert "authtoken" in names(config.resolve("/v3/p/volumes/detail"))
    noauth = config.resolve("/v3/p/volumes/detail", auth_strategy="noauth")
    assert "noauth" in names(noauth) and "authtoken" not in names(noauth)


def test_routes_list_every_urlmap_branch() -> None:
    config = PasteConfig.from_file(str(DATA / "nova-api-paste.ini"))
    assert [prefix for prefix, _ in config.routes()] == ["/", "/v2", "/v2.1", "/v2/+", "/v2.1/+"]


def test_instrumented_files_show_stacktap_and_original_factories() -> None:
    text = instrument_paste_ini((DATA / "nova-api-paste.ini").read_text(), "nova-api")
    steps = PasteConfig(text).resolve("/v2.1/servers")
    assert steps[2].name == "stacktap" and steps[2].factory == "stacktap.wsgi:filter_factory"
    authtoken = next(s for s in steps if s.name == "authtoken")
    assert authtoken.factory == "keystonemiddleware.auth_token:filter_factory"
    assert "timed by stacktap" in authtoken.detail


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[pipeline:main]\npipeline = nope app\n[app:app]\npaste.app_factory = m:f\n",
            "[pipeline:main] refers to 'nope'",
        ),
        (
            "[composite:main]\nuse = egg:Paste#urlmap\n/: other\n[pipeline:other]\npipeline = f main\n"
            "[filter:f]\npaste.filter_factory = m:f\n",
            "cyclic reference [composite:main] -> [pipeline:other]",
        ),
        ("[app:main\npaste.app_factory = m:f\n", "api-paste.ini:"),
        (
            "[composite:main]\nuse = call:x:pipeline_factory\nnoauth2 = f app\n"
            "[filter:f]\npaste.filter_factory = m:f\n[app:app]\npaste.app_factory = m:f\n"
            "[app:other]\npaste.app_factory = m:f\n",
            "[composite:main] has no pipeline",
        ),
    ],
)
def test_broken_configs_give_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(PasteConfigError) as info:
        PasteConfig(text).resolve("/")
    assert message in str(info.value)
    assert "\n" not in str(info.value)
