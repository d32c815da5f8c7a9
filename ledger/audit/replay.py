"""Replaying the registries' events from the deployment block: the chain's own state.

Events are read in bounded block ranges; a failing range is retried and, when
the node refuses its size, halved. ``BatchAnchored`` events are folded into the
log head exactly as the contract does (``keccak256(abi.encode(logHead, batchId,
root, treeSize, kind, manifestHash))``); at the end, the recomputed head and
count are compared with ``logHead()`` and ``anchorCount()`` at the last block
replayed, so a node that hides a single event is caught.

:class:`ChainState` is plain data and round-trips through JSON: it is the
checkpoint a long replay resumes from.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar, cast

from eth_typing import ABIEvent
from eth_utils.abi import event_abi_to_log_topic
from eth_utils.crypto import keccak

from ledger.audit.defaults import DEFAULT_RANGE
from ledger.audit.findings import AuditReport
from ledger.chain.artifacts import load_artifact
from ledger.chain.bulk_reads import block_times, raw_logs
from ledger.chain.connection import Chain
from ledger.chain.errors import ChainError, ChainUnavailableError
from ledger.chain.registry import AnchorRegistryClient, ConsentRegistryClient
from ledger.chain.types import BatchKind
from ledger.errors import InputError, UnavailableError

log = logging.getLogger(__name__)

#: Attempts per range before the audit gives up (exit 2), with doubling pauses.
RETRIES: Final = 4
RETRY_PAUSE: Final = 0.2
CHECKPOINT_FORMAT: Final = "credit-anchor/audit-checkpoint/v1"

T = TypeVar("T")
Progress = Callable[[str, int, int], None]


def hx(value: bytes) -> str:
    return "0x" + value.hex()


def _topic(contract: str, name: str) -> bytes:
    (abi,) = [e for e in load_artifact(contract).abi if e.get("name") == name]
    return bytes(event_abi_to_log_topic(cast(ABIEvent, abi)))


#: topic0 of the three events the audit replays (from the committed ABIs).
ANCHORED: Final = _topic("AnchorRegistry", "BatchAnchored")
RECORDED: Final = _topic("ConsentRegistry", "ConsentRecorded")
REVOKED: Final = _topic("ConsentRegistry", "ConsentRevoked")


def _bytes(value: Any) -> bytes:
    """A log field as bytes: nodes send hex text, the embedded chain may send bytes."""
    return bytes.fromhex(value[2:]) if isinstance(value, str) else bytes(value)


def _int(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


def _word(data: bytes, index: int) -> int:
    """The ``index``-th 32-byte word of ABI-encoded event data, as an unsigned integer."""
    return int.from_bytes(data[32 * index : 32 * (index + 1)], "big")


def next_head(head: bytes, batch_id: bytes, root: bytes, size: int, kind: int, mh: bytes) -> bytes:
    """The contract's log head step: keccak256(abi.encode(...)), every word 32 bytes."""
    words = head + batch_id + root + size.to_bytes(32, "big") + kind.to_bytes(32, "big") + mh
    return keccak(words)


@dataclass
class ChainAnchor:
    batch_id: str
    root: str
    tree_size: int
    kind: int
    manifest_hash: str
    seq: int
    log_head: str
    tx_hash: str
    block_number: int
    #: Its block's time (seconds; the event carries none): read from the block's header
    #: once per block after each range (0 until then, as in an older checkpoint).
    block_timestamp: int = 0


@dataclass
class ChainConsent:
    consent_id: str
    commitment: str
    valid_from: int
    valid_until: int
    revoked_at: int = 0
    block_number: int = 0

    def valid_at(self, t: int) -> bool:
        """The contract's ``isValidAt``."""
        return (
            self.valid_from <= t
            and (self.valid_until == 0 or t < self.valid_until)
            and (self.revoked_at == 0 or t < self.revoked_at)
        )


