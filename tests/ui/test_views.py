"""The role views in a real Chromium against a real ``ledger serve``: a co-funded book
of canary borrowers whose loans roll overdue for two banks (so each bank has its own
alerts, and one shared loan), rejected canary rows, consent checks by both banks, and
a ``ledger audit`` report.

Every page a test renders is kept and scanned for canary values; every request the
pages make is recorded (none may leave the origin); screenshots of each view at
desktop and phone width go to :func:`~tests.ui.browser.screenshot_dir`.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from api.ui.headers import CSP
from api.ui.labels import LABELS
from ledger.audit.defaults import LATEST_REPORT
from tests._alert_book import BANK_A, BANK_B, february, january
from tests._canaries import GOOD, bad_rows, leaks_in
from tests._keys import api_key
from tests.conftest import copy_deployment, wait_until
from tests.e2e.test_serve import _ledger
from tests.ui.browser import DESKTOP, PHONE, Visit
from tests.ui.served import Served, served

VIEWS = {"a": "bank", "b": "bank", "auditor": "auditor", "operator": "operator"}
#: Every page HTML the tests rendered, by where: scanned for canaries at the end.
RENDERED: dict[str, str] = {}


def canary_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The book's loans about canary borrowers (loan i: borrower i, every month)."""
    return [{**row, **GOOD[i % 3].fields()} for i, row in enumerate(rows)]


def write_jsonl(rows: list[dict[str, Any]], path: Path) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def api(console: Served, who: str, method: str, path: str, body: object = None) -> Any:
    """One API call with ``who``'s bearer key: (status, parsed body)."""
    request = urllib.request.Request(
        console.url + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {console.keys[who]}",
            "Content-Type": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory, deployed_template: Path) -> Iterator[Served]:
    place = tmp_path_factory.mktemp("views")
    data = copy_deployment(deployed_template, place / "data")
    january_file = write_jsonl(
        [*canary_rows(january()), *bad_rows("VIEW", 61)], place / "jan.jsonl"
    )
    for file in (january_file, write_jsonl(canary_rows(february()), place / "feb.jsonl")):
        done = _ledger(data, "submit", str(file))
        assert done.returncode == 0, done.stderr + done.stdout
    keys = {
        "a": api_key(data, "bank-a", "partner", institution=BANK_A),
        "b": api_key(data, "bank-b", "partner", institution=BANK_B),
        "auditor": api_key(data, "regulator", "auditor"),
        "operator": api_key(data, "ops", "operator"),
        "short": api_key(data, "short-lived", "auditor"),
    }
    done = _ledger(data, "audit")
    assert done.returncode in (0, 1), done.stderr  # clean or findings: a report either way
    assert (data / LATEST_REPORT).stat().st_mode & 0o777 == 0o600  # kept for the console
    with served(data, place / "serve.log") as running:
        running.keys |= keys
        for who, borrower in (("a", GOOD[0]), ("b", GOOD[1])):
            subject = {"id_type": "10", "id_number": borrower.id_number}
            status, _ = api(running, who, "POST", "/v1/consents/check",
                            {"subject": subject, "purpose": "LOAN_APPROVAL"})  # fmt: skip
            assert status == 200
        yield running
    assert RENDERED, "no page was rendered"
    for where, html in RENDERED.items():
        assert leaks_in(html.encode(), where) == []


def visit_as(browser: Browser, console: Served, who: str, **options: Any) -> Visit:
    visit = Visit(browser, console.url, **options)
    visit.sign_in(console.keys[who])
    return visit


def open_page(visit: Visit, path: str, name: str) -> Page:
    """``path`` in the visit's page: 200 with the console's CSP; its HTML kept for the scan."""
    answer = visit.page.goto(path)
    assert answer is not None and answer.status == 200, path
    assert answer.headers["content-security-policy"] == CSP
    RENDERED[name] = visit.page.content()
    return visit.page


def cells(page: Page, table: str, column: int) -> list[str]:
    return [
        c.strip()
        for c in page.locator(f"#{table} tbody tr > :nth-child({column})").all_inner_texts()
    ]


def alert_ids(page: Page) -> list[str]:
    return page.locator("#alerts tbody tr[id]").evaluate_all("rows => rows.map(r => r.id)")


