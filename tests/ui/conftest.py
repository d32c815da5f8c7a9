"""A browser for the console tests, one per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.ui.browser import launched


# Module scope, not session: Playwright's sync API keeps an asyncio loop running on
# the thread while it is started, and a test of another module run next on the same
# worker (asyncio.run, an async client) must not find one.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched() as (_, chromium):
        yield chromium