@dataclass
class ChainState:
    """Everything the registries' events say, as far as ``next_block - 1``."""

    chain_id: int
    anchor_registry: str
    consent_registry: str
    from_block: int
    next_block: int
    log_head: str = hx(bytes(32))
    count: int = 0
    anchors: dict[str, ChainAnchor] = field(default_factory=dict)
    consents: dict[str, ChainConsent] = field(default_factory=dict)
    #: Revocations whose ConsentRecorded was never seen (a hidden event), by id.
    orphan_revocations: dict[str, int] = field(default_factory=dict)
    #: (expected seq, found seq) of every hole in the anchor sequence.
    seq_gaps: list[tuple[int, int]] = field(default_factory=list)
    #: The registry of kind 4 beside an AnchorRegistry that predates it (None: none), and
    #: its own log head, count and holes; its anchors are in :attr:`anchors` too.
    alert_log_registry: str | None = None
    alert_log_head: str = hx(bytes(32))
    alert_log_count: int = 0
    alert_log_gaps: list[tuple[int, int]] = field(default_factory=list)

    def registry_of(self, anchor: ChainAnchor) -> str:
        """The registry that anchored ``anchor``: kind 4 has its own beside an older one."""
        if self.alert_log_registry and anchor.kind == BatchKind.ALERT_LOG:
            return self.alert_log_registry
        return self.anchor_registry

    def to_json(self) -> dict[str, Any]:
        return {"format": CHECKPOINT_FORMAT, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChainState:
        if data.get("format") != CHECKPOINT_FORMAT:
            raise InputError("not an audit checkpoint")
        body = {k: v for k, v in data.items() if k != "format"}
        body["anchors"] = {k: ChainAnchor(**v) for k, v in body["anchors"].items()}
        body["consents"] = {k: ChainConsent(**v) for k, v in body["consents"].items()}
        body["seq_gaps"] = [tuple(g) for g in body["seq_gaps"]]
        body["alert_log_gaps"] = [tuple(g) for g in body.get("alert_log_gaps", [])]
        return cls(**body)

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_json()), encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> ChainState:
        try:
            return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(f"cannot resume from checkpoint {path.name}: {exc}") from None


