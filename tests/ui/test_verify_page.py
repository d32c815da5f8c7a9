"""The verify page in a real Chromium against a real ``ledger serve``: bundles from the CLI
(``ledger bundle``, ``ledger export``) checked step by step in the browser, each one-byte
tamper red at its step, nothing of a record sent unless asked, nothing leaving the origin."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page

from api.ui.headers import CSP
from api.ui.labels import translator
from ledger.proofs import canonical_bytes
from ledger.records import write_csv
from tests._canaries import leaks_in, rows_for
from tests._keys import api_key
from tests.conftest import copy_deployment
from tests.e2e.test_serve import _ledger
from tests.ui.browser import DESKTOP, PHONE, Visit, another_chromium
from tests.ui.served import Served, served

STEPS = ("record", "leaf", "path", "root", "anchor")
DONE = '#verify-results[data-state="done"], #verify-results[data-state="error"]'
#: Page work waits on the page's own "done", for as long as a loaded machine needs.
PAGE_WAIT_MS = 120_000


@dataclass
class Console:
    served: Served
    good: bytes  # one bundle, as `ledger bundle` writes it
    export: list[bytes] = field(default_factory=list)  # `ledger export` lines


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory, deployed_template: Path) -> Iterator[Console]:
    place = tmp_path_factory.mktemp("verify")
    data = copy_deployment(deployed_template, place / "data")
    for name, seed in (("CANARY-V", 71), ("CANARY-W", 72)):  # two batches
        rows = place / f"{name}.csv"
        write_csv(rows_for(name, seed=seed, n=12), rows)
        done = _ledger(data, "submit", str(rows))
        assert done.returncode == 0, done.stderr
    bundle, export = place / "good.json", place / "export.jsonl"
    done = _ledger(data, "bundle", "CANARY-V-0", "-o", str(bundle))
    assert done.returncode == 0, done.stderr
    done = _ledger(data, "export", "-o", str(export))
    assert done.returncode == 0, done.stderr
    with served(data, place / "serve.log") as running:
        running.keys["auditor"] = api_key(running.data_dir, "regulator", "auditor")
        running.keys["operator"] = api_key(running.data_dir, "ops", "operator")
        lines = [line.encode() for line in export.read_text().splitlines() if line]
        yield Console(running, bundle.read_bytes(), lines)


@dataclass
class Checked:
    """One file verified in the page: what it shows, and every request it made."""

    visit: Visit
    posts: list[tuple[str, str]]  # (url, body) of every POST the page made

    @property
    def page(self) -> Page:
        return self.visit.page

    def steps(self) -> dict[str, str]:
        """step -> ok / bad / neutral, for a single bundle."""
        items = self.page.locator("#verify-steps li")
        return {
            str(items.nth(i).get_attribute("data-step")): str(
                items.nth(i).get_attribute("data-state")
            )
            for i in range(items.count())
        }

    def step_text(self, name: str) -> str:
        return self.page.locator(f'#verify-steps li[data-step="{name}"]').inner_text()

    def first_red(self) -> str | None:
        return next((name for name, state in self.steps().items() if state == "bad"), None)


def open_page(
    browser: Browser, console: Console, role: str, query: str = "", **options: Any
) -> Checked:
    visit = Visit(browser, console.served.url, **options)
    posts: list[tuple[str, str]] = []
    visit.page.on(
        "request",
        lambda r: posts.append((r.url, r.post_data or "")) if r.method == "POST" else None,
    )
    visit.sign_in(console.served.keys[role])
    answer = visit.page.goto("/ui/verify" + query)
    assert answer is not None and answer.headers["content-security-policy"] == CSP
    return Checked(visit, posts)


def verify(checked: Checked, payload: bytes, name: str = "bundle.json") -> None:
    """Set the file on the input and wait for the page to finish with it."""
    upload = {"name": name, "mimeType": "application/json", "buffer": payload}
    checked.page.get_by_label("Bundle or export file", exact=False).set_input_files(upload)
    checked.page.wait_for_selector(DONE, timeout=PAGE_WAIT_MS)


def posted_after_sign_in(checked: Checked) -> list[tuple[str, str]]:
    return [(url, body) for url, body in checked.posts if not url.endswith("/ui/login")]


def flip_hex(value: str, position: int = -1) -> str:
    """``value`` with one hex digit changed (so still well-formed)."""
    chars = list(value)
    chars[position] = "1" if chars[position] != "1" else "2"
    return "".join(chars)


def tamper_record(bundle: dict[str, Any]) -> None:
    name, value = next((k, v) for k, v in sorted(bundle["record"].items()) if isinstance(v, str))
    bundle["record"][name] = value[:-1] + ("A" if value[-1:] != "A" else "B")


def tamper_index(bundle: dict[str, Any]) -> None:
    index = bundle["leaf_index"]
    bundle["leaf_index"] = index + 1 if index + 1 < bundle["tree_size"] else index - 1


def tamper_path(bundle: dict[str, Any]) -> None:
    bundle["audit_path"][0] = flip_hex(bundle["audit_path"][0])


def tamper_root(bundle: dict[str, Any]) -> None:
    bundle["root"] = flip_hex(bundle["root"])


def tamper_batch(bundle: dict[str, Any]) -> None:
    bundle["batch_id"] = flip_hex(bundle["batch_id"])


def tamper_registry(bundle: dict[str, Any]) -> None:
    bundle["anchor"]["registry"] = flip_hex(bundle["anchor"]["registry"])


def tampered(text: bytes, change: Callable[[dict[str, Any]], None]) -> bytes:
    bundle = json.loads(text)
    change(bundle)
    return json.dumps(bundle).encode()


def test_a_good_bundle_is_green_at_every_step_and_sends_no_record(
    browser: Browser, console: Console
) -> None:
    checked = open_page(browser, console, "auditor")
    try:
        verify(checked, console.good)
        assert checked.steps() == dict.fromkeys(STEPS, "ok")
        assert "✓" in checked.step_text("leaf")
        summary = checked.page.locator("#verify-summary").inner_text()
        assert summary == "Verified: every step holds."
        bundle = json.loads(console.good)
        asked = checked.page.locator(".asked").inner_text()
        assert f"chain {bundle['anchor']['chain_id']}" in asked
        assert bundle["anchor"]["registry"].lower() in asked.lower()
        # the one request the check made: the anchor, with no record field in it
        posts = posted_after_sign_in(checked)
        assert [url.removeprefix(console.served.url) for url, _ in posts] == ["/ui/api/anchor"]
        sent = json.loads(posts[0][1])
        assert set(sent) == {"anchors"}
        assert [set(claim) for claim in sent["anchors"]] == [
            {"chain_id", "registry", "batch_id", "root", "tree_size", "block_number",
             "block_timestamp"}
        ]  # fmt: skip
        for value in bundle["record"].values():
            if isinstance(value, str) and len(value) > 3:
                assert value not in posts[0][1]
        assert checked.visit.foreign_requests() == []
        assert checked.visit.console_errors == []
        assert leaks_in(checked.page.content().encode(), "verify page") == []
        checked.visit.screenshot("verify-good-desktop")
    finally:
        checked.visit.close()


@pytest.mark.parametrize(
    ("change", "red_at"),
    [
        (tamper_record, "leaf"),
        (tamper_index, "path"),
        (tamper_path, "path"),
        (tamper_root, "root"),
        (tamper_batch, "anchor"),
        (tamper_registry, "anchor"),
    ],
    ids=["record", "leaf_index", "path_element", "root", "batch_id", "registry"],
)
def test_each_one_byte_tamper_is_red_at_its_step(
    browser: Browser, console: Console, change: Callable[[dict[str, Any]], None], red_at: str
) -> None:
    checked = open_page(browser, console, "auditor")
    try:
        verify(checked, tampered(console.good, change))
        steps = checked.steps()
        assert checked.first_red() == red_at, steps
        before = STEPS[: STEPS.index(red_at)]
        assert {name: steps[name] for name in before} == dict.fromkeys(before, "ok")
        assert "✗" in checked.step_text(red_at)
        summary = checked.page.locator("#verify-summary").inner_text()
        assert summary == f"Failed at the {red_at} step."
        if change is tamper_registry:
            assert "this server anchors on chain" in checked.step_text("anchor")
        if change is tamper_root:
            checked.visit.screenshot("verify-tampered-root-desktop")
        assert checked.visit.foreign_requests() == []
    finally:
        checked.visit.close()


def test_an_export_is_summarised_with_its_failures_at_their_steps(
    browser: Browser, console: Console
) -> None:
    lines = list(console.export)
    assert len(lines) == 24
    lines[3] = tampered(lines[3], tamper_root)
    lines[17] = tampered(lines[17], tamper_record)
    checked = open_page(browser, console, "auditor", viewport=PHONE)
    try:
        verify(checked, b"\n".join(lines) + b"\n", "export.jsonl")
        page = checked.page
        assert page.locator("#verify-summary").inner_text() == "24 bundles: 22 verified, 2 failed."
        failures = page.locator("#verify-failures li")
        assert failures.count() == 2
        assert failures.nth(0).get_attribute("data-step") == "root"
        assert failures.nth(0).inner_text().startswith("Bundle 4 — ✗ root")
        assert failures.nth(1).get_attribute("data-step") == "leaf"
        assert failures.nth(1).inner_text().startswith("Bundle 18 — ✗ leaf")
        assert page.locator("#verify-rows tbody tr").count() == 24
        # two batches, one anchor call with one claim each (the tampered root is a third)
        posts = posted_after_sign_in(checked)
        assert [url.removeprefix(console.served.url) for url, _ in posts] == ["/ui/api/anchor"]
        assert len(json.loads(posts[0][1])["anchors"]) == 3
        assert checked.visit.foreign_requests() == []
        assert leaks_in(page.content().encode(), "verify page (export)") == []
        checked.visit.screenshot("verify-export-phone")
    finally:
        checked.visit.close()


def test_the_page_reads_in_chinese(browser: Browser, console: Console) -> None:
    checked = open_page(browser, console, "auditor", query="?lang=zh", viewport=PHONE)
    try:
        assert checked.page.locator("html").get_attribute("lang") == "zh-CN"
        upload = {"name": "b.json", "mimeType": "application/json", "buffer": console.good}
        checked.page.locator("#bundle-file").set_input_files(upload)
        checked.page.wait_for_selector(DONE, timeout=PAGE_WAIT_MS)
        zh = translator("zh")
        summary = zh["summary_one_ok"]
        assert checked.page.locator("#verify-summary").inner_text() == summary
        leaf = checked.page.locator('#verify-steps li[data-step="leaf"]').inner_text()
        assert leaf.startswith("✓ " + zh["step_leaf"])
        checked.visit.screenshot("verify-good-zh-phone")
    finally:
        checked.visit.close()


def test_a_file_that_is_not_json_is_refused_naming_its_line(
    browser: Browser, console: Console
) -> None:
    checked = open_page(browser, console, "auditor")
    try:
        broken = [console.export[0], console.export[1], b'{"format": "cred', console.export[2]]
        verify(checked, b"\n".join(broken), "broken.jsonl")
        error = checked.page.get_by_role("alert").inner_text()
        assert error.startswith("Line 3 is not JSON: "), error
        assert posted_after_sign_in(checked) == []
    finally:
        checked.visit.close()


def test_a_file_over_the_cap_is_refused_unread(
    browser: Browser, console: Console, tmp_path: Path
) -> None:
    big = tmp_path / "huge.jsonl"
    with big.open("wb") as out:  # sparse: the page refuses it by its size alone
        out.truncate(64 * 1024 * 1024 + 1)
    checked = open_page(browser, console, "auditor")
    try:
        checked.page.locator("#bundle-file").set_input_files(big)
        checked.page.wait_for_selector(DONE, timeout=PAGE_WAIT_MS)
        assert checked.page.get_by_role("alert").inner_text() == "The file is larger than 64 MB."
        assert posted_after_sign_in(checked) == []
    finally:
        checked.visit.close()


def test_a_bundle_without_its_record_checks_the_hash_path_only(
    browser: Browser, console: Console
) -> None:
    bundle = json.loads(console.good)
    del bundle["record"]
    checked = open_page(browser, console, "auditor")
    try:
        verify(checked, json.dumps(bundle).encode())
        assert checked.steps() == {
            "record": "neutral", "leaf": "neutral", "path": "ok", "root": "ok", "anchor": "ok",
        }  # fmt: skip
        assert "not present (erased or hash-only)" in checked.step_text("record")
    finally:
        checked.visit.close()


def test_the_server_side_check_sends_the_records_only_when_asked(
    browser: Browser, console: Console
) -> None:
    checked = open_page(browser, console, "auditor")
    try:
        verify(checked, b"\n".join(console.export[:5]), "five.jsonl")
        assert [u for u, _ in posted_after_sign_in(checked)] == [
            console.served.url + "/ui/api/anchor"
        ]
        checked.page.get_by_role("button", name="Check on the server").click()
        result = checked.page.locator('#server-result[data-state="done"]')
        result.wait_for(timeout=PAGE_WAIT_MS)
        assert result.inner_text() == (
            "The server checked 5 records: 5 anchored, 0 pending, 0 unknown, 0 mismatched, "
            "0 erased."
        )
        url, body = posted_after_sign_in(checked)[-1]
        assert url == console.served.url + "/ui/api/verify"
        assert json.loads(body)["records"] == [
            json.loads(line)["record"] for line in console.export[:5]
        ]
        assert checked.visit.foreign_requests() == []
    finally:
        checked.visit.close()


def test_an_operator_gets_no_server_side_check(browser: Browser, console: Console) -> None:
    checked = open_page(browser, console, "operator", viewport=DESKTOP)
    try:
        verify(checked, console.good)
        assert checked.steps() == dict.fromkeys(STEPS, "ok")
        assert checked.page.locator("#server-check").count() == 0
    finally:
        checked.visit.close()


def test_the_console_calls_refuse_other_origins_and_roles(console: Console) -> None:
    url = console.served.url
    claim = {"anchors": [{"chain_id": 1}]}
    with httpx.Client(base_url=url, timeout=60) as client:
        assert client.post("/ui/api/anchor", json=claim).status_code == 401  # no cookie
        client.cookies.set("ledger_console_key", console.served.keys["operator"], path="/ui")
        other = client.post("/ui/api/anchor", json=claim, headers={"origin": "https://evil.test"})
        assert other.status_code == 403
        assert other.headers["content-type"] == "application/problem+json"
        records = {"records": [json.loads(console.good)["record"]]}
        denied = client.post("/ui/api/verify", json=records, headers={"origin": url})
        assert denied.status_code == 403
        assert client.post("/ui/api/anchor", json=claim, headers={"origin": url}).status_code == 422


def test_a_dropped_file_is_verified_like_a_chosen_one(browser: Browser, console: Console) -> None:
    checked = open_page(browser, console, "auditor")
    try:
        dropped = checked.page.evaluate_handle(
            """text => {
                const transfer = new DataTransfer();
                transfer.items.add(new File([text], "dropped.json", {type: "application/json"}));
                return transfer;
            }""",
            console.good.decode(),
        )
        checked.page.dispatch_event("#dropzone", "drop", {"dataTransfer": dropped})
        checked.page.wait_for_selector(DONE, timeout=PAGE_WAIT_MS)
        assert checked.steps() == dict.fromkeys(STEPS, "ok")
    finally:
        checked.visit.close()


def test_without_a_secure_context_the_page_says_it_cannot_hash(
    browser: Browser, console: Console
) -> None:
    """WebCrypto exists only on HTTPS or localhost: reached by another name over plain
    HTTP, the page says so instead of failing somewhere in the middle."""
    port = console.served.url.rsplit(":", 1)[1]
    base = f"http://verify.test:{port}"
    chromium = another_chromium(browser, "--host-resolver-rules=MAP verify.test 127.0.0.1")
    try:
        visit = Visit(chromium, base)
        try:
            visit.sign_in(console.served.keys["auditor"])
            visit.page.goto("/ui/verify")
            assert visit.page.evaluate("window.isSecureContext") is False
            alert = visit.page.get_by_role("alert")
            assert alert.inner_text() == (
                "This page cannot hash: WebCrypto works only over HTTPS or on localhost."
            )
            assert visit.page.locator("#bundle-file").is_disabled()
            assert visit.foreign_requests() == []
        finally:
            visit.close()
    finally:
        chromium.close()


def test_without_javascript_the_page_reads_and_says_what_to_run(
    browser: Browser, console: Console
) -> None:
    checked = open_page(browser, console, "auditor", java_script_enabled=False)
    try:
        page = checked.page
        assert page.get_by_role("heading", name="Verify a bundle").is_visible()
        # Playwright's text search skips <noscript>; CSS finds it, shown as JS is off
        told = page.locator("noscript p")
        assert told.is_visible()
        assert told.inner_text().startswith("Verifying in the page needs JavaScript.")
        assert page.get_by_text("registry holds the batch with this root").is_visible()
        assert not page.locator("#bundle-file").is_visible()
    finally:
        checked.visit.close()


def test_the_pages_canonical_json_is_the_ledgers(browser: Browser, console: Console) -> None:
    """verify.js hashes what ledger.proofs.canonical_bytes writes, for the awkward cases
    RFC 8785 names: escapes, U+2028, non-BMP keys (sorted by UTF-16 code units), limits."""
    records: list[dict[str, object]] = [
        {"b": 1, "a": [True, False, None, -0, 2**53 - 1, -(2**53 - 1)], "": ""},
        {"\U0001f600": 1, "\uffff": 2, "é": 3, "z": {"y": "\u2028\u2029\u007f", "x": "\b\t\n\f\r"}},
        {"quote": '"\\/', "control": "\u0001\u001f", "cjk": "甲乙丙", "emoji": "\U0001f4b3"},
        json.loads(console.good)["record"],
    ]
    checked = open_page(browser, console, "auditor")
    try:
        written = checked.page.evaluate(
            "values => values.map(v => window.CreditAnchorJcs.canonical(v))", records
        )
        assert [text.encode() for text in written] == [canonical_bytes(r) for r in records]
        refused = checked.page.evaluate(
            """() => [{"n": 1.5}, {"n": 2 ** 53}].map(v => {
                try { window.CreditAnchorJcs.canonical(v, "$.record"); return null; }
                catch (e) { return e.path; }
            })"""
        )
        assert refused == ["$.record.n", "$.record.n"]
    finally:
        checked.visit.close()


def test_an_impossible_anchor_time_is_answered_not_crashed(console: Console) -> None:
    url = console.served.url
    bundle = json.loads(console.good)
    claim = {k: bundle[k] for k in ("batch_id", "root", "tree_size")} | bundle["anchor"]
    claim["block_timestamp"] = "2026-13-45T00:00:00Z"
    del claim["tx_hash"]
    with httpx.Client(base_url=url, timeout=60) as client:
        client.cookies.set("ledger_console_key", console.served.keys["auditor"], path="/ui")
        answer = client.post("/ui/api/anchor", json={"anchors": [claim]}, headers={"origin": url})
        assert answer.status_code == 200, answer.text
        [result] = answer.json()["results"]
        assert result["ok"] is False
        assert "is not a real date and time" in result["problem"]
