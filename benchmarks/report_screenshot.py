"""The README's picture of the evaluation report: a report folder opened in the system's headless
Chromium (as tests/evaluation/test_report_browser.py opens it), each video shown half a second in.

    .venv/bin/vlastack demo && .venv/bin/python benchmarks/report_screenshot.py outputs/demo/report docs/img/report.png
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("report", type=Path, help="report folder (holds report.html)")
    parser.add_argument("out", type=Path, help="PNG to write")
    parser.add_argument("--width", type=int, default=1320, help="viewport width in pixels")
    parser.add_argument("--height", type=int, default=1420, help="height of the top of the page kept, in pixels")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from vlastack.evaluation.browser import launch_chromium

    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": args.width, "height": args.height})
        page.goto((args.report / "report.html").resolve().as_uri())
        page.wait_for_function("[...document.querySelectorAll('.episode video')].every(v => v.readyState >= 2)", timeout=30_000)
        page.evaluate("document.querySelectorAll('.episode video').forEach(v => { v.currentTime = Math.min(0.5, v.duration / 2); })")
        page.wait_for_timeout(800)  # let the seeks land before the picture
        page.screenshot(path=str(args.out), clip={"x": 0, "y": 0, "width": args.width, "height": args.height})
        browser.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
