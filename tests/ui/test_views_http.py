"""The role views over HTTP (the module's deployed app): each role's page renders and
no other role's does, the proof page keeps the API's rule, the replay button is the
auditor's and same-origin only, and no page shows a personal value."""

from __future__ import annotations

from html import unescape

import pytest
from fastapi.testclient import TestClient

from ledger.store import Store
from tests._canaries import leaks_in
from tests._leaves import all_leaves
from tests.api.conftest import Api
from tests.api.conftest import api as api  # the module's deployed app, with a key per role
from tests.ui.test_session import ORIGIN, sign_in


@pytest.fixture
def client(api: Api) -> TestClient:
    api.client.cookies.clear()
    return api.client


@pytest.mark.parametrize(
    ("who", "page"), [("partner", "bank"), ("auditor", "auditor"), ("operator", "operator")]
)
def test_each_view_renders_its_tables(api: Api, client: TestClient, who: str, page: str) -> None:
    sign_in(client, api.keys[who])
    answer = client.get(f"/ui/{page}", params={"after": "99999999999999999999"})
    assert answer.status_code == 200, answer.text
    assert answer.text.count("<caption") >= 2 and 'scope="col"' in answer.text
    assert leaks_in(answer.content, page) == []


def test_the_proof_page_is_the_apis_bundle(api: Api, client: TestClient) -> None:
    store = Store.for_settings(api.settings)
    try:
        with store.session() as s:
            found = all_leaves(s)[0].leaf_hash
    finally:
        store.close()
    leaf = found if isinstance(found, str) else "0x" + found.hex()
    for who in ("partner", "other_partner", "auditor"):
        client.cookies.clear()
        sign_in(client, api.keys[who])
        page = client.get(f"/ui/proof/{leaf}")
        bundle = client.get(f"/v1/proofs/{leaf}", headers=api.headers(who)).json()
        assert page.status_code == 200
        assert ('"record":' in unescape(page.text)) == ("record" in bundle), who
        assert leaks_in(page.content, f"proof for {who}") == []
    client.cookies.clear()
    sign_in(client, api.keys["operator"])
    assert client.get(f"/ui/proof/{leaf}").status_code == 403
    client.cookies.clear()
    sign_in(client, api.keys["auditor"])
    for unknown in ("0x" + "ab" * 32, "not-a-hash"):
        assert client.get(f"/ui/proof/{unknown}").status_code == 404


def test_the_replay_is_the_auditors_and_same_origin_only(api: Api, client: TestClient) -> None:
    sign_in(client, api.keys["partner"])
    assert client.post("/ui/auditor/replay", headers={"Origin": ORIGIN}).status_code == 403
    client.cookies.clear()
    sign_in(client, api.keys["auditor"])
    other = client.post("/ui/auditor/replay", headers={"Origin": "https://evil.example"})
    assert other.status_code == 403
    done = client.post("/ui/auditor/replay", headers={"Origin": ORIGIN})
    assert done.status_code == 200 and 'id="report-verdict"' in done.text
