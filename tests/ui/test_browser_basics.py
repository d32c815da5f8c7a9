"""The console in a real Chromium: signing in and out, the headers, nothing fetched from
elsewhere."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from api.ui.headers import CSP
from tests._keys import api_key
from tests.conftest import copy_deployment
from tests.ui.browser import PHONE, Visit
from tests.ui.served import Served, served


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory, deployed_template: Path) -> Iterator[Served]:
    place = tmp_path_factory.mktemp("console")
    data = copy_deployment(deployed_template, place / "data")  # what `ledger deploy` leaves
    with served(data, place / "serve.log") as running:
        running.keys["auditor"] = api_key(running.data_dir, "regulator", "auditor")
        yield running


def test_signing_in_and_out_in_the_browser(browser: Browser, console: Served) -> None:
    visit = Visit(browser, console.url)
    try:
        answer = visit.page.goto("/ui/login")
        assert answer is not None and answer.headers["content-security-policy"] == CSP
        visit.sign_in(console.keys["auditor"])
        assert visit.page.url.endswith("/ui/auditor")
        assert visit.page.get_by_text("regulator").is_visible()
        cookies = visit.context.cookies()
        assert [(c["httpOnly"], c["sameSite"], c["path"]) for c in cookies] == [
            (True, "Strict", "/ui")
        ]
        visit.screenshot("auditor-desktop")
        visit.page.get_by_role("button", name="Sign out").click()
        visit.page.wait_for_url("**/ui/login")
        assert visit.context.cookies() == []
        assert visit.foreign_requests() == []
        assert visit.console_errors == []
    finally:
        visit.close()


def test_a_wrong_key_stays_on_the_sign_in_page(browser: Browser, console: Served) -> None:
    visit = Visit(browser, console.url, viewport=PHONE)
    try:
        visit.sign_in("ca_" + "x" * 43)
        assert visit.page.get_by_role("alert").inner_text() == "That key is unknown or revoked."
        assert visit.context.cookies() == []
        visit.screenshot("login-refused-phone")
    finally:
        visit.close()
