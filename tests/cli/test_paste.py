from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from stacktap.cli.main import cli

DATA = Path(__file__).parent.parent / "wsgi" / "data"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["paste", "show", *args])
    return result.exit_code, result.stdout, result.stderr


def test_show_prints_the_chain_for_a_path() -> None:
    code, out, _ = run(str(DATA / "nova-api-paste.ini"), "/v2.1/servers/detail")
    assert code == 0
    assert "| 1  | urlmap   | osapi_compute" in out
    assert "keystonemiddleware.auth_token:filter_factory" in out
    assert out.index("authtoken") < out.index("osapi_compute_app_v21")


def test_show_json_and_value_formats() -> None:
    code, out, _ = run(str(DATA / "glance-api-paste.ini"), "/v2/images", "--flavor", "keystone", "-f", "json")
    assert code == 0
    steps = json.loads(out)
    assert steps[-1] == {
        "kind": "app",
        "name": "apiv2app",
        "factory": "glance.api.v2.router:API.factory",
        "detail": "",
    }
    code, out, _ = run(
        str(DATA / "cinder-api-paste.ini"), "/v3/p/volumes", "--auth-strategy", "noauth", "-f", "value"
    )
    assert code == 0 and " noauth " in out


def test_show_without_a_path_lists_the_branches() -> None:
    code, out, _ = run(str(DATA / "nova-api-paste.ini"), "-f", "value")
    assert code == 0
    assert out.splitlines()[-1].startswith("/v2.1/+ cors > http_proxy_to_wsgi")


def test_errors_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "api-paste.ini"
    bad.write_text("[pipeline:main]\npipeline = missing app\n[app:app]\npaste.app_factory = m:f\n")
    code, out, err = run(str(bad), "/")
    assert code == 1 and out == ""
    assert err.startswith("stacktap: ") and "[pipeline:main] refers to 'missing'" in err
    assert err.count("\n") == 1
    code, _, err = run(str(tmp_path / "nope.ini"))
    assert code == 1 and err.startswith("stacktap: cannot read")
    code, _, err = run(str(DATA / "nova-api-paste.ini"), "/", "--app", "nothere")
    assert code == 1 and "'nothere'" in err
