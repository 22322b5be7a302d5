"""The system's headless Chromium, as the report's browser test and the README screenshot open it.

Debian's ``chromium`` package (scripts/setup.sh installs it where missing), driven by playwright, which
must not download a browser of its own. The flags keep it off the network this machine cannot reach
(background updates and first-run checks) and off a GPU it does not have.
"""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
)


def launch_chromium(playwright):
    """A headless browser from ``sync_playwright()``'s handle; say how to install Chromium when it is missing."""
    if not CHROMIUM.is_file():
        raise FileNotFoundError(f"{CHROMIUM} is missing: run scripts/setup.sh (it installs Debian's chromium package)")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_FLAGS))
