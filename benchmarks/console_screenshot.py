"""The README's picture of the operator console: a live session (the shipped demo policy by default)
opened in the system's headless Chromium (as tests/console/test_console_browser.py opens it), after a
few control steps and a few lines of chat.

    .venv/bin/python benchmarks/console_screenshot.py docs/img/console.png
    .venv/bin/python benchmarks/console_screenshot.py /tmp/console.png --experts --task lh-drawer-open-close
"""

from __future__ import annotations

import argparse
import secrets
import time
from pathlib import Path

#: What the operator says in the picture, in order (an instruction, then a correction).
SAY = ("pull the drawer open", "a bit slower")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="PNG to write")
    parser.add_argument("--task", default="drawer-open-v3", help="task to run")
    parser.add_argument("--experts", action="store_true", help="the scripted expert instead of the shipped policy")
    parser.add_argument("--steps", type=int, default=60, help="control steps before the picture")
    parser.add_argument("--width", type=int, default=1320, help="viewport width in pixels")
    parser.add_argument("--height", type=int, default=680, help="viewport height in pixels")
    args = parser.parse_args()
    from playwright.sync_api import expect, sync_playwright

    from vlastack.console.config import ConsoleConfig
    from vlastack.console.server import ConsoleServer, ServerConfig
    from vlastack.console.session import ConsoleSession
    from vlastack.evaluation.browser import launch_chromium

    config = ConsoleConfig(task=args.task, experts=args.experts)
    server_config = ServerConfig(token=secrets.token_urlsafe(16), port=0, steps_per_second=20)
    with ConsoleServer(lambda: ConsoleSession(config), server_config) as server, sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": args.width, "height": args.height})
        page.goto(server.url)
        expect(page.locator("#cam-corner2")).to_have_js_property("naturalWidth", 128, timeout=60_000)
        for i, text in enumerate(SAY):
            while server.session.state()["total_steps"] < (i + 1) * args.steps // (len(SAY) + 1):
                time.sleep(0.05)
            page.fill("#chat-input", text)
            page.click("#chat-send")
        while server.session.state()["total_steps"] < args.steps:
            time.sleep(0.05)
        page.wait_for_timeout(600)  # let the last frames and the chat reach the page
        page.screenshot(path=str(args.out))
        browser.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
