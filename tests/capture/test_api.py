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
