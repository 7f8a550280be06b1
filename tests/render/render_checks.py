"""Checks of rendered output with the real tools, shared by the render tests and the dev cloud
end-to-end tests: Mermaid's own renderer (``mmdc``), the HAR 1.2 schema validator, and
Playwright driving headless Chromium with the network cut off.

The tools come from ``bash tools/install-test-tools.sh`` (tools/node_modules) and Debian's
/usr/bin/chromium; a check whose tool is missing skips, saying how to install it.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO / "tools"
ARTIFACTS = REPO / "artifacts"
DIAGRAMS = ARTIFACTS / "diagrams"
MMDC = TOOLS / "node_modules" / ".bin" / "mmdc"
HAR_VALIDATOR = TOOLS / "node_modules" / "har-validator"
CHROMIUM = Path("/usr/bin/chromium")
CHROME_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]

#: What Mermaid draws instead of a diagram it refuses.
MERMAID_REFUSALS = ("Maximum text size in diagram exceeded", "Syntax error in text")

needs_mermaid = pytest.mark.skipif(
    not (MMDC.exists() and CHROMIUM.exists()), reason="needs tools/node_modules mmdc and /usr/bin/chromium"
)


# --- Mermaid ---------------------------------------------------------------------------------


def draw(name: str, text: str) -> str:
    """Write ``text`` to artifacts/diagrams/NAME.mmd, render it with mmdc, return the SVG."""
    if not (MMDC.exists() and CHROMIUM.exists()):
        pytest.skip("needs tools/node_modules mmdc and /usr/bin/chromium (bash tools/install-test-tools.sh)")
    DIAGRAMS.mkdir(parents=True, exist_ok=True)
    config = DIAGRAMS / "puppeteer.json"
    config.write_text(json.dumps({"executablePath": str(CHROMIUM), "args": CHROME_ARGS}))
    source, svg = DIAGRAMS / (name + ".mmd"), DIAGRAMS / (name + ".svg")
    source.write_text(text)
    svg.unlink(missing_ok=True)
    done = subprocess.run([str(MMDC), "-q", "-p", str(config), "-i", str(source), "-o", str(svg)],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"mmdc failed on {source}:\n{done.stderr[-2000:]}"
    drawn = svg.read_text()
    # NOTE: mmdc exits 0 when Mermaid draws its error picture instead (text over maxTextSize).
    for refusal in MERMAID_REFUSALS:
        assert refusal not in drawn, f"Mermaid drew {refusal!r} for {source}"
    return drawn


def svg_texts(svg: str) -> str:
    """Every text node of the SVG, unescaped and joined by spaces."""
    return html.unescape(" ".join(re.findall(r">([^<>]+)<", svg)))


_ATTR = re.compile(r'([\w:-]+)="([^"]*)"')


def _attrs(tag: str) -> dict[str, str]:
    return {key: html.unescape(value) for key, value in _ATTR.findall(tag)}


def svg_actors(svg: str) -> dict[str, str]:
    """Mermaid participant id (``P2``) -> the name drawn in its box (``keystone``).

    NOTE: mmdc writes the lifeline as ``<line class="actor-line" name="P2" x1=...>`` and the
    name as ``<text class="actor ..." x=...><tspan>keystone</tspan></text>`` at the same x.
    """
    names_at: dict[str, str] = {}
    for tag, inner in re.findall(r'(<text[^>]*class="actor[^"]*"[^>]*>)(.*?)</text>', svg, re.S):
        names_at[_attrs(tag)["x"]] = html.unescape(" ".join(re.findall(r">([^<>]+)<", inner)))
    actors: dict[str, str] = {}
    for tag in re.findall(r'<line[^>]*class="actor-line[^"]*"[^>]*>', svg):
        attrs = _attrs(tag)
        if attrs.get("name") and attrs.get("x1") in names_at:
            actors[attrs["name"]] = names_at[attrs["x1"]]
    return actors


def svg_messages(svg: str) -> list[tuple[str, str, str]]:
    """The arrows mmdc drew, in order: (label, from name, to name).

    NOTE: each arrow is a ``text.messageText`` followed by its ``line.messageLineN`` carrying
    ``data-from`` / ``data-to`` participant ids.
    """
    actors = svg_actors(svg)
    found = re.findall(
        r'<text[^>]*class="messageText"[^>]*>([^<]*)</text>\s*(<line[^>]*class="messageLine\d"[^>]*>)', svg
    )
    out = []
    for label, line in found:
        attrs = _attrs(line)
        out.append((html.unescape(label), actors.get(attrs.get("data-from", ""), "?"),
                    actors.get(attrs.get("data-to", ""), "?")))
    return out


# --- HAR ---------------------------------------------------------------------------------------

# A tiny node program: validate the HAR on stdin, print "valid" or the schema errors.
_NODE_CHECK = """
const chunks = [];
process.stdin.on('data', c => chunks.push(c));
process.stdin.on('end', () => {
  require('har-validator').har(JSON.parse(Buffer.concat(chunks).toString()))
    .then(() => console.log('valid'))
    .catch(e => { console.log(JSON.stringify(e.errors || String(e))); process.exit(1); });
});
"""


def validate_har(document: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """Run har-validator (har-schema, HAR 1.2) on ``document``: exit 0 and "valid", or exit 1
    and the schema errors as JSON on stdout."""
    if shutil.which("node") is None or not HAR_VALIDATOR.is_dir():
        pytest.skip("node or tools/node_modules/har-validator missing (bash tools/install-test-tools.sh)")
    return subprocess.run(
        ["node", "-e", _NODE_CHECK],
        input=json.dumps(document),
        capture_output=True,
        text=True,
        cwd=TOOLS,
        timeout=60,
        check=False,
    )


# --- the HTML report in headless Chromium -------------------------------------------------------


@contextmanager
def launch_browser() -> Iterator[Any]:
    """Headless Debian Chromium through Playwright (for a module-scoped ``browser`` fixture)."""
    if not CHROMIUM.exists():
        pytest.skip("needs /usr/bin/chromium (bash tools/install-test-tools.sh)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROME_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class BrowserPage:
    """A page with every non-file request aborted and recorded, and page errors, console
    errors and dialogs (``alert``) recorded."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.page = self.context.new_page()
        self.attempts: list[str] = []
        self.problems: list[str] = []
        self.context.route("**/*", self._route)
        self.page.on("pageerror", lambda exc: self.problems.append(f"pageerror: {exc}"))
        self.page.on("console", lambda msg: msg.type == "error" and self.problems.append(msg.text))
        self.page.on("dialog", self._dialog)

    def _route(self, route: Any) -> None:
        url = route.request.url
        if url.startswith("file://"):
            route.continue_()
        else:
            self.attempts.append(url)
            route.abort()

    def _dialog(self, dialog: Any) -> None:
        self.problems.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    def open(self, path: Path) -> Any:
        """Load the report file and wait until its script says it is ready."""
        self.page.goto(path.as_uri())
        self.page.wait_for_selector("body[data-ready='1']")
        return self.page

    def close(self) -> None:
        self.context.close()


def box_size(page: Any, selector: str) -> tuple[float, float]:
    """Width and height of the first element matching ``selector``, as laid out."""
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    return box["width"], box["height"]
