"""Beyond one machine, on real clouds: services that export live, a backend that dies mid-run,
and the stores of two "hosts" merged into whole trees.

The shared dev cloud is host A. Host B is a keystone+glance cloud of this module's own, in a
scratch dir that borrows the shared cloud's venv (as ``test_devcloud.py`` does), brought up
with ``STACKTAP_OTLP_ENDPOINT`` pointing at an OTLP/HTTP receiver started here, so its
services send their spans live as they serve. B is stopped when the module ends.

NOTE: the tests run in file order: the last one kills the receiver and stops cloud B (it
reads the drop counters the services print as they exit).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.fixtures.otlp_receiver import Receiver

from stacktap.agent.spans import layer_span_id
from stacktap.devcloud import clouds, lifecycle
from stacktap.model import Call
from stacktap.store import Store, StoreError, load_trace

pytestmark = pytest.mark.e2e

SERVER_KIND, CLIENT_KIND = 2, 3  # OTLP SpanKind numbers
#: ``live.py``'s exit line: how many spans one process could not deliver.
DROP_LINE = re.compile(
    r"^stacktap: live OTLP export to (\S+) dropped (\d+) spans"
    r" \((\d+) sent, (\d+) failed posts; pid (\d+)\)$",
    re.M,
)


@dataclass
class Cloud:
    """Host B: its dir, its store, how clients reach it, the receiver its services send to."""

    dir: Path
    db: Path
    env: dict[str, str]
    password: str
    receiver: Receiver
    openstack: Path
    devcloud: Callable[..., subprocess.CompletedProcess[str]]


def _without_otlp(env: dict[str, str]) -> dict[str, str]:
    """``env`` without any OTLP setting of the developer's (results must not depend on it)."""
    return {k: v for k, v in env.items() if not k.startswith(("STACKTAP_", "OTEL_"))}


@pytest.fixture(scope="module")
def cloud_b(devcloud: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    if not devcloud.traced:
        pytest.fail("the dev cloud runs untraced: this stacktap lacks the server-tracing pieces")
    receiver = Receiver()
    root = tmp_path_factory.mktemp("fleet") / "cloud"
    root.mkdir()
    (root / "venv").symlink_to(devcloud.dir / "venv")

    def devcloud_command(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*devcloud.stacktap, "devcloud", *args, "--dir", str(root)],
            env=env or _without_otlp(dict(os.environ)),
            capture_output=True,
            text=True,
            timeout=900,
        )

    try:
        # NOTE: the services inherit up's STACKTAP_OTLP_ENDPOINT (devcloud.tracing).
        up_env = dict(_without_otlp(dict(os.environ)), STACKTAP_OTLP_ENDPOINT=receiver.base_url)
        started = devcloud_command(
            "up", "--without-nova", "--trace-servers", "--db", str(root / "stacktap.db"), env=up_env
        )
        assert started.returncode == 0, started.stderr
        layout, state, _ = lifecycle.status(str(root))
        yield Cloud(
            dir=root,
            db=root / "stacktap.db",
            env=_without_otlp(clouds.client_env(layout, state)),
            password=state.password,
            receiver=receiver,
            openstack=layout.bin / "openstack",
            devcloud=devcloud_command,
        )
    finally:
        devcloud_command("down")
        receiver.stop()


# ---- reading what arrived ------------------------------------------------------------------


def received_spans(rx: Receiver) -> list[dict[str, Any]]:
    """Every OTLP/JSON span the receiver got, with ``resource`` and ``attrs`` as plain dicts."""
    out = []
    for body in rx.bodies("application/json"):
        for rs in json.loads(body)["resourceSpans"]:
            resource = {kv["key"]: _plain(kv["value"]) for kv in rs["resource"]["attributes"]}
            for ss in rs["scopeSpans"]:
                for span in ss["spans"]:
                    attrs = {kv["key"]: _plain(kv["value"]) for kv in span.get("attributes", [])}
                    parent = span.get("parentSpanId", "")  # NOTE: absent for a root
                    out.append(dict(span, parentSpanId=parent, resource=resource, attrs=attrs))
    return out


