"""Every endpoint against every kind of caller: 401 without a live key, 403 for a wrong role."""

from __future__ import annotations

from typing import Any

import pytest

from ledger import __version__
from tests.api.conftest import Api
from tests.conftest import wait_until

HASH = "0x" + "00" * 32
ENDPOINTS: dict[str, tuple[str, str, Any, set[str]]] = {
    "batches": ("GET", f"/v1/batches/{HASH}", None, {"operator", "partner", "auditor"}),
    "proofs": ("GET", f"/v1/proofs/{HASH}", None, {"partner", "auditor"}),
    "verify": ("POST", "/v1/verify", {"leaf_hashes": [HASH]}, {"partner", "auditor"}),
    "submissions": ("POST", "/v1/submissions", {"records": [{"x": 1}]}, {"operator"}),
    "consents": ("POST", "/v1/consents", {"x": 1}, {"operator"}),
    "consent": ("GET", f"/v1/consents/{HASH}", None, {"operator", "auditor"}),
    "revoke": ("POST", f"/v1/consents/{HASH}/revoke", None, {"operator"}),
    "check": ("POST", "/v1/consents/check", {"x": 1}, {"partner"}),
    "inquiries": ("GET", "/v1/inquiries", None, {"partner", "auditor"}),
    "erasures": ("POST", "/v1/erasures", {"x": 1}, {"operator"}),
}
CALLERS = ("nobody", "bad", "revoked", "operator", "partner", "auditor")


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
@pytest.mark.parametrize("caller", CALLERS)
def test_role_matrix(api: Api, endpoint: str, caller: str) -> None:
    method, path, body, allowed = ENDPOINTS[endpoint]
    answer = api.client.request(method, path, json=body, headers=api.headers(caller))
    if caller in ("nobody", "bad", "revoked"):
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"].startswith("Bearer")
        assert answer.json()["code"] == "unauthenticated"
    elif caller not in allowed:
        assert answer.status_code == 403
        assert answer.json()["code"] == "forbidden"
    else:
        assert answer.status_code not in (401, 403), answer.text
    if answer.status_code >= 400:
        assert answer.headers["content-type"] == "application/problem+json"


def test_wrong_scheme_is_401(api: Api) -> None:
    key = api.keys["auditor"]
    answer = api.client.get(f"/v1/batches/{HASH}", headers={"Authorization": f"Basic {key}"})
    assert answer.status_code == 401


def test_probes_need_no_key(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok", "version": __version__}

    def ready() -> dict[str, Any] | None:
        answer = api.client.get("/readyz")
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        # "busy": the inquiry sealer held the chain past PROBE_WAIT_SECONDS (a slow machine)
        assert body["chain"] in ("ok", "busy"), body
        return body if body["chain"] == "ok" else None

    assert wait_until(ready, interval=0.05)["block_number"] > 0
