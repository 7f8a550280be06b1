"""Issue 4 on the dev cloud: what ``stacktap`` draws, exports and explains for real traced runs.

Six commands run once, each under ``stacktap run`` into the dev cloud's own store (where the
traced keystone, glance and nova-api write their side): ``token issue``, ``image create --file``,
``image list``, ``image delete``, ``server list`` and ``server list --long``. Then, through the
installed ``stacktap`` CLI:

- ``diagram``: the Mermaid text renders with the real ``mmdc``; the SVG names the participants
  and draws the hops inside the services (glance -> keystone, nova -> keystone token validation);
- ``export --format har``: valid against the HAR 1.2 schemas, one entry per client call;
- ``report``: headless Chromium draws the diagram and the waterfall, and an expanded call shows
  its headers, body and curl (screenshot kept in artifacts/devcloud-report.png);
- ``export --format json`` -> ``import`` into a new store -> ``show``: the same calls;
- ``export --format markdown``: the page embeds the same Mermaid diagram;
- ``api``, ``diff`` and ``which`` on these runs and the dev cloud's ``openstack``;
- no password, no issued token, nothing shaped like a Fernet token in any of it.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from stacktap.model import CLIENT, SERVER
from stacktap.redact import mark
from stacktap.render.run_diff import diff_calls, fold
from stacktap.store import Store, Trace, load_trace

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def _render_checks() -> ModuleType:
    """tests/render/render_checks.py (mmdc, har-validator, Chromium helpers), shared with the
    render tests; tests/render is not on sys.path when only the e2e tests run."""
    if "render_checks" in sys.modules:
        return sys.modules["render_checks"]
    path = REPO / "tests" / "render" / "render_checks.py"
    spec = importlib.util.spec_from_file_location("render_checks", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["render_checks"] = module
    spec.loader.exec_module(module)
    return module


checks = _render_checks()

#: run key -> the openstack arguments ({file} and {image} filled in by the fixture)
COMMANDS: dict[str, list[str]] = {
    "token": ["token", "issue", "-f", "value", "-c", "id"],
    "image-create": ["image", "create", "--file", "{file}", "--disk-format", "raw", "{image}"],
    "image-list": ["image", "list"],
    "image-delete": ["image", "delete", "{image}"],
    "server-list": ["server", "list"],
    "server-list-long": ["server", "list", "--long"],
}
#: the runs of issue 4's "done when"
ISSUE_RUNS = ["token", "image-create", "image-list", "image-delete", "server-list"]

#: Who each run's diagram shows.
PARTICIPANTS = {
    "token": {"openstack", "keystone"},
    "image-create": {"openstack", "keystone", "glance"},
    "image-list": {"openstack", "keystone", "glance"},
    "image-delete": {"openstack", "keystone", "glance"},
    # NOTE: OSC's compute commands make the image client too: glance's version discovery.
    "server-list": {"openstack", "keystone", "glance", "nova"},
}
#: (label, from, to) arrows each run's SVG must draw, the services' own hops included.
ARROWS = {
    "token": [("POST /v3/auth/tokens", "openstack", "keystone"), ("201 CREATED", "keystone", "openstack")],
    "image-create": [
        ("POST /v2/images", "openstack", "glance"),
        ("GET /v3/auth/tokens", "glance", "keystone"),
        ("200 OK", "keystone", "glance"),
        ("201 Created", "glance", "openstack"),
        ("PUT /v2/images/{image_id}/file", "openstack", "glance"),
        ("204 No Content", "glance", "openstack"),
    ],
    "image-list": [("GET /v2/images", "openstack", "glance"), ("GET /v3/auth/tokens", "glance", "keystone")],
    "image-delete": [
        ("DELETE /v2/images/{image_id}", "openstack", "glance"),
        ("GET /v3/auth/tokens", "glance", "keystone"),
    ],
    "server-list": [
        ("GET /v2.1/servers/detail", "openstack", "nova"),
        ("GET /v3/auth/tokens", "nova", "keystone"),
        ("200 OK", "nova", "openstack"),
    ],
}
#: Notes each run's SVG must show: the controller that served the call, what a call was for.
NOTES = {
    "token": ["token + catalog issued", "version discovery"],
    "image-create": ["ImagesController.create", "ImageDataController.upload", "token validated"],
    "image-list": ["ImagesController.index", "authtoken", "token validated"],
    "image-delete": ["ImagesController.delete", "token validated"],
    "server-list": ["ServersController.detail", "keystonecontext", "token validated"],
}

#: A keystone Fernet token (the dev cloud's provider): base64url of a version byte 0x80 + time.
FERNET = re.compile(r"gAAAAA[A-Za-z0-9_\-]{40,}={0,2}")
IMAGE_BYTES = bytes(range(256)) * 4 + b"stacktap"  # 1,032 bytes


@dataclass(frozen=True)
class Recorded:
    """One ``stacktap run`` of an openstack command."""

    key: str
    run_id: str
    label: str
    stdout: str
    stderr: str


@dataclass
class Session:
    """The runs, the secrets that must not show, and a way to run the CLI on them."""

    devcloud: Any
    image: str
    token: str
    runs: dict[str, Recorded] = field(default_factory=dict)

    @property
    def db(self) -> Path:
        return Path(self.devcloud.db)

    def stacktap(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """The installed CLI, with the dev cloud's environment (its ``openstack`` first on PATH)."""
        done = subprocess.run(
            [*self.devcloud.stacktap, *args],
            env=self.devcloud.env,
            capture_output=True,
            text=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if check:
            assert done.returncode == 0, f"stacktap {' '.join(args)}: {done.stderr[-2000:]}"
        return done

    def trace(self, key: str) -> Trace:
        with Store(str(self.db), create=False) as store:
            return load_trace(store, self.runs[key].run_id)

    def assert_no_secrets(self, *texts: str) -> None:
        """Neither the dev cloud's password (the admin's and the services'), nor the token the
        ``token issue`` run printed, nor any other Fernet token appears in ``texts``."""
        for text in texts:
            assert self.devcloud.password not in text
            assert self.token not in text
            leaked = FERNET.search(text)
            assert leaked is None, f"a keystone token in the output: {leaked.group(0)[:12]}..."


def _settled(db: Path, run_id: str, inner_hop: bool) -> Trace:
    """The run's trace once the services' records are in.

    NOTE: traced services write their side in the background. Settled means: every answered
    client call has the server record of the service that answered it (the calls services made
    included), and, with ``inner_hop``, a service called keystone to validate the token.
    """
    deadline = time.monotonic() + 30
    while True:
        with Store(str(db), create=False) as store:
            trace = load_trace(store, run_id)
        answered = [c for c in trace.calls if c.side == CLIENT and c.status is not None]
        served = all(any(child.side == SERVER for child in trace.children(c)) for c in answered)
        inner = any(
            c.side == CLIENT and c.run_id != run_id and "/v3/auth/tokens" in c.url for c in trace.calls
        )
        if answered and served and (inner or not inner_hop):
            return trace
        if time.monotonic() > deadline:
            pytest.fail(
                f"run {run_id}: the services' records did not come in: "
                f"{[(c.side, c.local_service, c.method, c.url) for c in trace.calls]}"
            )
        time.sleep(0.5)


@pytest.fixture(scope="module")
def session(devcloud: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    """Run the six commands once under ``stacktap run`` into the dev cloud's store."""
    if not devcloud.traced:
        pytest.fail("the dev cloud runs untraced: this stacktap lacks the server-tracing pieces")
    tag = uuid.uuid4().hex[:8]
    image_file = tmp_path_factory.mktemp("pictures") / "small.img"
    image_file.write_bytes(IMAGE_BYTES)
    state = Session(devcloud=devcloud, image=f"stacktap-pictures-{tag}", token="")
    try:
        for key, args in COMMANDS.items():
            label = f"pictures-{tag}-{key}"
            filled = [a.format(file=image_file, image=state.image) for a in args]
            done = state.stacktap("run", "--db", str(state.db), "--label", label, "--",
                                  str(devcloud.openstack), *filled, check=False)
            assert done.returncode == 0, f"openstack {' '.join(filled)}: {done.stderr[-2000:]}"
            found = re.search(r"in run ([0-9a-f]+) ", done.stderr.splitlines()[-1])
            assert found, done.stderr
            state.runs[key] = Recorded(key, found.group(1), label, done.stdout, done.stderr)
            if key == "token":
                state.token = done.stdout.strip()
                assert FERNET.fullmatch(state.token), "token issue printed no Fernet token"
            _settled(state.db, found.group(1), inner_hop=key != "token")
        yield state
    finally:
        if "image-delete" not in state.runs:  # NOTE: leave no image behind when a run failed
            subprocess.run([str(devcloud.openstack), "image", "delete", state.image], env=devcloud.env,
                           capture_output=True, timeout=120, check=False)


def test_runs_recorded_the_services_side(session: Session) -> None:
    """Every run is one trace holding the client calls, the server records and, for each
    run past ``token issue``, a service's token validation by keystone; nothing secret is in
    the runs' own output (the token issue run prints its token, as openstack does)."""
    for key, recorded in session.runs.items():
        trace = session.trace(key)
        assert trace.run.label == recorded.label
        assert len({c.trace_id for c in trace.calls if c.run_id == trace.run.id}) == 1, key
        sides = {(c.side, c.local_service) for c in trace.calls}
        assert (SERVER, "keystone") in sides
        validations = [c for c in trace.calls if c.run_id != trace.run.id and c.side == CLIENT]
        if key == "token":
            assert validations == []  # keystone alone: nobody had a token to validate
        else:
            # NOTE: at least one: keystonemiddleware caches a validated token per worker.
            assert validations and {c.url.split("/", 3)[-1] for c in validations} == {"v3/auth/tokens"}
            assert all([ch.side for ch in trace.children(c)] == [SERVER] for c in validations), key
        session.assert_no_secrets(recorded.stderr)
        if key != "token":
            session.assert_no_secrets(recorded.stdout)
    upload = [c for c in session.trace("image-create").calls if c.method == "PUT" and c.url.endswith("/file")]
    assert [c.request_body.size for c in upload if c.side == CLIENT] == [len(IMAGE_BYTES)]


@pytest.mark.browser
@pytest.mark.parametrize("key", ISSUE_RUNS)
def test_diagram_renders_with_mermaid(session: Session, key: str) -> None:
    """``stacktap diagram`` on a real run draws with mmdc: the participants, every arrow of the
    source, the hops inside the services and the controllers that served them."""
    text = session.stacktap("diagram", session.runs[key].run_id, "--db", str(session.db)).stdout
    assert text.startswith("sequenceDiagram\n")
    assert f"    title {session.runs[key].label}\n" in text
    svg = checks.draw(f"devcloud-{key}", text)

    assert set(checks.svg_actors(svg).values()) == PARTICIPANTS[key]
    drawn = checks.svg_messages(svg)
    arrows = [line for line in text.splitlines() if re.match(r"^    P\d+(->>\+|-->>-|--x-)P\d+: ", line)]
    assert len(drawn) == len(arrows) > 0
    assert all(sender != "?" and receiver != "?" for _, sender, receiver in drawn), drawn
    for arrow in ARROWS[key]:
        assert arrow in drawn, (arrow, drawn)
    texts = checks.svg_texts(svg)
    for note in NOTES[key]:
        assert note in texts, note
    session.assert_no_secrets(text, svg)


@pytest.mark.parametrize("key", ISSUE_RUNS)
def test_har_export_is_valid_and_complete(session: Session, key: str) -> None:
    """``stacktap export --format har`` passes har-validator; one entry per client call (the
    services' token validations included), secrets only as redaction marks."""
    run_id = session.runs[key].run_id
    text = session.stacktap("export", run_id, "--format", "har", "--db", str(session.db)).stdout
    document = json.loads(text)
    result = checks.validate_har(document)
    assert result.returncode == 0 and result.stdout.strip() == "valid", result.stdout + result.stderr

    trace = session.trace(key)
    log = document["log"]
    assert [page["title"] for page in log["pages"]] == [session.runs[key].label]
    client = [c for c in trace.calls if c.side == CLIENT]
    entries = log["entries"]
    assert sorted((e["request"]["method"], e["request"]["url"]) for e in entries) == sorted(
        (c.method, c.url) for c in client
    )
    assert all(e["pageref"] == session.runs[key].run_id for e in entries)
    headers = [h for e in entries for h in e["request"]["headers"]]
    tokens = [h["value"] for h in headers if h["name"].lower() == "x-auth-token"]
    assert all(value.startswith("{SHA256}") for value in tokens)
    session.assert_no_secrets(text)

    login = [e for e in entries if e["request"]["method"] == "POST" and "/auth/tokens" in e["request"]["url"]]
    assert login and login[0]["response"]["status"] == 201
    sent = json.loads(login[0]["request"]["postData"]["text"])
    password_mark = mark(session.devcloud.password)
    assert sent["auth"]["identity"]["password"]["user"]["password"] == password_mark
    if key == "token":
        assert len(tokens) == 0
        return
    # The service's token validation is an entry too, a child of the service's server span.
    servers = {e["_stacktap"]["server"]["span_id"]: e for e in entries if e["_stacktap"].get("server")}
    inner = [e for e in entries if e["_stacktap"].get("parent_span_id") in servers]
    assert inner and inner[0]["request"]["url"].endswith("/v3/auth/tokens")
    assert inner[0]["_stacktap"]["service"] == "keystone"
    served_by = servers[inner[0]["_stacktap"]["parent_span_id"]]["_stacktap"]["service"]
    assert served_by == ("nova" if key == "server-list" else "glance")
    if key == "image-create":
        [upload] = [e for e in entries if e["request"]["method"] == "PUT"]
        assert upload["request"]["bodySize"] == len(IMAGE_BYTES)
        assert upload["request"]["postData"]["mimeType"] == "application/octet-stream"
        assert upload["response"]["status"] == 204


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with checks.launch_browser() as chromium:
        yield chromium


@pytest.mark.browser
def test_report_in_headless_chromium(session: Session, browser: Any, tmp_path: Path) -> None:
    """``stacktap report`` of ``image create``: the diagram SVG and the waterfall are drawn; the
    expanded POST /v2/images shows its headers (token redacted), its JSON body and its curl; the
    glance server record lists its middleware; nothing is fetched, no script error."""
    path = tmp_path / "image-create.html"
    run_id = session.runs["image-create"].run_id
    done = session.stacktap("report", run_id, "-o", str(path), "--db", str(session.db))
    trace = session.trace("image-create")
    assert done.stderr.strip() == f"{path} ({len(trace.calls)} calls)"
    tab = checks.BrowserPage(browser)
    page = tab.open(path)

    width, height = checks.box_size(page, "svg.sequence")
    assert width > 400 and height > 400
    diagram_text = page.locator("svg.sequence").text_content() or ""
    for name in ("openstack", "keystone", "glance", "POST /v2/images", "GET /v3/auth/tokens"):
        assert name in diagram_text
    assert page.locator("svg.sequence g.msg").count() == 14  # 7 requests, 7 answers
    rows = page.locator("#waterfall > details.call")
    assert rows.count() == len(trace.calls)
    bar_width, bar_height = checks.box_size(page, "#waterfall .bar")
    assert bar_width > 0 and bar_height > 0

    create = page.locator("#waterfall > details.call.client", has_text="POST /v2/images").first
    create.locator("summary").click()
    create.locator(".detail table").first.wait_for()
    detail = create.locator(".detail").inner_text()
    assert "Request headers" in detail and "Response headers" in detail
    assert re.search(r"X-Auth-Token\s+\{SHA256\}[0-9a-f]{16}", detail), detail
    assert f'"name": "{session.image}"' in detail  # the JSON body, pretty-printed
    assert "CreateImage._take_action_image" in detail  # the call site
    assert "curl -g -i -X POST http://127.0.0.1:" in detail and "$OS_TOKEN" in detail

    served = page.locator("#waterfall > details.call.server", has_text="ImagesController.create").first
    served.locator("summary").click()
    served.locator(".detail table.layers:not(.policy)").wait_for()
    layers = served.locator(".detail table.layers:not(.policy)").inner_text()
    assert "authtoken" in layers and "cors" in layers

    checks.ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(checks.ARTIFACTS / "devcloud-report.png"), full_page=True)
    session.assert_no_secrets(path.read_text(), page.locator("body").inner_text())
    assert tab.attempts == [] and tab.problems == []
    tab.close()


@pytest.mark.browser
@pytest.mark.parametrize("key", ["token", "image-list", "image-delete", "server-list"])
def test_other_reports_draw(session: Session, browser: Any, tmp_path: Path, key: str) -> None:
    """The other runs' reports draw too: a diagram with arrows, one waterfall row per call,
    the served controller in the rows, no script error."""
    path = tmp_path / f"{key}.html"
    session.stacktap("report", session.runs[key].run_id, "-o", str(path), "--db", str(session.db))
    trace = session.trace(key)
    tab = checks.BrowserPage(browser)
    page = tab.open(path)
    assert checks.box_size(page, "svg.sequence")[1] > 200
    assert page.locator("svg.sequence g.msg").count() >= 4
    assert page.locator("#waterfall > details.call").count() == len(trace.calls)
    handlers = {c.handler for c in trace.calls if c.side == SERVER and c.handler}
    summaries = page.locator("#waterfall").inner_text()
    for handler in handlers - {"flask.app.Flask"}:
        assert handler in summaries, handler
    session.assert_no_secrets(path.read_text())
    assert tab.attempts == [] and tab.problems == []
    tab.close()


def test_which_names_list_server(session: Session) -> None:
    """``stacktap which openstack server list`` finds the dev cloud's openstack on PATH and
    resolves the command inside its venv."""
    assert shutil.which("openstack", path=session.devcloud.env["PATH"]) == str(session.devcloud.openstack)
    done = session.stacktap("which", "openstack", "server", "list")
    assert "class:       openstackclient.compute.v2.server:ListServer" in done.stdout
    assert f"python:      {session.devcloud.python}" in done.stdout
    assert done.stdout.splitlines()[0] == "openstack server list"
    session.assert_no_secrets(done.stdout, done.stderr)


def test_json_round_trip_into_a_fresh_store(session: Session, tmp_path: Path) -> None:
    """``export --format json`` of every run, ``import`` into a new store: ``show`` lists the
    same calls (server side included), exporting again gives the same file, a second import
    adds nothing."""
    fresh = tmp_path / "fresh.db"
    for key, recorded in session.runs.items():
        out = tmp_path / f"{key}.json"
        db = str(session.db)
        session.stacktap("export", recorded.run_id, "-o", str(out), "--format", "json", "--db", db)
        text = out.read_text()
        session.assert_no_secrets(text)
        calls = len(session.trace(key).calls)
        imported = session.stacktap("import", str(out), "--db", str(fresh))
        assert imported.stdout.startswith(f"imported run {recorded.run_id} ({recorded.label}): {calls} calls")
        shown = {}
        for show in (["-f", "json"], ["--all"]):
            original = session.stacktap("show", recorded.run_id, *show, "--db", str(session.db)).stdout
            shown[show[-1]] = session.stacktap("show", recorded.run_id, *show, "--db", str(fresh)).stdout
            assert shown[show[-1]] == original, (key, show)
            session.assert_no_secrets(original)
        rows = json.loads(shown["json"])
        assert len(rows) == calls and {r["Side"] for r in rows} == {CLIENT, SERVER}
        back = session.stacktap("export", recorded.run_id, "--format", "json", "--db", str(fresh)).stdout
        assert back == text, key
        again = session.stacktap("import", str(out), "--db", str(fresh))
        assert again.stdout == f"run {recorded.run_id} ({recorded.label}) already present: nothing imported\n"


def test_api_map_of_the_runs(session: Session) -> None:
    """``stacktap api`` over the issue's five runs: the APIs the commands needed (glance
    ``GET /v2/images``, nova ``GET /v2.1/servers/detail``...) and the ones services called."""
    ids = [session.runs[key].run_id for key in ISSUE_RUNS]
    done = session.stacktap("api", *ids, "-f", "json", "--db", str(session.db))
    rows = {(r["Caller"], r["Service"], r["Method"], r["Path"]): r for r in json.loads(done.stdout)}
    for key in [
        ("openstack", "glance", "GET", "/v2/images"),
        ("openstack", "nova", "GET", "/v2.1/servers/detail"),
        ("openstack", "glance", "POST", "/v2/images"),
        ("openstack", "glance", "PUT", "/v2/images/{image_id}/file"),
        ("openstack", "glance", "DELETE", "/v2/images/{image_id}"),
        ("glance-api", "keystone", "GET", "/v3/auth/tokens"),
        ("nova-api", "keystone", "GET", "/v3/auth/tokens"),
    ]:
        assert key in rows, (key, sorted(rows))
    assert rows[("openstack", "nova", "GET", "/v2.1/servers/detail")]["Statuses"] == "200"
    login = rows[("openstack", "keystone", "POST", "/v3/auth/tokens")]
    assert (login["Calls"], login["Runs"], login["Statuses"]) == (5, 5, "201")  # one login per command
    assert not any(caller == "(server)" for caller, *_ in rows)
    table = session.stacktap("api", *ids, "--server", "--db", str(session.db)).stdout
    assert re.search(r"\| \(server\)\s+\| glance-api\s+\| GET\s+\| /v2/images\s+\|", table), table
    assert re.search(r"\| \(server\)\s+\| nova-api\s+\| GET\s+\| /v2\.1/servers/detail\s+\|", table), table
    session.assert_no_secrets(done.stdout, table)


def test_diff_server_list_and_long(session: Session) -> None:
    """``stacktap diff`` of ``server list`` and ``server list --long``: with no server to look
    up, --long makes the same calls (timing ignored here); against ``image list`` the nova
    calls are added and glance's listing removed."""
    a, b = session.runs["server-list"], session.runs["server-list-long"]
    steps = fold(diff_calls(session.trace("server-list")))
    assert [s.key[:2] for s in steps][-1] == ("nova", "GET")
    steady = ["--ratio", "1000", "--min-ms", "100000"]  # NOTE: durations jitter; compare calls only
    text = session.stacktap("diff", a.run_id, b.run_id, *steady, "--db", str(session.db)).stdout
    lines = text.splitlines()
    assert lines[:2] == [f"--- A {a.run_id} ({a.label})", f"+++ B {b.run_id} ({b.label})"]
    assert lines[2:-1] == ["  {} {} {}".format(*s.key) for s in steps]
    assert lines[-1] == f"0 added, 0 removed, 0 changed, {len(steps)} same"

    data = json.loads(session.stacktap("diff", a.run_id, b.run_id, "-f", "json", "--all-calls",
                                       *steady, "--db", str(session.db)).stdout)
    assert (data["a"], data["b"]) == (a.run_id, b.run_id)
    assert {c["op"] for c in data["calls"]} == {"same"}
    compared = [(c["service"], c["method"], c["path"]) for c in data["calls"]]
    assert ("keystone", "GET", "/v3/auth/tokens") in compared  # nova's token validation

    images = session.runs["image-list"]
    other = session.stacktap("diff", images.run_id, a.run_id, *steady, "--db", str(session.db)).stdout
    assert "+ nova GET /v2.1/servers/detail" in other.splitlines()
    assert "- glance GET /v2/images" in other.splitlines()
    default = session.stacktap("diff", a.run_id, b.run_id, "--db", str(session.db)).stdout
    assert default.splitlines()[-1].startswith("0 added, 0 removed, ")
    session.assert_no_secrets(text, other, default)


def test_markdown_export_embeds_the_diagram(session: Session) -> None:
    """``export --format markdown`` of ``image create``: a page titled with the run, whose
    Mermaid block is exactly what ``stacktap diagram`` draws, one table row per client call."""
    run_id, db = session.runs["image-create"].run_id, str(session.db)
    page = session.stacktap("export", run_id, "--format", "markdown", "--db", db).stdout
    diagram = session.stacktap("diagram", run_id, "--db", db).stdout
    assert page.startswith(f"# {session.runs['image-create'].label}\n")
    assert f"```mermaid\n{diagram.rstrip()}\n```" in page
    clients = [c for c in session.trace("image-create").calls if c.side == CLIENT]
    rows = re.findall(r"^\| \d+ \| (\w+) \| `([^`]+)` \|", page, re.M)
    assert sorted(rows) == sorted((c.method, c.path_template or "") for c in clients)
    session.assert_no_secrets(page)