def _plain(value: dict[str, Any]) -> Any:
    ((kind, inner),) = value.items()
    return int(inner) if kind == "intValue" else inner


def _wait_for(what: str, check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll ``check`` until it returns something true (bounded); fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            assert found, f"timed out waiting for {what}"
            return found
        time.sleep(0.3)


def _stacktap_run(devcloud: Any, db: Path, label: str, argv: list[str]) -> list[str]:
    """``stacktap run`` of ``argv`` into the store ``db``, under ``label``."""
    return [*devcloud.stacktap, "run", "--db", str(db), "--label", label, "--", *argv]


def _run_calls(db: Path, label: str) -> list[Call]:
    """The calls the run labelled ``label`` made itself (not the server records of its traces)."""
    with Store(str(db), create=False) as store:
        [run] = [r for r in store.runs() if r.label == label]
        return store.calls(run.id, with_traces=False)


# ---- 1. services export live, in the client's trace -----------------------------------------


def test_services_send_their_spans_live_in_the_clients_trace(
    devcloud: Any, cloud_b: Cloud, tmp_path: Path
) -> None:
    """``openstack image list`` exporting live, against services exporting live: the receiver
    gets the client's spans, glance's server span under the client's GET /v2/images, glance's
    own call validating the token under that, and keystone's answer to it under that: one trace,
    every span a stored call, and no password anywhere."""
    label = f"fleet-live-{uuid.uuid4().hex[:8]}"
    client_db = tmp_path / "laptop.db"
    env = dict(cloud_b.env, STACKTAP_OTLP_ENDPOINT=cloud_b.receiver.base_url)
    done = subprocess.run(
        _stacktap_run(devcloud, client_db, label, [str(cloud_b.openstack), "image", "list"]),
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "dropped" not in done.stderr
    client_calls = _run_calls(client_db, label)
    [trace_id] = {c.trace_id for c in client_calls}
    [listing] = [c for c in client_calls if c.method == "GET" and c.url.split("?")[0].endswith("/v2/images")]

    def chain() -> tuple[dict, dict, dict] | None:
        spans = [s for s in received_spans(cloud_b.receiver) if s["traceId"] == trace_id]
        glance = [s for s in spans if s["kind"] == SERVER_KIND and s["parentSpanId"] == listing.span_id]
        if not glance:
            return None
        validate = [
            s for s in spans
            if s["kind"] == CLIENT_KIND and s["parentSpanId"] == glance[0]["spanId"]
            and "/v3/auth/tokens" in s["attrs"].get("url.full", "")
        ]  # fmt: skip
        if not validate:
            return None
        keystone = [
            s for s in spans if s["kind"] == SERVER_KIND and s["parentSpanId"] == validate[0]["spanId"]
        ]
        return (glance[0], validate[0], keystone[0]) if keystone else None

    glance, validate, keystone = _wait_for("glance and keystone spans of the image list", chain)
    assert glance["resource"]["service.name"] == validate["resource"]["service.name"] == "glance-api"
    assert glance["resource"]["process.pid"] == validate["resource"]["process.pid"]
    assert keystone["resource"]["service.name"] == "keystone"
    assert glance["attrs"]["openstack.handler"].endswith("index")

    # Every span of the trace is a call stored on its host (or a layer of one), ids intact.
    def all_of_them() -> dict[str, dict] | None:
        spans = {s["spanId"]: s for s in received_spans(cloud_b.receiver) if s["traceId"] == trace_id}
        stored = _stored_spans(client_db, trace_id) | _stored_spans(cloud_b.db, trace_id)
        return spans if set(spans) == set(stored) else None

    spans = _wait_for("every stored span of the trace at the receiver", all_of_them)
    stored = _stored_spans(client_db, trace_id) | _stored_spans(cloud_b.db, trace_id)
    assert {span_id: span["parentSpanId"] for span_id, span in spans.items()} == stored
    assert {c.span_id for c in client_calls} == {
        i
        for i, s in spans.items()
        if s["kind"] == CLIENT_KIND and s["resource"]["service.name"] == "openstack"
    }
    payload = b"".join(cloud_b.receiver.bodies())
    assert cloud_b.password.encode() not in payload and devcloud.password.encode() not in payload


def _stored_spans(db: Path, trace_id: str) -> dict[str, str]:
    """span id -> parent span id ("" for a root) of every span ``db`` holds for ``trace_id``:
    its calls, and their layers (layer 0 under its call, each next layer under the previous)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        calls = con.execute(
            "SELECT span_id, parent_span_id FROM calls WHERE trace_id = ?", (trace_id,)
        ).fetchall()
        layers = con.execute(
            "SELECT l.span_id, l.ord FROM layers l JOIN calls c ON c.span_id = l.span_id"
            " WHERE c.trace_id = ?",
            (trace_id,),
        ).fetchall()
    finally:
        con.close()
    out = {span_id: parent or "" for span_id, parent in calls}
    for span_id, order in layers:
        out[layer_span_id(span_id, order)] = layer_span_id(span_id, order - 1) if order else span_id
    return out


# ---- 2. two hosts' stores merged --------------------------------------------------------------


def _copy_store(source: Path, target: Path) -> None:
    """Copy a store its services still write to, consistently (SQLite backup: the WAL included)."""
    src, dst = sqlite3.connect(f"file:{source}?mode=ro", uri=True), sqlite3.connect(str(target))
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def _counts(db: Path) -> dict[str, int]:
    con = sqlite3.connect(str(db))
    try:
        counts = {
            t: con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("runs", "calls", "layers", "catalog")
        }
        counts["duplicate spans"] = con.execute(
            "SELECT COUNT(*) FROM (SELECT span_id FROM calls GROUP BY span_id HAVING COUNT(*) > 1)"
        ).fetchone()[0]
        return counts
    finally:
        con.close()


def test_stores_of_two_clouds_merge_into_whole_trees(devcloud: Any, cloud_b: Cloud, tmp_path: Path) -> None:
    """One traced run talks to both clouds: ``image list`` on A, then on B. The client's calls
    and A's services land in A's store, B's services in B's: alone, B's server calls hang from
    parents it does not have. ``stacktap merge A B -o ALL`` gives one trace whose every parent
    is there, on both hosts; merging again adds nothing."""
    label = f"fleet-merge-{uuid.uuid4().hex[:8]}"
    script = (
        "set -e; openstack image list -f value -c ID >/dev/null; "
        'OS_AUTH_URL="$B_AUTH_URL" OS_PASSWORD="$B_PASSWORD" openstack image list -f value -c ID >/dev/null'
    )
    env = dict(
        _without_otlp(devcloud.env), B_AUTH_URL=cloud_b.env["OS_AUTH_URL"], B_PASSWORD=cloud_b.password
    )
    done = subprocess.run(
        _stacktap_run(devcloud, devcloud.db, label, ["bash", "-c", script]),
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    client_calls = _run_calls(devcloud.db, label)
    [trace_id] = {c.trace_id for c in client_calls}
    assert len({c.pid for c in client_calls}) == 2  # two openstack processes, one trace

    def served(db: Path) -> list[tuple[str, str]]:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return con.execute(
                "SELECT span_id, parent_span_id FROM calls WHERE trace_id = ? AND side = 'server'"
                " AND local_service = 'glance-api'",
                (trace_id,),
            ).fetchall()
        finally:
            con.close()

    def token_checked(db: Path) -> list[tuple[str, str]]:
        """keystone's records of glance's token validations in this trace, on the host of ``db``."""
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return con.execute(
                "SELECT k.span_id, k.parent_span_id FROM calls k JOIN calls g ON g.span_id = k.parent_span_id"
                " WHERE k.trace_id = ? AND k.side = 'server' AND k.local_service = 'keystone'"
                " AND g.side = 'client' AND g.local_service = 'glance-api'",
                (trace_id,),
            ).fetchall()
        finally:
            con.close()

    a_glance = _wait_for("glance's record on host A", lambda: served(devcloud.db))
    cloud_b_glance = _wait_for("glance's record on host B", lambda: served(cloud_b.db))
    _wait_for("keystone checking glance's token on host A", lambda: token_checked(devcloud.db))
    _wait_for("keystone checking glance's token on host B", lambda: token_checked(cloud_b.db))
    client_spans = {c.span_id for c in client_calls}
    assert all(parent in client_spans for _, parent in a_glance + cloud_b_glance)
    b_alone = _stored_spans(cloud_b.db, trace_id)
    assert set(b_alone.values()) - set(b_alone) - {""}, "B alone should miss the client's spans"

    # "Copy the stores over", then merge them.
    a_copy, b_copy, merged = tmp_path / "host-a.db", tmp_path / "host-b.db", tmp_path / "all.db"
    _copy_store(devcloud.db, a_copy)
    _copy_store(cloud_b.db, b_copy)
    first = subprocess.run(
        [*devcloud.stacktap, "merge", str(a_copy), str(b_copy), "-o", str(merged)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert first.returncode == 0, first.stderr
    counts = _counts(merged)
    assert counts["duplicate spans"] == 0
    assert counts["calls"] == _counts(a_copy)["calls"] + _counts(b_copy)["calls"]

    with Store(str(merged), create=False) as store:
        trace = load_trace(store, store.get_run(_run_id(a_copy, label)).id)
    whole = _stored_spans(merged, trace_id)
    assert whole == _stored_spans(a_copy, trace_id) | _stored_spans(b_copy, trace_id)
    assert {parent for parent in whole.values() if parent} <= set(whole), "a parent is missing"
    assert [c for c in trace.calls if c.parent_span_id and trace.call(c.parent_span_id) is None] == []
    assert len(trace.roots) == len([c for c in client_calls if not c.parent_span_id])
    hosts = {c.span_id for c in trace.calls if c.side == "server" and c.local_service == "glance-api"}
    assert hosts == {span for span, _ in a_glance + cloud_b_glance}  # both hosts' glance, one tree
    # keystone answered each glance's token check on its own host, under glance's call
    validations = [c for c in trace.calls if c.side == "client" and c.local_service == "glance-api"]
    validated = {trace.parent(c).span_id for c in validations}  # type: ignore[union-attr]
    assert validated <= hosts
    assert validated & {s for s, _ in a_glance} and validated & {s for s, _ in cloud_b_glance}
    answers = [c for v in validations for c in trace.children(v)]
    assert answers and {(c.side, c.local_service) for c in answers} == {("server", "keystone")}
    assert all(c.trace_id == trace_id for c in trace.calls)
    layered = [c for c in trace.calls if c.layers]
    assert layered and all(trace.call(c.span_id).layers == c.layers for c in layered)  # type: ignore[union-attr]

    again = subprocess.run(
        [*devcloud.stacktap, "merge", str(a_copy), str(b_copy), "-o", str(merged)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr
    assert "+0 runs, +0 calls, +0 layers, +0 catalog endpoints" in again.stdout
    assert _counts(merged) == counts


def _run_id(db: Path, label: str) -> str:
    with Store(str(db), create=False) as store:
        [run] = [r for r in store.runs() if r.label == label]
        return run.id


# ---- 3. the backend dies mid-run ----------------------------------------------------------------


def _openstack(cloud: Cloud, *args: str, data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(cloud.openstack), *args], env=cloud.env, input=data, capture_output=True, timeout=300
    )


def _spans_made_by(db: Path, pid: int) -> int:
    """How many spans the calls ``pid`` recorded in ``db`` map to: one each, plus their layers."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        calls = con.execute("SELECT COUNT(*) FROM calls WHERE pid = ?", (pid,)).fetchone()[0]
        layers = con.execute(
            "SELECT COUNT(*) FROM layers WHERE span_id IN (SELECT span_id FROM calls WHERE pid = ?)", (pid,)
        ).fetchone()[0]
    finally:
        con.close()
    return calls + layers


def test_a_dead_backend_costs_spans_never_answers(devcloud: Any, cloud_b: Cloud, tmp_path: Path) -> None:
    """``openstack image create`` reads the image from stdin: the test holds the data back until
    the client has created the image record and exported that live, then kills the receiver and
    lets the upload go. The command's output and exit code are those of an untraced run; glance
    and keystone go on answering; and each process's exit line says how many spans it lost:
    sent + dropped = the spans its stored calls make, sent = what the receiver got from it."""
    data = os.urandom(300_000)
    name = f"fleet-dead-{uuid.uuid4().hex[:8]}"
    create = ["image", "create", "--disk-format", "raw", "--container-format", "bare",
              "-f", "json", "-c", "name", "-c", "status", "-c", "size", "-c", "checksum", name]  # fmt: skip
    reference = _openstack(cloud_b, *create, data=data)
    assert reference.returncode == 0, reference.stderr
    assert _openstack(cloud_b, "image", "delete", name).returncode == 0

    rx = cloud_b.receiver
    label = f"fleet-dead-{uuid.uuid4().hex[:8]}"
    client_db = tmp_path / "laptop.db"
    env = dict(cloud_b.env, STACKTAP_OTLP_ENDPOINT=rx.base_url)
    proc = subprocess.Popen(
        _stacktap_run(devcloud, client_db, label, [str(cloud_b.openstack), *create]),
        env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:

        def image_record_exported() -> str | None:
            """The span id of the client's POST /v2/images once it and glance's answer arrived."""
            if not client_db.exists():
                return None
            try:
                posts = [
                    c
                    for c in _run_calls(client_db, label)
                    if c.method == "POST" and c.url.endswith("/v2/images")
                ]
            except (ValueError, sqlite3.Error, StoreError):
                return None  # the run row is not there yet
            spans = received_spans(rx)
            if (
                posts
                and any(s["spanId"] == posts[0].span_id for s in spans)
                and any(s["parentSpanId"] == posts[0].span_id for s in spans)
            ):
                return posts[0].span_id
            return None

        _wait_for("the client's POST /v2/images at the receiver", image_record_exported, timeout=120)
        rx.stop()  # the backend dies; the upload has not started yet
        out, err = proc.communicate(data, timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)

    # The command: same output, same exit code as untraced.
    assert proc.returncode == reference.returncode == 0, err.decode()
    assert out == reference.stdout
    assert json.loads(out)["status"] == "active"

    # Its drop counter: the calls after the kill (upload, final GET) are the spans lost.
    stderr = err.decode()
    [(url, dropped, sent, failed, pid)] = DROP_LINE.findall(stderr)
    assert url == rx.url and int(failed) >= 1
    received_from = _received_by_pid(rx)
    client_calls = _run_calls(client_db, label)
    assert {c.pid for c in client_calls} == {int(pid)}
    assert int(sent) == received_from.get(int(pid), 0) >= 3
    assert int(sent) + int(dropped) == len(client_calls)
    assert int(dropped) >= 2

    # The services go on answering with their exporter failing.
    assert _openstack(cloud_b, "image", "delete", name).returncode == 0
    status = json.loads(cloud_b.devcloud("status", "-f", "json").stdout)
    assert all(row["Health"].startswith("ok") for row in status)

    # Stopped, each service worker says what it lost, and the numbers add up with its store.
    assert cloud_b.devcloud("down").returncode == 0
    for log in ("glance.log", "keystone.log"):
        lines = DROP_LINE.findall((cloud_b.dir / "logs" / log).read_text())
        assert lines, f"no drop line in {log}"
        for url, dropped, sent, _failed, pid in lines:
            assert url == rx.url
            assert int(sent) == received_from.get(int(pid), 0), log
            assert int(sent) + int(dropped) == _spans_made_by(cloud_b.db, int(pid)), log
            assert int(dropped) >= 1


def _received_by_pid(rx: Receiver) -> dict[int, int]:
    counts: dict[int, int] = {}
    for span in received_spans(rx):
        pid = int(span["resource"]["process.pid"])
        counts[pid] = counts.get(pid, 0) + 1
    return counts
