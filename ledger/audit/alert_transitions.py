"""Every per-loan alert recomputed from the anchored records, and the log held to it.

The credit-data batches the chain anchors (kind 1) are replayed in anchor order
(the chain's ``seq``: the order the submissions stored, derived and anchored
them), records in leaf order. Each batch's stored records go through the same
functions ingest used (:mod:`ledger.alerts.events`: :func:`risk_facts` on the
desensitised records, :func:`compared` with the accounts' states so far,
:func:`events_in`, :func:`next_states`), columnar, with the states kept as a
polars frame; a run of batches in which no account appears twice sees the same
states at its start as batch by batch, so it goes through in one call. Each
event, once per funder of its record, is an expected alert
``(institution, event type, leaf hash)``; the store's per-loan alerts are
matched against them as multisets:

- expected but not in the log: ``ALERT_MISSING``;
- in the log for an institution not among its record's funders:
  ``ALERT_TO_NON_FUNDER``;
- otherwise in the log but not expected (or more often than expected), or
  naming a record no anchored batch holds: ``ALERT_FORGED``.

Alerts about erased records, or about batches the store has but whose anchor is
still pending, are not judged. Portfolio and plan alerts are about a bank's
whole book, not one record, and are outside this check.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from typing import Final

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.alerts.events import (
    COMPARED,
    FACTS,
    LEAF,
    RECORD_EVENTS,
    ROW,
    SOURCES,
    compared,
    events_in,
    next_states,
    risk_facts,
)
from ledger.audit.findings import AuditReport
from ledger.audit.replay import ChainAnchor, ChainState
from ledger.chain.types import BatchKind
from ledger.records.schema import BUCKETS
from ledger.store import Batch, leaves
from ledger.store.alerts import Alert

#: What is read of each stored record: the outputs the risk facts are taken from.
_READ: Final[dict[str, pl.DataType]] = {
    **{source: FACTS[name] for name, source in SOURCES.items()},
    **{name: pl.String() for name in BUCKETS},
}
_FUNDERS: Final = SOURCES["funders"]
_STATE: Final = ("account", *COMPARED)
_KEY: Final = ["institution", "event", LEAF]


#: A record's ``row`` in the replay: its batch's place in anchor order times this, plus its
#: leaf index (a tree holds fewer leaves).
_PLACE: Final = 2**40


@dataclass
class _Replay:
    """What the replay of the anchored records gives."""

    #: One row per (event, funder): institution, event, leaf hash.
    expected: list[pl.DataFrame] = field(default_factory=list)
    #: Every anchored record still held: leaf hash, batch id, leaf index, funders' codes.
    records: list[pl.DataFrame] = field(default_factory=list)
    #: Leaf hashes of records erased, or not as anchored.
    set_aside: set[str] = field(default_factory=set)


def _batch_records(s: Session, batch_id: str, place: int, replay: _Replay) -> pl.DataFrame | None:
    """The batch's records that hash to their leaves, with their ``row`` (``place`` in
    anchor order and leaf index) and leaf hash. An erased record, or one that does not hash
    to its leaf (the batch pass reports it), is set aside: alerts about it are not judged."""
    rows, hashes, datas = [], [], []
    for index, leaf_hash, _, canonical in leaves.batch_records(s, batch_id):
        if canonical is None or hashlib.sha256(b"\x00" + canonical).digest() != leaf_hash:
            replay.set_aside.add("0x" + leaf_hash.hex())
            continue
        rows.append(index)
        hashes.append(leaf_hash.hex())
        datas.append(canonical)
    if not rows:
        return None
    frame = pl.read_ndjson(io.BytesIO(b"\n".join(datas)), schema=_READ)
    # As ingest saw them: a member no record of the batch has is an output the policy
    # does not give (or, for funders, no record is co-funded), never a null column.
    frame = frame.select(
        name for name in frame.columns if frame.get_column(name).null_count() < frame.height
    )
    leaf_index = pl.Series("leaf_index", rows, dtype=pl.Int64)
    codes = (
        pl.col(_FUNDERS).list.eval(pl.element().struct.field("org_code")).fill_null([])
        if _FUNDERS in frame.columns
        else pl.lit([], dtype=pl.List(pl.String))
    )
    replay.records.append(
        frame.select(
            pl.Series(LEAF, ["0x" + h for h in hashes], dtype=pl.String),
            pl.lit(batch_id).alias("batch_id"),
            leaf_index,
            codes.alias("funder_codes"),
        )
    )
    return frame.with_columns(
        (leaf_index + place * _PLACE).alias(ROW), pl.Series(LEAF, hashes, dtype=pl.String)
    )


def _facts(s: Session, batches: list[ChainAnchor], replay: _Replay) -> pl.DataFrame | None:
    """The risk facts of every anchored record, in row order: :func:`risk_facts` once per
    run of batches whose records have the same members (one policy's outputs)."""
    runs: list[list[pl.DataFrame]] = []
    for place, anchor in enumerate(batches):
        records = _batch_records(s, anchor.batch_id, place, replay)
        if records is None:
            continue
        if runs and runs[-1][0].columns == records.columns:
            runs[-1].append(records)
        else:
            runs.append([records])
    facts = []
    for run in runs:
        records = pl.concat(run)
        found = risk_facts(records.drop(LEAF), records.get_column(LEAF))
        if found is not None:
            facts.append(found)
    return pl.concat(facts) if facts else None


def _groups(facts: pl.DataFrame) -> list[pl.DataFrame]:
    """``facts`` cut into runs of whole batches in which no account is in two batches.

    Ingest compared each batch with the states the batches before it left. A batch
    whose accounts the run's earlier batches do not touch sees the same states at the
    run's start, so a run is compared in one go with the very same result.
    """
    batch = (pl.col(ROW) // _PLACE).alias("batch")
    pairs = facts.select("account", batch).unique(maintain_order=True)
    seen_before = (
        pairs.with_columns(pl.col("batch").shift(1).over("account").alias("before"))
        .group_by("batch", maintain_order=True)
        .agg(pl.col("before").max())
        .sort("batch")
    )
    groups: list[tuple[int, int]] = []
    start, group = -1, -1
    for number, before in seen_before.iter_rows():
        if start < 0 or (before is not None and before >= start):
            start, group = number, group + 1
        groups.append((number, group))
    mapping = pl.DataFrame(groups, schema={"batch": pl.Int64, "group": pl.Int64}, orient="row")
    grouped = facts.with_columns(batch).join(mapping, on="batch", how="left", maintain_order="left")
    return grouped.drop("batch").partition_by("group", maintain_order=True, include_key=False)


def _replay(s: Session, batches: list[ChainAnchor]) -> _Replay:
    replay = _Replay()
    facts = _facts(s, batches, replay)
    if facts is None or facts.is_empty():
        return replay
    states = pl.DataFrame(schema={name: FACTS[name] for name in _STATE})
    for part in _groups(facts):
        stored = states.join(part.select("account").unique(), on="account", how="semi")
        events = events_in(compared(part, stored))
        replay.expected.append(
            events.explode("funders")
            .drop_nulls("funders")
            .select(
                pl.col("funders").struct.field("org_code").alias("institution"),
                pl.col("event"),
                pl.col(LEAF),
            )
        )
        moved = next_states(part, stored).select(_STATE)
        states = pl.concat(
            [states.join(moved, on="account", how="anti"), moved.cast(states.schema)]
        )
    return replay


def _logged(s: Session) -> pl.DataFrame:
    """The store's per-loan alerts: id, institution, event, batch id, leaf hash."""
    rows = (
        s.connection()
        .execute(
            select(Alert.id, Alert.institution, Alert.type, Alert.batch_id, Alert.body)
            .where(Alert.type.in_(RECORD_EVENTS))
            .order_by(Alert.seq)
        )
        .all()
    )
    frame = pl.DataFrame(
        [(i, inst, t, b, body.decode("utf-8", "replace")) for i, inst, t, b, body in rows],
        schema={
            "id": pl.String,
            "institution": pl.String,
            "event": pl.String,
            "batch_id": pl.String,
            "body": pl.String,
        },
        orient="row",
    )
    return frame.with_columns(
        pl.col("body").str.json_path_match("$.data.leaf_hash").alias(LEAF)
    ).drop("body")


def _counted(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    return frame.group_by(_KEY).agg(pl.len().alias(name), pl.all().exclude(_KEY))


def check_transitions(
    s: Session, state: ChainState, report: AuditReport, *, rebuilt: bool = False
) -> None:
    """Recompute every per-loan alert from the anchored records; report what differs.

    ``rebuilt``: the store holds only the anchored log's alerts, so one it lacks is
    ``ALERT_NOT_REBUILT`` (the platform may hold it unsealed), not ``ALERT_MISSING``.
    """
    credit = sorted(
        (a for a in state.anchors.values() if a.kind == BatchKind.CREDIT_DATA), key=lambda a: a.seq
    )
    replay = _replay(s, credit)
    schema = {"institution": pl.String, "event": pl.String, LEAF: pl.String}
    expected = pl.concat(replay.expected) if replay.expected else pl.DataFrame(schema=schema)
    records = (
        pl.concat(replay.records)
        if replay.records
        else pl.DataFrame(
            schema={LEAF: pl.String, "batch_id": pl.String, "leaf_index": pl.Int64,
                    "funder_codes": pl.List(pl.String)}
        )
    )  # fmt: skip
    logged = _logged(s)
    anchored = {a.batch_id for a in credit}
    pending = (
        set(s.scalars(select(Batch.batch_id).where(Batch.kind == int(BatchKind.CREDIT_DATA))))
        - anchored
    )
    judged = logged.filter(
        ~pl.col(LEAF).is_in(list(replay.set_aside)).fill_null(False)
        & ~pl.col("batch_id").is_in(list(pending)).fill_null(False)
    ).join(records, on=LEAF, how="left", suffix="_record")
    to_funder = pl.col("funder_codes").list.contains(pl.col("institution")).fill_null(False)
    for alert_id, batch_id, index, institution in (
        judged.filter(pl.col("leaf_index").is_not_null() & ~to_funder)
        .select("id", "batch_id_record", "leaf_index", "institution")
        .iter_rows()
    ):
        report.add(
            "ALERT_TO_NON_FUNDER",
            alert_id=alert_id,
            batch_id=batch_id,
            leaf_index=index,
            expected="a funder of the record",
            found=institution,
        )
    missing = "ALERT_NOT_REBUILT" if rebuilt else "ALERT_MISSING"
    logged_ok = judged.filter(pl.col("leaf_index").is_null() | to_funder)
    _compare(expected, logged_ok, records, report, missing)
    report.checked["alert_transitions"] = expected.height
    report.checked["alerts_recomputed"] = judged.height


def _compare(
    expected: pl.DataFrame,
    logged: pl.DataFrame,
    records: pl.DataFrame,
    report: AuditReport,
    missing: str,
) -> None:
    """Multisets by (institution, event, leaf hash): what one has more of than the other."""
    wanted = _counted(expected, "wanted")
    have = _counted(logged.select(*_KEY, "id", "batch_id"), "have")
    both = wanted.join(have, on=_KEY, how="full", coalesce=True).with_columns(
        pl.col("wanted").fill_null(0), pl.col("have").fill_null(0)
    )
    short = (
        both.filter(pl.col("wanted") > pl.col("have"))
        .select(_KEY)
        .join(records.select(LEAF, "batch_id", "leaf_index"), on=LEAF, how="left")
    )
    for institution, event, _, batch_id, index in short.iter_rows():
        report.add(
            missing,
            batch_id=batch_id,
            leaf_index=index,
            expected=f"{event} to {institution}",
            found=None,
        )
    extra = both.filter(pl.col("have") > pl.col("wanted"))
    for row in extra.iter_rows(named=True):
        surplus = list(zip(row["id"], row["batch_id"], strict=True))[row["wanted"] :]
        for alert_id, batch_id in surplus:
            report.add(
                "ALERT_FORGED",
                alert_id=alert_id,
                batch_id=batch_id,
                expected=None,
                found=row["event"],
            )
