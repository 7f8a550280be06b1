"""The classic log dump: exact block layout, bodies, errors, which calls are printed."""

from __future__ import annotations

from pathlib import Path

import pytest
from inspect_traces import write_sample

from stacktap.render.log import RULE_WIDTH, render_log, rule


def test_rules_are_padded_to_a_fixed_width() -> None:
    assert rule("REQUEST", 3) == "----- REQUEST [3] ------------------------------"
    assert rule("END OF REQUEST", 3) == "----- END OF REQUEST [3] -----------------------"
    assert {len(rule(t, 12)) for t in ("REQUEST", "RESPONSE", "ERROR", "END OF REQUEST")} == {RULE_WIDTH}


def test_one_call_block_is_exactly_the_classic_dump(tmp_path: Path) -> None:
    trace = write_sample(tmp_path / "s.db")
    assert render_log(trace, [1]) == (
        "# [1] keystone (identity) | openstackclient/image/v2/image.py:ListImage.take_action"
        " | +100.0 ms, took 20.0 ms\n"
        "----- REQUEST [1] ------------------------------\n"
        "GET http://127.0.0.1:5000/\n"
        "User-Agent: python-openstackclient keystoneauth1/5.0\n"
        "Accept: application/json\n"
        "Accept-Encoding: gzip, deflate\n"
        "Content-Length: 0\n"
        "traceparent: 00-x-y-01\n"
        "DATA={}\n"
        "----- RESPONSE [1] -----------------------------\n"
        "300 Multiple Choices http://127.0.0.1:5000/\n"
        "Content-Type: application/json\n"
        "DATA={\n"
        '  "versions": {\n'
        '    "values": [\n'
        "      {\n"
        '        "id": "v3.14"\n'
        "      }\n"
        "    ]\n"
        "  }\n"
        "}\n"
        "----- END OF REQUEST [1] -----------------------\n"
    )


def test_secrets_stay_marked_and_request_ids_show(tmp_path: Path) -> None:
    text = render_log(write_sample(tmp_path / "s.db"), [2])
    assert "s3cret" not in text and "gAAAA" not in text
    assert '"password": "{SHA256}' in text
    assert "X-Subject-Token: {SHA256}" in text
    assert text.splitlines()[0].endswith("| request id req-token")


def test_failed_call_gets_an_error_block_and_binary_body_a_placeholder(tmp_path: Path) -> None:
    text = render_log(write_sample(tmp_path / "s.db"), [7, 6])
    assert text.index("[7]") < text.index("[6]")
    assert "----- ERROR [7] --------------------------------\nConnectionError: Max retries exceeded\n" in text
    assert "----- RESPONSE [7]" not in text
    assert "DATA=<binary 13631488 bytes sha256=" + "ab" * 32 + ">" in text


def test_default_is_every_client_call_in_tree_order(tmp_path: Path) -> None:
    text = render_log(write_sample(tmp_path / "s.db"))
    numbers = [line.split("]")[0] + "]" for line in text.splitlines() if line.startswith("----- REQUEST")]
    assert numbers == [f"----- REQUEST [{n}]" for n in (1, 2, 3, 5, 6, 7)]
    assert "# [5] glance-api -> keystone (identity) | +310.0 ms" in text


def test_server_record_is_printed_when_asked_for(tmp_path: Path) -> None:
    text = render_log(write_sample(tmp_path / "s.db"), [4])
    assert text.startswith("# [4] glance-api (server side) | ImagesController.index, 3 layers | +305.0 ms")
    assert "GET /v2/images?limit=2\n" in text


def test_unknown_call_number_is_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"has no call 9, 10 \(it has 7 calls"):
        render_log(write_sample(tmp_path / "s.db"), [1, 9, 10])
