"""Headless Chromium for the console's browser tests: Debian's ``chromium`` driven by
Playwright (its own browser downloads are never used), against a real ``ledger serve``.

- :func:`chromium_path`: the browser, or a failure that says how to install it
  (``make browser``); the tests never skip for want of it.
- :class:`Visit`: a page in a fresh browser context that records every request the
  page makes (:meth:`Visit.foreign_requests` lists those that left the origin) and
  writes screenshots to :func:`screenshot_dir`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright

from scripts.chromium import INSTALL_HINT, chromium_executable, launch
from scripts.chromium import launched as launch_chromium

DESKTOP: Final = {"width": 1280, "height": 800}
PHONE: Final = {"width": 390, "height": 844}


def chromium_path() -> str:
    """Debian's Chromium (``LEDGER_CHROMIUM`` names another)."""
    found = chromium_executable()
    if not Path(found).exists():
        pytest.fail(f"Chromium is not installed ({found} is missing): {INSTALL_HINT}")
    return found


def screenshot_dir() -> Path:
    """Where the tests write screenshots (``LEDGER_SCREENSHOTS``, else a temp dir)."""
    default = Path(tempfile.gettempdir()) / "credit-anchor-ui-screenshots"
    place = Path(os.environ.get("LEDGER_SCREENSHOTS") or default)
    place.mkdir(parents=True, exist_ok=True)
    return place


@contextmanager
def launched() -> Iterator[tuple[Playwright, Browser]]:
    with launch_chromium(chromium_path()) as running:
        yield running


def another_chromium(browser: Browser, *extra: str) -> Browser:
    """A second browser beside ``browser`` (same Playwright), with ``extra`` flags."""
    return launch(browser.browser_type, chromium_path(), *extra)


class Visit:
    """One browser context and page on the console at ``base``; every request recorded."""

    def __init__(
        self, browser: Browser, base: str, *, viewport: dict[str, int] = DESKTOP, **options: object
    ) -> None:
        self.base = base
        self.context: BrowserContext = browser.new_context(
            viewport=viewport, base_url=base, **options
        )
        self.page: Page = self.context.new_page()
        self.requests: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.console_errors: list[str] = []
        self.page.on(
            "console",
            lambda message: (
                self.console_errors.append(message.text) if message.type == "error" else None
            ),
        )

    def sign_in(self, key: str) -> Page:
        self.page.goto("/ui/login")
        self.page.get_by_label("API key").fill(key)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_load_state()
        return self.page

    def foreign_requests(self) -> list[str]:
        """Requests that left the console's origin (``data:`` and ``blob:`` never do)."""
        return [
            url
            for url in self.requests
            if not (url.startswith(self.base + "/") or url.startswith(("data:", "blob:")))
        ]

    def screenshot(self, name: str) -> Path:
        path = screenshot_dir() / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        self.context.close()
