"""``ledger submit``'s side of a data dir: the store here, the chain in a helper process.

Nothing imported here loads the chain stack (web3, eth-account, py-evm): the
helper loads it, while this process reads the file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ledger.alerts.derive import Deriver
from ledger.alerts.payloads import loan_refs
from ledger.alerts.plan import Plan
from ledger.anchoring.chain_process import ChainProcess
from ledger.anchoring.outbox import Outbox
from ledger.chain.deploy import Deployment
from ledger.chain.signer import address_of, load_key
from ledger.config import Settings
from ledger.ingest.pipeline import Stages
from ledger.ingest.submission import Submitter
from ledger.privacy import Desensitiser, Keyring, Policy
from ledger.store import Store


@dataclass
class Submitting:
    """What ``ledger submit`` needs: the store here, the chain in a helper process.

    The helper (:mod:`ledger.anchoring.chain_process`) opens the chain while the
    file is read, and sends the anchors, so the chain's Python work never holds
    this process's GIL. The sending account, which goes into every manifest,
    is worked out here from the same key, so batches are stored while the
    helper still opens the chain; the first anchor waits for it, and checks
    that it signs as that account. What it could not do comes back as the
    same typed error, and the batches stored meanwhile stay pending in the
    outbox for the next run.
    """

    settings: Settings
    store: Store
    chain: ChainProcess
    outbox: Outbox

    #: The account that anchors (it goes into every manifest), known before the helper is.
    sender: str

    @classmethod
    def open(cls, settings: Settings, *, holder: str) -> Submitting:
        deployment = Deployment.load(settings.deployment_file)
        # Read (or made, on first use) here, before the helper reads it too.
        sender = address_of(load_key(settings.data_dir))
        store = Store.for_settings(settings)
        try:
            chain = ChainProcess(settings, holder=holder, sender=sender)
        except BaseException:
            store.close()
            raise
        outbox = Outbox(store, chain, deployment.deployment_block, kinds=deployment.anchor_kinds)
        return cls(settings, store, chain, outbox, sender)

    def submitter(
        self,
        *,
        policy_file: Path | None = None,
        progress: Callable[[int], None] | None = None,
        workers: int = 1,
    ) -> Submitter:
        """A submitter whose chunks run in ``workers`` processes (1: in this one)."""
        return make_submitter(
            self.settings, self.store, self.outbox, self.sender,
            policy_file=policy_file, progress=progress, workers=workers,
        )  # fmt: skip

    def close(self) -> None:
        try:
            self.chain.close()
        finally:
            self.store.close()

    def __enter__(self) -> Submitting:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_submitter(
    settings: Settings,
    store: Store,
    outbox: Outbox,
    sender: str,
    *,
    policy_file: Path | None,
    progress: Callable[[int], None] | None,
    workers: int,
) -> Submitter:
    """A submitter whose chunks run in ``workers`` processes (1: in this one);
    ``sender`` is the account that anchors (it goes into every manifest)."""
    policy = Policy.load(policy_file)
    names = set(policy.key_names) | ({ACCOUNT_KEY} if settings.alerts else set())
    keyring = Keyring.load_or_create(settings.data_dir, tuple(sorted(names)))
    alerts = None
    if settings.alerts:  # the plan is read (and refused) before any row is
        plan = Plan.load(settings.alerts_plan)
        refs = loan_refs(keyring.key(ACCOUNT_KEY).secret)
        deployment = Deployment.load(settings.deployment_file)
        registry = {"chain_id": deployment.chain_id, "registry": deployment.anchor_registry}
        alerts = Deriver(plan, refs, registry=registry)
    return Submitter(
        store,
        outbox,
        Stages(policy, Desensitiser(policy, keyring), facts=settings.alerts),
        submitter=sender,
        batch_size=settings.batch_size,
        progress=progress,
        workers=workers,
        alerts=alerts,
        confirm_wait=settings.confirm_wait,
    )


#: The keyring entry bank-scoped loan references are derived from (the account pseudonyms').
ACCOUNT_KEY = "account"
