"""The whole audit: replay the chain, then cross-check the store and the exported records."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ledger.audit.alert_checks import AlertChecks, check_alerts
from ledger.audit.consent_checks import ConsentView, check_consents, check_inquiries
from ledger.audit.defaults import DEFAULT_RANGE
from ledger.audit.findings import AuditReport
from ledger.audit.rebuild import Rebuilder
from ledger.audit.records import check_records
from ledger.audit.replay import ChainState, Progress, Replayer
from ledger.audit.store_checks import check_batches, rebuild_claim
from ledger.chain.connection import Chain
from ledger.chain.deploy import Deployment
from ledger.chain.errors import DeploymentError
from ledger.chain.registry import AnchorRegistryClient, ConsentRegistryClient
from ledger.store import Store

#: The alert checks by default: the packaged plan's window, alerts expected, the clock.
ALERT_CHECKS = AlertChecks()


@dataclass(frozen=True, kw_only=True)
class AuditTarget:
    """Which registries to replay, and from which block."""

    anchor_registry: str
    consent_registry: str
    from_block: int
    #: The registry of kind 4 beside an AnchorRegistry that predates it (None: none).
    alert_log_registry: str | None = None

    @classmethod
    def of(cls, deployment: Deployment) -> AuditTarget:
        alert_log = deployment.alert_log_registry
        return cls(
            anchor_registry=deployment.anchor_registry,
            consent_registry=deployment.consent_registry,
            from_block=deployment.deployment_block,
            alert_log_registry=None if alert_log == deployment.anchor_registry else alert_log,
        )


def audit(
    chain: Chain,
    target: AuditTarget,
    *,
    store: Store | None = None,
    records: Path | None = None,
    checkpoint: Path | None = None,
    step: int = DEFAULT_RANGE,
    progress: Progress | None = None,
    rebuild: Store | None = None,
    alerts: AlertChecks | None = ALERT_CHECKS,
) -> tuple[AuditReport, ChainState]:
    """Audit the registries of ``target`` (and the store and records, when given).

    With ``checkpoint``, the replay saves its state there after every range and a
    later call resumes from it. With ``rebuild`` (an empty store), the chain state
    and the records that pass every check are written there. With a store, the
    risk alerts are checked as ``alerts`` says (None: not at all). Raises a
    :class:`~ledger.errors.LedgerError` when the audit cannot be done (no contract,
    node unreachable after retries).
    """
    registries = (target.anchor_registry, target.consent_registry, target.alert_log_registry)
    for address in filter(None, registries):
        if not chain.code_at(address):
            raise DeploymentError(f"no contract code at {address} on chain {chain.chain_id}")
    anchors = AnchorRegistryClient(chain, target.anchor_registry)
    consents = ConsentRegistryClient(chain, target.consent_registry)
    alert_log = (
        None
        if target.alert_log_registry is None
        else AnchorRegistryClient(chain, target.alert_log_registry)
    )
    replayer = Replayer(chain, anchors, consents, step=step, alert_log=alert_log)
    state = _start(replayer, target, checkpoint)
    replayer.replay(state, progress=progress, checkpoint=checkpoint)
    report = AuditReport()
    report.chain = {
        "chain_id": chain.chain_id,
        "anchor_registry": anchors.address,
        "consent_registry": consents.address,
        "from_block": target.from_block,
    }
    replayer.check_heads(state, report)
    if store is not None:
        facts = check_batches(store, state, anchors, report, progress, alert_log=alert_log)
        rebuilt = rebuild_claim(store, state, report)
        view = ConsentView(state, consents, report)
        consents_seen = check_consents(store, view, report, progress)
        check_inquiries(store, view, consents_seen, facts, report)
        if alerts is not None:
            check_alerts(store, state, report, alerts, rebuilt=rebuilt)
    rebuilder = None if rebuild is None else Rebuilder(rebuild, state)
    if rebuilder is not None:
        rebuilder.write_chain(store)
    if records is not None:
        sink = None if rebuilder is None else rebuilder.add
        check_records(records, state, store, report, progress, sink)
    if rebuilder is not None:
        report.checked["rebuilt_alert_log_rows"] = rebuilder.finish()
        report.checked["rebuilt_leaves"] = rebuilder.leaf_count
    return report, state


def _start(replayer: Replayer, target: AuditTarget, checkpoint: Path | None) -> ChainState:
    if checkpoint is None or not checkpoint.exists():
        return replayer.fresh(target.from_block)
    state = ChainState.load(checkpoint)
    alert_log = target.alert_log_registry
    if (
        state.anchor_registry,
        state.consent_registry,
        state.alert_log_registry,
        state.from_block,
    ) != (
        target.anchor_registry.lower(),
        target.consent_registry.lower(),
        None if alert_log is None else alert_log.lower(),
        target.from_block,
    ) or state.chain_id != replayer.chain.chain_id:
        from ledger.errors import InputError

        raise InputError("the checkpoint is of another chain, registry or start block")
    return state
