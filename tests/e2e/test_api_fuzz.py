"""A bounded schema fuzz run against a real ``ledger serve`` process.

Schemathesis generates requests from the server's own OpenAPI document, for
every operation, with a key of every role and a bad one: no 5xx, and every
response conforms to the documented schema (statuses, content types, bodies).
Bounded and derandomised, so it takes seconds and a failure reproduces.
Hypothesis drives each operation's strategy directly (the schemathesis pytest
plugin's lazy loader does not support this pytest yet).
"""

from __future__ import annotations

from pathlib import Path

import hypothesis
import pytest
import schemathesis
from hypothesis import given
from schemathesis.specs.openapi.checks import positive_data_acceptance

from ledger.config import Settings
from ledger.store import Store
from ledger.store.apikeys import create_key
from tests.e2e.test_serve import served as served  # re-exported: the fixture

#: Examples per operation: enough to reach every documented status, small enough
#: that the run stays well under a minute on two shared cores.
EXAMPLES = 30
ROLES = ("operator", "partner", "auditor")
#: A schema cannot say "GB 11643 check digit" or "valid_until after valid_from": such
#: bodies are schema-valid and still rightly refused with 422 (with field paths). Every
#: other check runs, including that every 422 is a documented problem document.
SEMANTIC_422 = [positive_data_acceptance]


@pytest.fixture(scope="module")
def serve_env() -> dict[str, str]:
    """Alert streams end after 50 ms: each generated stream request is read to its end,
    as every other response is, and checked. A stream reads its first page of alerts at
    once and then sleeps out its time, so a longer one only waits longer (at 0.2 s the
    ~60 streams that get past authentication spent 12 s of this test idle)."""
    return {"LEDGER_API_ALERT_STREAM_SECONDS": "0.05"}


@pytest.fixture
def keys(served: tuple[str, Path, dict[str, object]]) -> dict[str, str]:
    _url, data_dir, _report = served
    store = Store.open(Settings(data_dir=data_dir).data_dir)
    made = {
        role: create_key(
            store, f"fuzz-{role}", role, institution="X" if role == "partner" else None
        )[1]
        for role in ROLES
    }
    store.close()
    return made | {"bad": "ca_" + "A" * 43}


def test_no_server_error_and_every_response_matches_the_schema(
    served: tuple[str, Path, dict[str, object]], keys: dict[str, str]
) -> None:
    url, _data_dir, _report = served
    schema = schemathesis.openapi.from_url(url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 7
    for operation in operations:

        @given(case=operation.as_strategy())
        @hypothesis.settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(hypothesis.HealthCheck),
            database=None,
        )
        def check(case: schemathesis.Case) -> None:
            for key in keys.values():
                case.call_and_validate(
                    base_url=url,
                    headers={"Authorization": f"Bearer {key}"},
                    excluded_checks=SEMANTIC_422,
                )

        check()
