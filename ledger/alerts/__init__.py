"""Risk alerts for co-lending banks: derived at ingest, queued, delivered signed, acknowledged.

Events are derived in the ingest pipeline (:mod:`ledger.alerts.events`, each
bank's payload in :mod:`ledger.alerts.payloads`, the risk plan in
:mod:`ledger.alerts.plan` and :mod:`ledger.alerts.portfolio`) by the
:class:`~ledger.alerts.derive.Deriver` the submission calls per stored batch.

Producers add alerts with :func:`enqueue` inside the transaction of the batch that
caused them; :class:`Dispatcher` pushes them to each bank's webhook (Standard
Webhooks; ``ledger alerts dispatch``); banks without a webhook read them with
:func:`alerts_after` and answer with :func:`acknowledge`
(the operator and auditors read every bank's with :func:`every_alert_after`;
:mod:`ledger.alerts.views` adds delivery and acknowledgement states,
:mod:`ledger.alerts.summary` the monitoring figures). Endpoints and their
signing keys: :func:`set_endpoint`, :func:`rotate_keys` (``ledger partner webhook``).

The names load on first use (:mod:`ledger._lazy`): a producer that only enqueues
loads neither urllib3 nor the dispatcher.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger import _lazy

if TYPE_CHECKING:
    from ledger.alerts.deliveries import DeliveryStatus, delivery_status
    from ledger.alerts.destinations import Allowlist
    from ledger.alerts.dispatcher import DispatchConfig, Dispatcher, send_ping
    from ledger.alerts.endpoints import EndpointInfo, IssuedKeys, rotate_keys, set_endpoint
    from ledger.alerts.errors import EndpointRefusedError, UnknownAlertError
    from ledger.alerts.outbox import (
        AckInfo,
        NewAlert,
        StoredAlert,
        acknowledge,
        alerts_after,
        enqueue,
        every_alert_after,
        find_alert,
        get_alert,
    )
    from ledger.alerts.sealing import Sealer

_WHERE = {
    "AckInfo": "ledger.alerts.outbox",
    "NewAlert": "ledger.alerts.outbox",
    "StoredAlert": "ledger.alerts.outbox",
    "acknowledge": "ledger.alerts.outbox",
    "alerts_after": "ledger.alerts.outbox",
    "enqueue": "ledger.alerts.outbox",
    "every_alert_after": "ledger.alerts.outbox",
    "find_alert": "ledger.alerts.outbox",
    "get_alert": "ledger.alerts.outbox",
    "DeliveryStatus": "ledger.alerts.deliveries",
    "delivery_status": "ledger.alerts.deliveries",
    "Allowlist": "ledger.alerts.destinations",
    "DispatchConfig": "ledger.alerts.dispatcher",
    "Dispatcher": "ledger.alerts.dispatcher",
    "send_ping": "ledger.alerts.dispatcher",
    "EndpointInfo": "ledger.alerts.endpoints",
    "IssuedKeys": "ledger.alerts.endpoints",
    "rotate_keys": "ledger.alerts.endpoints",
    "set_endpoint": "ledger.alerts.endpoints",
    "EndpointRefusedError": "ledger.alerts.errors",
    "UnknownAlertError": "ledger.alerts.errors",
    "Sealer": "ledger.alerts.sealing",
}

__all__ = [
    "AckInfo",
    "Allowlist",
    "DeliveryStatus",
    "DispatchConfig",
    "Dispatcher",
    "EndpointInfo",
    "EndpointRefusedError",
    "IssuedKeys",
    "NewAlert",
    "Sealer",
    "StoredAlert",
    "UnknownAlertError",
    "acknowledge",
    "alerts_after",
    "delivery_status",
    "enqueue",
    "every_alert_after",
    "find_alert",
    "get_alert",
    "rotate_keys",
    "send_ping",
    "set_endpoint",
]

__getattr__ = _lazy.exports(__name__, _WHERE)
