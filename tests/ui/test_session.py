"""Console sessions over HTTP: the key kept in a strict cookie, roles, logout, revocation,
cross-site posts and the headers every console response carries."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.ui.headers import CSP
from api.ui.session import COOKIE, LOGIN_MAX_BYTES
from ledger.store import Store
from ledger.store.apikeys import create_key, revoke_key
from tests.api.conftest import Api
from tests.api.conftest import api as api  # the module's deployed app, with a key per role
from tests.conftest import wait_until

ORIGIN = "http://testserver"


def sign_in(client: TestClient, key: str) -> TestClient:
    answer = client.post(
        "/ui/login", data={"key": key}, headers={"Origin": ORIGIN}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    return client


@pytest.fixture
def client(api: Api) -> TestClient:
    api.client.cookies.clear()
    return api.client


def test_signing_in_keeps_the_key_in_a_strict_http_only_cookie(
    api: Api, client: TestClient
) -> None:
    answer = client.post(
        "/ui/login",
        data={"key": api.keys["partner"]},
        headers={"Origin": ORIGIN},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/bank"
    cookie = answer.headers["set-cookie"].lower()
    for attribute in ("httponly", "samesite=strict", "path=/ui", "max-age="):
        assert attribute in cookie
    page = client.get("/ui/bank")
    assert page.status_code == 200 and "bank-a" in page.text


@pytest.mark.parametrize(("who", "home"), [("auditor", "auditor"), ("operator", "operator")])
def test_each_role_lands_on_its_own_page(api: Api, client: TestClient, who: str, home: str) -> None:
    sign_in(client, api.keys[who])
    assert client.get("/ui/", follow_redirects=False).headers["location"] == f"/ui/{home}"
    assert client.get(f"/ui/{home}").status_code == 200
    other = "bank"
    assert client.get(f"/ui/{other}").status_code == 403


@pytest.mark.parametrize("who", ["bad", "revoked"])
def test_an_unknown_or_revoked_key_does_not_sign_in(api: Api, client: TestClient, who: str) -> None:
    answer = client.post("/ui/login", data={"key": api.keys[who]}, headers={"Origin": ORIGIN})
    assert answer.status_code == 401
    assert COOKIE not in answer.cookies
    assert api.keys[who] not in answer.text


def test_pages_without_a_session_lead_to_sign_in(client: TestClient) -> None:
    for page in ("/ui/", "/ui/bank", "/ui/auditor", "/ui/operator", "/ui/verify"):
        answer = client.get(page, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/ui/login"


def test_signing_out_clears_the_cookie(api: Api, client: TestClient) -> None:
    sign_in(client, api.keys["auditor"])
    answer = client.post("/ui/logout", headers={"Origin": ORIGIN}, follow_redirects=False)
    assert answer.status_code == 303
    assert f'{COOKIE}=""' in answer.headers["set-cookie"] or "max-age=0" in (
        answer.headers["set-cookie"].lower()
    )
    client.cookies.clear()  # as a browser drops an expired cookie
    assert client.get("/ui/auditor", follow_redirects=False).status_code == 303


def test_a_revoked_keys_cookie_stops_working(api: Api, client: TestClient) -> None:
    store = Store.for_settings(api.settings)
    try:
        _, key = create_key(store, "short-lived", "auditor")
        sign_in(client, key)
        assert client.get("/ui/auditor").status_code == 200
        revoke_key(store, "short-lived")
    finally:
        store.close()
    # Within the key-cache time (a second by default), the cookie leads to sign in again.
    wait_until(lambda: client.get("/ui/auditor", follow_redirects=False).status_code == 303)
    # Signing out still works, and clears the dead cookie.
    answer = client.post("/ui/logout", headers={"Origin": ORIGIN}, follow_redirects=False)
    assert answer.status_code == 303 and COOKIE in answer.headers["set-cookie"]


def test_a_post_from_another_site_is_refused(api: Api, client: TestClient) -> None:
    answer = client.post(
        "/ui/login", data={"key": api.keys["auditor"]}, headers={"Origin": "https://evil.example"}
    )
    assert answer.status_code == 403 and COOKIE not in answer.cookies


def test_the_login_body_is_small_and_other_posts_need_a_session(client: TestClient) -> None:
    big = "k" * (LOGIN_MAX_BYTES + 1)
    answer = client.post("/ui/login", content=f"key={big}", headers={"Origin": ORIGIN})
    assert answer.status_code == 413
    assert client.post("/ui/auditor/replay", headers={"Origin": ORIGIN}).status_code == 401
    assert client.post("/ui/logout", content="x" * (LOGIN_MAX_BYTES + 1)).status_code == 413


def test_every_console_response_carries_the_security_headers(api: Api, client: TestClient) -> None:
    answers = [
        client.get("/ui/login"),
        client.get("/ui/static/console.css"),
        client.get("/ui/static/missing.js"),
        client.post("/ui/auditor/replay"),
    ]
    sign_in(client, api.keys["partner"])
    answers.append(client.get("/ui/bank"))
    for answer in answers:
        assert answer.headers["content-security-policy"] == CSP
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
    assert "'unsafe-inline'" not in CSP and "default-src 'self'" in CSP
    assert "content-security-policy" not in client.get("/healthz").headers  # the API's own


def test_labels_follow_the_lang_switch(client: TestClient) -> None:
    assert "登录" in client.get("/ui/login?lang=zh").text
    assert "登录" in client.get("/ui/login").text  # kept in a cookie
    assert "Sign in" in client.get("/ui/login?lang=en").text