@pytest.mark.parametrize("who", ["a", "b", "auditor", "operator"])
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_each_view_renders_its_tables_at_desktop_and_phone_width(
    browser: Browser, console: Served, who: str, lang: str
) -> None:
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        visit = visit_as(browser, console, who, viewport=viewport)
        try:
            page = open_page(visit, f"/ui/{VIEWS[who]}?lang={lang}", f"{who} {lang} {size}")
            tables = page.locator("main table")
            assert tables.count() >= 2
            for i in range(tables.count()):
                assert tables.nth(i).locator("caption").count() == 1
            english, chinese = LABELS[VIEWS[who]]
            assert page.locator("h1").inner_text().startswith(chinese if lang == "zh" else english)
            if lang == "zh":
                assert page.locator("html").get_attribute("lang") == "zh-CN"
            # Nothing wider than the window: tables scroll inside their own box.
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
            visit.screenshot(f"view-{who}-{lang}-{size}")
            assert visit.foreign_requests() == []
            assert visit.console_errors == []
        finally:
            visit.close()


def test_each_bank_sees_its_own_book_alerts_and_inquiries_only(
    browser: Browser, console: Served
) -> None:
    seen: dict[str, dict[str, Any]] = {}
    for who in ("a", "b"):
        visit = visit_as(browser, console, who)
        try:
            page = open_page(visit, "/ui/bank", f"bank {who}")
            refs = {r for r in cells(page, "alerts", 3) if r.startswith("lr_")}
            inquiries = page.locator("#inquiries tbody tr[id]").evaluate_all(
                "rows => rows.map(r => r.id)"
            )
            seen[who] = {"html": page.content(), "refs": refs, "alerts": alert_ids(page),
                         "inquiries": inquiries, "book": cells(page, "book", 2)}  # fmt: skip
            # The same alerts the API lists for this bank, no more, no fewer.
            status, listed = api(console, who, "GET", "/v1/alerts?limit=1000")
            assert status == 200
            assert seen[who]["alerts"] == [a["id"] for a in listed["alerts"]]
            # The band's share of the balance: the shares the bank's latest alerts carry.
            rolled = [a["body"]["data"] for a in listed["alerts"]
                      if a["type"] == "overdue.bucket_rolled"]  # fmt: skip
            total = sum(Decimal(d["balance_share"]) for d in rolled)
            assert cells(page, "book", 3) == [f"{total:.2f}"]
        finally:
            visit.close()
    for me, other in (("a", "b"), ("b", "a")):
        mine, theirs = seen[me], seen[other]
        assert mine["refs"] and mine["alerts"] and len(mine["inquiries"]) == 1
        for value in [*theirs["refs"], *theirs["alerts"], *theirs["inquiries"]]:
            assert value not in mine["html"]
    # Bank A funds two loans (one alone, one with B), bank B two: 40 days past due now.
    assert seen["a"]["book"] == ["2"] and seen["b"]["book"] == ["2"]


def test_a_proof_page_follows_the_apis_rule(browser: Browser, console: Served) -> None:
    visit = visit_as(browser, console, "b")
    try:
        page = open_page(visit, "/ui/bank", "bank b for proofs")
        link = page.locator("#alerts tbody a[href^='/ui/proof/']").first
        leaf = str(link.get_attribute("href")).rsplit("/", 1)[1]
        link.click()
        page.wait_for_load_state()
        RENDERED["proof b"] = page.content()
        assert page.locator("#proof").is_visible()
        visit.screenshot("view-proof-desktop")
        page.set_viewport_size(PHONE)
        visit.screenshot("view-proof-phone")
    finally:
        visit.close()
    visit = visit_as(browser, console, "a")
    try:
        # Another bank's leaf: what the API gives this key (a bundle without the record,
        # which only its reporter reads), never more.
        page = open_page(visit, f"/ui/proof/{leaf}", "proof of b's leaf for a")
        status, bundle = api(console, "a", "GET", f"/v1/proofs/{leaf}")
        assert status == 200 and "record" not in bundle
        shown = json.loads(page.locator("pre.bundle").inner_text())
        assert shown == bundle
        unknown = visit.page.goto("/ui/proof/0x" + "ab" * 32)
        assert unknown is not None and unknown.status == 404
        assert api(console, "a", "GET", "/v1/proofs/0x" + "ab" * 32)[0] == 404
        RENDERED["proof unknown"] = visit.page.content()
    finally:
        visit.close()


