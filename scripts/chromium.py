"""Debian's Chromium driven by Playwright: the one launch the console's browser tests
(``tests/ui/browser.py``) and the benchmark's ``ui`` section (``scripts/bench_ui.py``)
share. Playwright's own browser downloads are never used."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from playwright.sync_api import Browser, BrowserType, Playwright, sync_playwright

#: The flags a root user on a machine with no outside network needs: no sandbox (root),
#: no GPU, and none of Chromium's own background connections.
FLAGS: Final = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
)
#: Where the browser is when ``LEDGER_CHROMIUM`` names none and it is not on the PATH.
DEBIAN_CHROMIUM: Final = "/usr/bin/chromium"
INSTALL_HINT: Final = "`make browser` installs Debian's chromium package (apt-get install chromium)"


def chromium_executable() -> str:
    """The browser to run: ``LEDGER_CHROMIUM``, else ``chromium`` on the PATH, else Debian's
    (which may be missing: the caller checks)."""
    return os.environ.get("LEDGER_CHROMIUM") or shutil.which("chromium") or DEBIAN_CHROMIUM


def launch(browser_type: BrowserType, executable: str, *extra: str) -> Browser:
    """A headless ``executable`` started with :data:`FLAGS` and ``extra``."""
    return browser_type.launch(executable_path=executable, args=[*FLAGS, *extra])


@contextmanager
def launched(executable: str) -> Iterator[tuple[Playwright, Browser]]:
    """Playwright and a headless ``executable`` started with :data:`FLAGS`."""
    with sync_playwright() as playwright:
        browser = launch(playwright.chromium, executable)
        try:
            yield playwright, browser
        finally:
            browser.close()