class Replayer:
    """Reads both registries' events into a :class:`ChainState`."""

    def __init__(
        self,
        chain: Chain,
        anchors: AnchorRegistryClient,
        consents: ConsentRegistryClient,
        *,
        step: int = DEFAULT_RANGE,
        retries: int = RETRIES,
        alert_log: AnchorRegistryClient | None = None,
    ) -> None:
        self.chain = chain
        self.anchors = anchors
        self.consents = consents
        #: The registry of kind 4, when it is not ``anchors`` (a deployment that predates it).
        self.alert_log = alert_log
        self.step = max(1, step)
        self.retries = retries

    def fresh(self, from_block: int) -> ChainState:
        return ChainState(
            chain_id=self.chain.chain_id,
            anchor_registry=self.anchors.address,
            consent_registry=self.consents.address,
            from_block=from_block,
            next_block=from_block,
            alert_log_registry=None if self.alert_log is None else self.alert_log.address,
        )

    def replay(
        self,
        state: ChainState,
        *,
        to_block: int | None = None,
        progress: Progress | None = None,
        checkpoint: Path | None = None,
    ) -> ChainState:
        """Replay ``[state.next_block, to_block]`` (default: the latest block) into ``state``."""
        last = self._retry(self.chain.block_number) if to_block is None else to_block
        start = state.next_block
        while state.next_block <= last:
            end = min(state.next_block + self.step - 1, last)
            self._range(state, state.next_block, end)
            state.next_block = end + 1
            if checkpoint is not None:
                state.save(checkpoint)
            if progress is not None:
                progress("replay", state.next_block - start, last + 1 - start)
        self._stamp(state, list(state.anchors.values()))  # those of an older checkpoint
        return state

    def _range(self, state: ChainState, start: int, end: int) -> None:
        """Fold every registry log of ``[start, end]`` into ``state``, in chain order."""
        alert_log = None if self.alert_log is None else self.alert_log.address
        addresses = (self.anchors.address, self.consents.address, *filter(None, [alert_log]))
        anchored: list[ChainAnchor] = []
        for entry in self._logs(addresses, start, end):
            topics = [_bytes(t) for t in entry["topics"]]
            data, emitter = _bytes(entry["data"]), str(entry["address"]).lower()
            if not topics:
                continue
            if topics[0] == ANCHORED and emitter == self.anchors.address:
                anchored.append(self._anchor(state, topics, data, entry))
            elif topics[0] == ANCHORED and emitter == alert_log:
                anchored.append(self._anchor(state, topics, data, entry, alert_log=True))
            elif topics[0] == RECORDED and emitter == self.consents.address:
                cid = hx(topics[1])
                state.consents[cid] = ChainConsent(
                    cid,
                    hx(topics[2]),
                    _word(data, 0),
                    _word(data, 1),
                    0,
                    _int(entry["blockNumber"]),
                )
            elif topics[0] == REVOKED and emitter == self.consents.address:
                cid = hx(topics[1])
                if cid in state.consents:
                    state.consents[cid].revoked_at = _word(data, 0)
                else:
                    state.orphan_revocations[cid] = _word(data, 0)
        self._stamp(state, anchored)

    def _stamp(self, state: ChainState, anchors: list[ChainAnchor]) -> None:
        """Give ``anchors`` that have none their block's time: one header per block."""
        blocks = sorted({a.block_number for a in anchors if not a.block_timestamp})
        if not blocks:
            return
        times = self._retry(lambda: block_times(self.chain, blocks))
        for anchor in anchors:
            anchor.block_timestamp = anchor.block_timestamp or times[anchor.block_number]

    def _anchor(
        self,
        state: ChainState,
        topics: list[bytes],
        data: bytes,
        entry: Any,
        *,
        alert_log: bool = False,
    ) -> ChainAnchor:
        batch_id, root = topics[1], topics[2]
        size, kind, mh = _word(data, 0), _word(data, 1), data[64:96]
        seq, claimed = _word(data, 3), data[128:160]
        count, head = (
            (state.alert_log_count, state.alert_log_head)
            if alert_log
            else (state.count, state.log_head)
        )
        if seq != count:
            (state.alert_log_gaps if alert_log else state.seq_gaps).append((count, seq))
        folded = next_head(bytes.fromhex(head[2:]), batch_id, root, size, kind, mh)
        # After a hole the head cannot be recomputed: go on from the event's own head (the
        # hole is already a finding). Otherwise keep our own: a rewritten event shows at the end.
        head = hx(claimed if seq != count else folded)
        if alert_log:
            state.alert_log_head, state.alert_log_count = head, seq + 1
        else:
            state.log_head, state.count = head, seq + 1
        anchor = state.anchors[hx(batch_id)] = ChainAnchor(
            hx(batch_id),
            hx(root),
            size,
            kind,
            hx(mh),
            seq,
            hx(claimed),
            hx(_bytes(entry["transactionHash"])),
            _int(entry["blockNumber"]),
        )
        return anchor

    def _logs(self, addresses: tuple[str, ...], start: int, end: int) -> list[Any]:
        """The registries' logs in ``[start, end]``; halves the range when the node refuses it."""
        try:
            return self._retry(lambda: raw_logs(self.chain, addresses, start, end))
        except ChainUnavailableError:
            raise  # retried enough: halving would only multiply the waiting
        except ChainError:  # e.g. "query exceeds max block range" / "too many results"
            if start == end:
                raise
            mid = (start + end) // 2
            return self._logs(addresses, start, mid) + self._logs(addresses, mid + 1, end)

    def _retry(self, op: Callable[[], T]) -> T:
        pause = RETRY_PAUSE
        for attempt in range(self.retries):
            try:
                return op()
            except (ChainUnavailableError, UnavailableError):
                if attempt == self.retries - 1:
                    raise
                log.warning("chain read failed, retrying in %.1fs", pause)
                time.sleep(pause)
                pause *= 2
        raise AssertionError("not reached")

    def check_heads(self, state: ChainState, report: AuditReport) -> None:
        """Compare the replayed head and count with the contract's, at the last block read."""
        block = state.next_block - 1
        head, count = self._head(self.anchors, block)
        report.chain |= {"log_head": head, "anchor_count": count, "to_block": block}
        self._compare_head(report, head, state.log_head, state.seq_gaps)
        anchored, replayed = count, state.count
        if self.alert_log is not None:
            alert_head, alert_count = self._head(self.alert_log, block)
            report.chain |= {
                "alert_log_registry": self.alert_log.address,
                "alert_log_head": alert_head,
                "alert_log_count": alert_count,
            }
            self._compare_head(report, alert_head, state.alert_log_head, state.alert_log_gaps)
            anchored, replayed = anchored + alert_count, replayed + state.alert_log_count
        if anchored != replayed or anchored != len(state.anchors):  # or one id in both logs
            report.add("CHAIN_ANCHOR_COUNT_MISMATCH", expected=anchored, found=len(state.anchors))
        for cid in state.orphan_revocations:
            report.add("CHAIN_EVENT_HIDDEN", consent_id=cid, expected="ConsentRecorded", found=None)
        _duplicate_manifests(state, report)
        report.checked["anchors"] = len(state.anchors)
        report.checked["chain_consents"] = len(state.consents)

    def _head(self, registry: AnchorRegistryClient, block: int) -> tuple[str, int]:
        fns = registry.contract.functions
        head = hx(bytes(self._retry(lambda: self.chain.call(fns.logHead(), block))))
        return head, int(self._retry(lambda: self.chain.call(fns.anchorCount(), block)))

    @staticmethod
    def _compare_head(
        report: AuditReport, on_chain: str, replayed: str, gaps: list[tuple[int, int]]
    ) -> None:
        """One registry's log head against the replay of its events, and the replay's holes."""
        for expected, found in gaps:
            report.add("CHAIN_EVENTS_MISSING", expected=expected, found=found)
        if on_chain != replayed:
            report.add("CHAIN_LOG_HEAD_MISMATCH", expected=on_chain, found=replayed)


def _duplicate_manifests(state: ChainState, report: AuditReport) -> None:
    """A manifest names its batch id, so one manifest hash under two batch ids is a replay.

    (The contract itself refuses a root anchored twice.)
    """
    first: dict[str, str] = {}
    for anchor in sorted(state.anchors.values(), key=lambda a: a.seq):
        earlier = first.setdefault(anchor.manifest_hash, anchor.batch_id)
        if earlier != anchor.batch_id:
            report.add(
                "CHAIN_MANIFEST_DUPLICATE",
                batch_id=anchor.batch_id,
                expected=earlier,
                found=anchor.manifest_hash,
            )
