"""A data dir with a store, partner banks and fast delivery settings for the alert tests;
the store on SQLite and on PostgreSQL (``db_url``), named by the settings as an operator would.

Retry delays are milliseconds here (``alert_retry_schedule``), set through the
same settings an operator uses; tests wait on the store's state, never on time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import strategies as st

from ledger.alerts import outbox
from ledger.alerts.deliveries import DeliveryStatus, delivery_status
from ledger.alerts.destinations import Allowlist
from ledger.alerts.dispatcher import DispatchConfig, Dispatcher
from ledger.alerts.endpoints import IssuedKeys, set_endpoint
from ledger.alerts.outbox import NewAlert, enqueue
from ledger.alerts.sealing import Sealer
from ledger.client import WebhookReceiver
from ledger.config import Settings
from ledger.store import Batch, Store
from ledger.store.apikeys import create_key
from tests.alerts._banks import Bank
from tests.conftest import WAIT_SECONDS

#: Fast enough for tests, long enough at the tail that a bank that is down has
#: seconds to come back before its deliveries run out of retries.
FAST_SCHEDULE = (0.01, 0.02, 0.05, 0.1, 1.0, 5.0, 10.0)
BATCH = "0x" + "ab" * 32
#: ``run(once=True)`` sends what is due until nothing is: with the next retry a minute
#: away, that is exactly one attempt per delivery, however slow the machine.
ONE_ATTEMPT = {"alert_retry_schedule": (60.0,)}


def fast_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "alert_retry_schedule": FAST_SCHEDULE,
        "alert_retry_jitter": 0.1,
        "alert_request_timeout": 5.0,
        "alert_claim_seconds": 6.0,
        "alert_poll_seconds": 0.02,
        "alert_allow_hosts": ("127.0.0.1",),
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class AlertEnv:
    settings: Settings
    store: Store
    sealer: Sealer
    issued: dict[str, IssuedKeys] = field(default_factory=dict)

    def add_partner(self, institution: str) -> None:
        create_key(self.store, f"key-{institution}", "partner", institution=institution)

    def add_bank(self, institution: str, bank: Bank, *, verify: bool = True) -> IssuedKeys:
        """A partner with a webhook at ``bank``, whose receiver trusts the issued keys."""
        self.add_partner(institution)
        allow = Allowlist.parse(self.settings.alert_allow_hosts)
        _, issued = set_endpoint(self.store, self.sealer, institution, bank.url, allow=allow)
        assert issued is not None
        self.issued[institution] = issued
        if verify:
            bank.receiver = WebhookReceiver(secret=issued.secret, public_key=issued.public_key)
        return issued

    def enqueue(self, *alerts: NewAlert) -> list[str]:
        with self.store.session() as s, s.begin():
            return enqueue(s, alerts)

    def status(self, alert_id: str) -> DeliveryStatus:
        with self.store.session() as s:
            found = delivery_status(s, alert_id)
        assert found is not None, alert_id
        return found

    def states(self, ids: list[str]) -> list[str]:
        return [self.status(i).state for i in ids]

    def configure(self, **overrides: Any) -> None:
        """Other settings from now on (the same data dir and store)."""
        self.settings = self.settings.model_copy(update=overrides)

    def dispatcher(self, **overrides: Any) -> Dispatcher:
        settings = self.settings.model_copy(update=overrides) if overrides else self.settings
        return Dispatcher(self.store, self.sealer, DispatchConfig.from_settings(settings))


def add_batch(store: Store, batch_id: str, status: str) -> None:
    """A submission batch row (``pending`` or ``anchored``): what an alert's release waits on."""
    with store.session() as s, s.begin():
        s.add(
            Batch(
                batch_id=batch_id, kind=1, tree_size=1, root="0x" + batch_id[2:][::-1],
                manifest="{}", manifest_hash="0x" + "ef" * 32, status=status,
                created_at="2026-12-07T00:00:00Z",
            )
        )  # fmt: skip


@pytest.fixture
def env(data_dir: Path, db_url: str) -> Iterator[AlertEnv]:
    settings = fast_settings(data_dir, db_url=db_url)
    store = Store.for_settings(settings)
    add_batch(store, BATCH, "anchored")  # the alerts' batch: anchored, so they may go out
    yield AlertEnv(settings, store, Sealer.for_data_dir(data_dir))
    store.close()


def alert(institution: str, n: int, event_type: str = "overdue.entered") -> NewAlert:
    return NewAlert(institution, event_type, {"n": n, "days_past_due": 31}, BATCH)


@contextmanager
def running(dispatcher: Dispatcher) -> Iterator[None]:
    """The dispatcher's loop in a thread until the block ends (then it finishes what is in
    flight and stops)."""
    stop = threading.Event()
    failure: list[BaseException] = []

    def loop() -> None:
        try:
            dispatcher.run(stop=stop)
        except BaseException as exc:  # surfaced below, in the test's thread
            failure.append(exc)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(WAIT_SECONDS)
        if failure:  # the cause, rather than a wait that timed out because of it
            raise failure[0]
    assert not thread.is_alive(), "the dispatcher did not stop"


def as_new_alerts(frame: pl.DataFrame) -> list[NewAlert]:
    """A frame of derived alerts (:func:`ledger.alerts.payloads.bank_alerts`) as NewAlerts."""
    return [
        NewAlert(row[outbox.INSTITUTION], row[outbox.TYPE], row[outbox.DATA], row[outbox.BATCH])
        for row in frame.iter_rows(named=True)
    ]


def funder_lists(banks: tuple[str, ...], max_size: int) -> st.SearchStrategy[list[dict[str, Any]]]:
    """A record's ``funders``: 1 to ``max_size`` distinct ``banks``, each with a share."""
    return st.lists(
        st.builds(
            lambda bank, bp: {"org_code": bank, "share_bp": bp},
            st.sampled_from(banks),
            st.integers(1, 10_000),
        ),
        min_size=1,
        max_size=max_size,
        unique_by=lambda f: f["org_code"],
    )
