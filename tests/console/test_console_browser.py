"""The operator console driven end to end in a real headless Chromium (the system's /usr/bin/chromium,
driven by playwright, as tests/evaluation/test_report_browser.py opens it): the page loads with the
token, shows camera frames, takes an instruction (and asks about an ambiguous one), hands the person the controls (Take over,
then a key drives the arm), and its stop button halts the session within one control step even while the person drives,
checked through the session's state API; a screenshot of the page is checked."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest

from tests.console.conftest import SIZE, TOKEN, request
from vlastack.console.config import ConsoleConfig
from vlastack.console.server import ConsoleServer, ServerConfig
from vlastack.console.session import ConsoleSession
from vlastack.console.state import ASKING, RUNNING, STOPPED
from vlastack.evaluation.browser import CHROMIUM
from vlastack.reasoning.clarify import SceneObject

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.is_file(), reason=f"{CHROMIUM} is missing: run scripts/setup.sh (it installs Debian's chromium package)"
    ),
]
VIEWPORT = {"width": 1100, "height": 760}
#: How long a wait for the page may take before the test fails (a shared, loaded CI machine is slow; not a timing check).
WAIT_MS = 30_000


@pytest.fixture(scope="module")
def server():
    # The real scripted expert behind the real safety layer; paced so the page sees it move.
    # Two declared objects, so an instruction that fits both gets a question.
    objects = (SceneObject("drawer", "drawer"), SceneObject("window", "window"))
    config = ConsoleConfig(task="drawer-open-v3", experts=True, image_size=SIZE, objects=objects)
    with ConsoleServer(lambda: ConsoleSession(config), ServerConfig(token=TOKEN, port=0, steps_per_second=40, poll_ms=100)) as s:
        yield s


def test_console_session_end_to_end(browser, server, tmp_path):
    from PIL import Image
    from playwright.sync_api import expect

    page = browser.new_page(viewport=VIEWPORT)
    errors: list[str] = []
    outside: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.route(
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith(("blob:", server.base_url))
            else (outside.append(route.request.url), route.abort())
        ),
    )
    response = page.goto(server.url)
    assert response.status == 200
    assert "token" not in page.url  # the page took the token out of the address bar

    # Camera frames arrive and are drawn at their rendered size.
    # Waits go through playwright's expect (its own isolated world): the page's Content-Security-Policy
    # forbids the string evaluation wait_for_function would need, and the test keeps that policy on.
    for camera in ("corner2", "gripperPOV"):
        expect(page.locator(f"#cam-{camera}")).to_have_js_property("naturalWidth", SIZE, timeout=WAIT_MS)
    expect(page.locator("#subtask")).to_have_text(re.compile(r"\w+ \w+"), timeout=WAIT_MS)
    expect(page.locator("#source-note")).to_contain_text("privileged simulator state", timeout=WAIT_MS)

    # An instruction through the chat box, answered in the chat log.
    page.fill("#chat-input", "pull the drawer open")
    page.click("#chat-send")
    expect(page.locator("#chat-log")).to_contain_text("acting on the drawer", timeout=WAIT_MS)
    _, state = request(server.base_url, "/api/state")
    assert state["instruction"] == "pull the drawer open" and state["status"] == "running"

    # An ambiguous one: the page shows the question, the session holds, the answer lets it go on.
    page.fill("#chat-input", "open it")
    page.click("#chat-send")
    expect(page.locator("#question")).to_contain_text("Which one do you mean: the drawer or the window?", timeout=WAIT_MS)
    expect(page.locator("#status")).to_have_text(ASKING, timeout=WAIT_MS)
    page.fill("#chat-input", "the drawer")
    page.click("#chat-send")
    expect(page.locator("#chat-log")).to_contain_text("acting on the drawer: 'open it'", timeout=WAIT_MS)
    expect(page.locator("#status")).to_have_text(RUNNING, timeout=WAIT_MS)
    expect(page.locator("#question")).to_be_hidden(timeout=WAIT_MS)

    # Take over: a held key is the person's command, sent through the layer in place of the expert's action.
    # The expert keeps solving drawer-open and each new episode starts with the policy driving, so an episode
    # that ends between the click and the key takes the controls back: then (only then) take over again.
    driven = re.compile(r"^\[0\.50, 0\.00, 0\.00, \S+\]  by operator")
    for attempt in range(3):
        _, before = request(server.base_url, "/api/state")
        page.click("#takeover")
        expect(page.locator("#takeover")).to_have_text("Hand back", timeout=WAIT_MS)
        page.keyboard.down("d")  # x+ at the page's key size
        try:
            expect(page.locator("#action")).to_contain_text(driven, timeout=5_000)
            break
        except AssertionError:
            page.keyboard.up("d")
            _, now = request(server.base_url, "/api/state")
            if attempt == 2 or now["episode"] == before["episode"]:
                raise  # the same episode: the key really did not drive the arm
            expect(page.locator("#takeover")).to_have_text("Take over", timeout=WAIT_MS)
    _, state = request(server.base_url, "/api/state")
    assert state["operator"]["in_control"] and state["operator"]["command"][:3] == [0.5, 0.0, 0.0]
    assert state["last_source"] == "operator" and state["last_action"][:3] == [0.5, 0.0, 0.0]  # applied, the key still down
    page.keyboard.up("d")  # the release is sent too: the motion stops
    expect(page.locator("#operator")).to_contain_text("you have the controls: [0.00, 0.00, 0.00", timeout=WAIT_MS)

    # Stop, with the person still driving: the next control step sends the hold, and nothing is stepped after it.
    page.click("#stop")
    expect(page.locator("#status")).to_have_text(STOPPED, timeout=WAIT_MS)
    _, state = request(server.base_url, "/api/state")
    assert state["status"] == STOPPED
    assert state["halted_at"] == state["stop_requested_at"] + 1
    assert state["last_action"][:3] == [0.0, 0.0, 0.0]
    _, again = request(server.base_url, "/api/state")
    assert again["total_steps"] == state["halted_at"]
    expect(page.locator("#halt")).to_contain_text(f"hold sent at step {state['halted_at']}", timeout=WAIT_MS)

    # A wrong token gets the refusal, not the page.
    other = browser.new_page()
    assert other.goto(f"{server.base_url}/?token=wrong-token-123").status == 401
    other.close()

    shot = tmp_path / "console.png"
    page.screenshot(path=str(shot))
    image = Image.open(io.BytesIO(shot.read_bytes()))
    assert image.format == "PNG" and image.size == (VIEWPORT["width"], VIEWPORT["height"])
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    assert pixels.std() > 20  # not a blank page: header, panels, camera views
    camera = page.locator("#cam-corner2").bounding_box()
    x0, y0 = int(camera["x"]), int(camera["y"])
    assert pixels[y0 : y0 + int(camera["height"]), x0 : x0 + int(camera["width"])].std() > 5  # the scene, not an empty box
    assert not outside, f"the console asked the network for {outside}"
    assert not errors, errors
