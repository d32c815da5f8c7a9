"""A data dir's :class:`Ledger`: its store, chain, registries, outbox and consents, opened together.

The wiring sits above :mod:`ledger.anchoring`, :mod:`ledger.consent` and
:mod:`ledger.alerts`: it hands each what it needs, so none imports another to
be opened. The inquiry log and the alert log are sealed and anchored here.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.alerts.alertlog import AlertLog
from ledger.anchoring.logseal import seal_when_due
from ledger.anchoring.outbox import Outbox, RegistrySide
from ledger.chain import Chain, Deployment, check_deployment, open_chain
from ledger.chain.registry import AnchorRegistryClient, ConsentRegistryClient
from ledger.chain.types import BatchKind
from ledger.config import Settings
from ledger.consent.inquiries import InquiryLog
from ledger.consent.service import ConsentService
from ledger.ingest.session import make_submitter
from ledger.ingest.submission import Submitter
from ledger.privacy import default_desensitiser
from ledger.store import Store


@dataclass
class Ledger:
    """Everything a submission needs; close it to release the chain and the store."""

    settings: Settings
    chain: Chain
    store: Store
    deployment: Deployment
    registry: AnchorRegistryClient
    outbox: Outbox
    #: Anchors the alert log (kind 4): :attr:`outbox` itself, unless the deployment's
    #: AnchorRegistry predates kind 4 and the alert log has a registry of its own.
    alert_outbox: Outbox

    @classmethod
    def open(cls, settings: Settings, *, holder: str | None = None) -> Ledger:
        deployment = Deployment.load(settings.deployment_file)
        chain = open_chain(settings, holder=holder)
        try:
            check_deployment(chain, deployment)
            store = Store.for_settings(settings)
        except BaseException:
            chain.close()
            raise
        return cls.on_chain(settings, chain, store, deployment)

    @classmethod
    def on_chain(
        cls, settings: Settings, chain: Chain, store: Store, deployment: Deployment
    ) -> Ledger:
        """The ledger over an open, checked chain and an open store."""
        registry = AnchorRegistryClient.from_deployment(chain, deployment)
        block = deployment.deployment_block
        outbox = Outbox(store, RegistrySide(registry), block, kinds=deployment.anchor_kinds)
        alert_outbox = outbox
        if deployment.alert_log_registry != deployment.anchor_registry:
            alerts = AnchorRegistryClient(chain, deployment.alert_log_registry)
            kind = frozenset({int(BatchKind.ALERT_LOG)})
            alert_outbox = Outbox(store, RegistrySide(alerts), block, kinds=kind)
        return cls(settings, chain, store, deployment, registry, outbox, alert_outbox)

    def submitter(
        self,
        *,
        policy_file: Path | None = None,
        progress: Callable[[int], None] | None = None,
        workers: int = 1,
        confirm_wait: float | None = None,
    ) -> Submitter:
        """A submitter whose chunks run in ``workers`` processes (1: in this one);
        ``confirm_wait``: seconds it awaits confirmations (None: as the settings say)."""
        settings = self.settings
        if confirm_wait is not None:
            settings = settings.model_copy(update={"confirm_wait": confirm_wait})
        return make_submitter(
            settings, self.store, self.outbox, self.chain.address.lower(),
            policy_file=policy_file, progress=progress, workers=workers,
        )  # fmt: skip

    def consents(self, *, lock: AbstractContextManager[Any] | None = None) -> ConsentService:
        """Consents and checks, with the default policy's subject pseudonym key.

        ``lock`` guards the chain calls of checks made from several threads.
        """
        desensitiser = default_desensitiser(self.settings.data_dir)
        registry = ConsentRegistryClient.from_deployment(self.chain, self.deployment)
        log = InquiryLog(
            self.store,
            submitter=self.chain.address.lower(),
            key_ids={"subject": desensitiser.key_ids.get("subject", "")},
        )
        return ConsentService(
            self.store,
            registry,
            desensitiser,
            log,
            from_block=self.deployment.deployment_block,
            lock=lock,
        )

    def resume(self) -> None:
        """Finish what a crash interrupted: pending consents, withdrawals and anchors."""
        self.consents().flush()
        self.send_pending()

    def send_pending(self) -> int:
        """Anchor every pending batch (of any process sharing the store), oldest first;
        how many."""
        return sum(1 for outbox in self._outboxes() for _ in outbox.drain())

    def anchor_next(self) -> bool:
        """Anchor the oldest pending batch of one outbox, if there is one; whether there was."""
        for outbox in self._outboxes():
            if pending := outbox.pending():
                outbox.anchor(pending[0])
                return True
        return False

    def _outboxes(self) -> list[Outbox]:
        return list(dict.fromkeys((self.outbox, self.alert_outbox)))

    def anchor_inquiries(self, *, force: bool = False) -> list[str]:
        """Seal the inquiry log when due (or ``force``) and anchor every pending batch.

        Due: ``inquiry_seal_size`` inquiries wait, or the oldest waited
        ``inquiry_seal_seconds`` (settings).
        """
        sealed = seal_when_due(
            self.consents().inquiries,
            force=force,
            size=self.settings.inquiry_seal_size,
            seconds=self.settings.inquiry_seal_seconds,
        )
        for _ in self.outbox.drain():
            pass
        return sealed

    def anchor_alerts(self, *, force: bool = False) -> list[str]:
        """Seal the alert log when due (or ``force``) and anchor every pending batch.

        Due: ``alert_seal_size`` entries wait, or the oldest waited
        ``alert_seal_seconds`` (settings).
        """
        sealed = seal_when_due(
            AlertLog(self.store, submitter=self.chain.address.lower()),
            force=force,
            size=self.settings.alert_seal_size,
            seconds=self.settings.alert_seal_seconds,
        )
        for _ in self.alert_outbox.drain():
            pass
        return sealed

    def close(self) -> None:
        self.store.close()
        self.chain.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