def test_an_auditor_cannot_submit(browser: Browser, console: Served) -> None:
    status, problem = api(console, "auditor", "POST", "/v1/submissions", {"records": []})
    assert status == 403, problem
    visit = visit_as(browser, console, "auditor")
    try:
        page = open_page(visit, "/ui/auditor", "auditor forms")
        actions = page.locator("form").evaluate_all("forms => forms.map(f => f.action)")
        assert sorted(a.removeprefix(console.url) for a in actions) == [
            "/ui/auditor/replay",
            "/ui/logout",
        ]
        assert visit.page.goto("/ui/operator") is not None
        assert visit.page.locator("h1").inner_text() == "This page is for another role."
    finally:
        visit.close()


def test_the_auditor_view_checks_the_log_and_runs_the_replay(
    browser: Browser, console: Served
) -> None:
    visit = visit_as(browser, console, "auditor")
    try:
        page = open_page(visit, "/ui/auditor", "auditor check")
        assert page.locator("#log-verdict").inner_text() == "agrees"
        assert int(page.locator("#batch-count").inner_text()) >= 2
        assert page.locator("#report-verdict").is_visible()  # the `ledger audit` report
        # Times: the reader's locale on screen, the UTC value on hover.
        first = page.locator("#batches time").first
        stamp = str(first.get_attribute("datetime"))
        assert first.get_attribute("title") == f"{stamp} UTC"
        assert first.inner_text() != stamp
        page.get_by_role("button", name="Run the check").click()
        page.wait_for_load_state()
        RENDERED["replay"] = page.content()
        assert page.locator("h1").inner_text() == "Quick completeness check"
        assert page.locator("#report-verdict").inner_text() == "clean"
        anchors = page.locator("#report-checked tr", has_text="anchors").first.inner_text()
        assert re.search(r"\d+", anchors)
        visit.screenshot("view-auditor-replay-desktop")
        assert visit.foreign_requests() == []
    finally:
        visit.close()


def test_the_replay_refuses_a_post_from_another_site(console: Served) -> None:
    request = urllib.request.Request(
        console.url + "/ui/auditor/replay",
        method="POST",
        data=b"",
        headers={"Cookie": f"ledger_console_key={console.keys['auditor']}",
                 "Origin": "https://evil.example"},
    )  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 403


def test_the_operator_view_shows_rejections_and_health(browser: Browser, console: Served) -> None:
    visit = visit_as(browser, console, "operator")
    try:
        page = open_page(visit, "/ui/operator", "operator facts")
        counts = [int(n) for n in cells(page, "rejections", 3)]
        assert sum(counts) == len(bad_rows("VIEW", 61))
        assert page.locator("#chain-state").inner_text() in ("ok", "busy")
        metric_names = set(cells(page, "metrics", 1))
        assert "creditanchor_batches" in metric_names
        assert cells(page, "recent", 5)  # accepted, per submission
    finally:
        visit.close()


def test_pages_read_without_javascript(browser: Browser, console: Served) -> None:
    for who in ("a", "auditor", "operator"):
        visit = Visit(browser, console.url, java_script_enabled=False)
        try:
            visit.sign_in(console.keys[who])
            page = open_page(visit, f"/ui/{VIEWS[who]}", f"{who} without js")
            assert page.locator("main table tbody tr").count() >= 3
            first = page.locator("main time").first
            assert first.inner_text() == first.get_attribute("datetime")  # the UTC value
        finally:
            visit.close()


def test_a_revoked_keys_cookie_stops_working(browser: Browser, console: Served) -> None:
    visit = visit_as(browser, console, "short")
    try:
        open_page(visit, "/ui/auditor", "short-lived auditor")
        done = _ledger(console.data_dir, "partner", "revoke", "short-lived")
        assert done.returncode == 0, done.stderr

        def signed_out() -> bool:
            visit.page.goto("/ui/auditor")
            return visit.page.url.endswith("/ui/login")

        wait_until(signed_out)  # within the key-cache time (a second by default)
    finally:
        visit.close()
