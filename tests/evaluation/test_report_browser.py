"""The evaluation report opened in a real headless Chromium (the system's /usr/bin/chromium, driven by
playwright; scripts/setup.sh installs it where missing): one table row per task, videos that load at
their true aspect ratio, no request leaving the machine, no script error; a screenshot is saved."""

from __future__ import annotations

import pytest

from tests.evaluation.conftest import REPORT_TASKS

pytestmark = pytest.mark.slow


def test_report_in_chromium(browser, tiny_report, tiny_results, tmp_path):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors: list[str] = []
    outside: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.route(
        "**/*",
        lambda route: route.continue_() if route.request.url.startswith("file://") else (outside.append(route.request.url), route.abort()),
    )
    page.goto((tiny_report / "report.html").as_uri())

    rows = page.locator("table#tasks tbody tr")
    assert rows.count() == len(REPORT_TASKS)
    assert sorted(page.locator("table#tasks tbody tr td:first-child").all_inner_texts()) == sorted(REPORT_TASKS)
    page.locator("table#tasks th", has_text="task").click()  # sorting runs in the page, A to Z first
    assert page.locator("table#tasks tbody tr td:first-child").all_inner_texts() == sorted(REPORT_TASKS)

    videos = page.locator(".episode video")
    assert videos.count() == len(REPORT_TASKS)
    page.wait_for_function("[...document.querySelectorAll('.episode video')].every(v => v.readyState >= 1 || v.error)", timeout=30_000)
    shown = page.evaluate(
        "[...document.querySelectorAll('.episode video')].map(v => ({src: v.getAttribute('src'), error: v.error && v.error.code, "
        "w: v.videoWidth, h: v.videoHeight, cw: v.clientWidth, ch: v.clientHeight}))"
    )
    recorded = {e["video"]["file"]: e["video"] for e in tiny_results["episodes"] if e.get("video")}
    assert set(recorded) == {f"{t}.mp4" for t in REPORT_TASKS}
    for v in shown:
        assert v["error"] is None, v
        assert (v["w"], v["h"]) == (recorded[v["src"]]["width"], recorded[v["src"]]["height"]), v  # decoded: the recorded frames
        assert v["cw"] > v["w"] and abs(v["cw"] / v["ch"] - v["w"] / v["h"]) < 0.02, v  # drawn larger, not stretched

    page.locator(".episode button.enlarge").first.click()
    assert page.locator("dialog#enlarged").is_visible()
    page.keyboard.press("Escape")

    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not outside, f"the report asked the network for {outside}"
    assert not errors, errors
