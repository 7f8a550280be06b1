from __future__ import annotations

from pathlib import Path

from capture_helpers import LocalServer

import stacktap
from stacktap.store import Store


def test_trace_records_the_block_as_an_api_run(tmp_path: Path, server: LocalServer) -> None:
    import requests

    db = tmp_path / "st.db"
    with stacktap.trace(db=str(db), label="in process") as run:
        assert requests.get(server.url + "/json").json()["hello"] == "world"
    requests.get(server.url + "/json")  # after the block: not recorded
    with Store(str(db)) as store:
        [stored] = store.runs()
        calls = store.calls(run.id)
    assert (stored.id, stored.kind, stored.label) == (run.id, "api", "in process")
    assert stored.ended is not None
    assert len(calls) == 1 and calls[0].call_site is not None
    assert calls[0].call_site.function == "test_trace_records_the_block_as_an_api_run"


def test_a_token_in_the_path_is_kept_out_of_every_derived_field(tmp_path: Path, server: LocalServer) -> None:
    """keystone v2 ``GET /v2.0/tokens/<token>``: the URL is redacted and the path template,
    which shows in ``show``, ``api``, diagrams and every export, comes from the redacted URL."""
    import requests

    token = "gAAAAABl" + "x7Qz" * 20
    db = tmp_path / "st.db"
    with stacktap.trace(db=str(db)) as run:
        requests.get(server.url + "/v2.0/tokens/" + token, headers={"X-Auth-Token": token})
    with Store(str(db)) as store:
        [call] = store.calls(run.id)
    assert token not in call.url
    assert call.path_template is not None and token not in call.path_template
    assert token not in (call.request_id or "") + (call.reason or "")
    assert token.encode() not in db.read_bytes()
