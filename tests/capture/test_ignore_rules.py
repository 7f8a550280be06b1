"""``$STACKTAP_IGNORE`` in the client hook: a service process drops its noisy calls.

The rules are the server filter's (stacktap.agent.rules); on the client side ``from`` is the
process's own ``$STACKTAP_SERVICE`` and ``to`` the peer's catalog name or type, or its
``host:port``. Each test runs a real traced child against the local test server.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from capture_helpers import LocalServer, new_run, run_traced, stored_calls

from stacktap.agent.enrich import Enricher
from stacktap.agent.recorder import Recorder

# NOTE: a token call first (it brings the catalog naming /image "glance", type "image"), then
# calls that the rules below must drop or keep.
PROGRAM = """
import requests, sys
base = sys.argv[1]
s = requests.Session()
s.post(base + "/v3/auth/tokens", json={"auth": {}})
s.get(base + "/image/v2/images")                       # glance: dropped by path below /image
s.get(base + "/image/v2/schemas/image")                # glance, other path: kept
s.head(base + "/json")                                 # HEAD: dropped by the method rule
s.get(base + "/json?poll=1")                           # host:port rule below: dropped
s.get(base + "/json")                                  # kept
print("done")
"""


def _paths(db: Path, run_id: str) -> list[tuple[str, str]]:
    out = []
    for call in stored_calls(db, run_id):
        parts = urlsplit(call.url)
        out.append((call.method, parts.path + ("?" + parts.query if parts.query else "")))
    return out


def test_matching_calls_are_dropped_and_the_others_kept(tmp_path: Path, server: LocalServer) -> None:
    """Rules on ``to`` (catalog name, host:port), ``path`` (below the endpoint) and ``method``."""
    db = tmp_path / "st.db"
    run = new_run(db)
    hostport = urlsplit(server.url).netloc
    rules = "; ".join(
        [
            "from=nova-compute to=glance path=/v2/images*",
            "method=HEAD",
            f"to={hostport} path=/json method=GET",
        ]
    )
    proc = run_traced(
        PROGRAM,
        db,
        run.id,
        args=(server.url,),
        extra_env={"STACKTAP_SERVICE": "nova-compute", "STACKTAP_IGNORE": rules},
    )
    assert proc.returncode == 0 and proc.stdout == "done\n", proc.stderr
    assert proc.stderr == ""
    # NOTE: the host:port rule drops both GET /json calls (path has no query); the token call
    # and the schema call stay.
    assert _paths(db, run.id) == [("POST", "/v3/auth/tokens"), ("GET", "/image/v2/schemas/image")]


def test_rules_for_another_service_or_peer_drop_nothing(tmp_path: Path, server: LocalServer) -> None:
    """``from`` must match this process's service and ``to`` the peer: here neither does."""
    db = tmp_path / "st.db"
    run = new_run(db)
    proc = run_traced(
        PROGRAM,
        db,
        run.id,
        args=(server.url,),
        extra_env={
            "STACKTAP_SERVICE": "glance-api",
            "STACKTAP_IGNORE": "from=nova-compute path=/*; to=placement; to=compute path=/json",
        },
    )
    assert proc.returncode == 0 and proc.stdout == "done\n", proc.stderr
    assert [method for method, _ in _paths(db, run.id)] == ["POST", "GET", "GET", "HEAD", "GET", "GET"]


def test_catalog_type_names_the_target_too(tmp_path: Path, server: LocalServer) -> None:
    """``to=image`` (the catalog type) matches like ``to=glance`` (its name); globs work."""
    db = tmp_path / "st.db"
    run = new_run(db)
    proc = run_traced(
        PROGRAM,
        db,
        run.id,
        args=(server.url,),
        extra_env={"STACKTAP_SERVICE": "nova-compute", "STACKTAP_IGNORE": "from=nova-* to=IMAGE"},
    )
    assert proc.returncode == 0, proc.stderr
    assert _paths(db, run.id) == [
        ("POST", "/v3/auth/tokens"),
        ("HEAD", "/json"),
        ("GET", "/json?poll=1"),
        ("GET", "/json"),
    ]


def test_no_rules_means_nothing_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ``$STACKTAP_IGNORE`` (or with only blanks) the enricher has no rules to check."""
    monkeypatch.delenv("STACKTAP_IGNORE", raising=False)
    assert Enricher(Recorder()).ignore is None
    monkeypatch.setenv("STACKTAP_IGNORE", "  ")
    assert Enricher(Recorder()).ignore is None
    monkeypatch.setenv("STACKTAP_IGNORE", "method=HEAD")
    enricher = Enricher(Recorder())
    assert enricher.ignore is not None
    assert enricher._ignored("HEAD", "http://h:1/x", None)
    assert not enricher._ignored("GET", "http://h:1/x", None)
