"""Every per-loan alert recomputed from the anchored records, and the log held to it.

The credit-data batches the chain anchors (kind 1) are replayed in anchor order
(the chain's ``seq``: the order the submissions stored, derived and anchored
them), records in leaf order. Each batch's stored records go through the same
functions ingest used (:mod:`ledger.alerts.events`: :func:`risk_facts` on the
desensitised records, :func:`compared` with the accounts' states so far,
:func:`events_in`, :func:`next_states`), columnar, with the states kept as a
polars frame. Each event, once per funder of its record, is an expected alert
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


@dataclass
class _Replay:
    """What the replay of the anchored records gives."""

    #: One row per (event, funder): institution, event, leaf hash.
    expected: list[pl.DataFrame] = field(default_factory=list)
    #: Every anchored record still held: leaf hash, batch id, leaf index, funders' codes.
    records: list[pl.DataFrame] = field(default_factory=list)
    #: Leaf hashes of records erased, or not as anchored.
    set_aside: set[str] = field(default_factory=set)


def _batch_records(s: Session, batch_id: str, replay: _Replay) -> pl.DataFrame | None:
    """The batch's records that hash to their leaves, with their leaf index (as ``row``)
    and leaf hash. An erased record, or one that does not hash to its leaf (the batch pass
    reports it), is set aside: alerts about it are not judged."""
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
    return frame.with_columns(
        pl.Series(ROW, rows, dtype=pl.Int64), pl.Series(LEAF, hashes, dtype=pl.String)
    )


def _replay(s: Session, batches: list[ChainAnchor]) -> _Replay:
    replay = _Replay()
    states = pl.DataFrame(schema={name: FACTS[name] for name in _STATE})
    for anchor in batches:
        records = _batch_records(s, anchor.batch_id, replay)
        if records is None:
            continue
        codes = (
            pl.col(_FUNDERS).list.eval(pl.element().struct.field("org_code"))
            if _FUNDERS in records.columns
            else pl.lit([], dtype=pl.List(pl.String))
        )
        replay.records.append(
            records.select(
                ("0x" + pl.col(LEAF)).alias(LEAF),
                pl.lit(anchor.batch_id).alias("batch_id"),
                pl.col(ROW).alias("leaf_index"),
                codes.fill_null([]).alias("funder_codes"),
            )
        )
        facts = risk_facts(records.drop(LEAF), records.get_column(LEAF))
        if facts is None or facts.is_empty():
            continue
        stored = states.join(facts.select("account").unique(), on="account", how="semi")
        events = events_in(compared(facts, stored))
        replay.expected.append(
            events.explode("funders")
            .drop_nulls("funders")
            .select(
                pl.col("funders").struct.field("org_code").alias("institution"),
                pl.col("event"),
                pl.col(LEAF),
            )
        )
        moved = next_states(facts, stored).select(_STATE)
        states = pl.concat(
            [states.join(moved, on="account", how="anti"), moved.cast(states.schema)]
        )
    return replay


def _logged(s: Session) -> pl.DataFrame:
    """The store's per-loan alerts: id, institution, event, batch id, leaf hash."""
    rows = s.execute(
        select(Alert.id, Alert.institution, Alert.type, Alert.batch_id, Alert.body)
        .where(Alert.type.in_(RECORD_EVENTS))
        .order_by(Alert.seq)
    ).all()
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


def check_transitions(s: Session, state: ChainState, report: AuditReport) -> None:
    """Recompute every per-loan alert from the anchored records; report what differs."""
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
    _compare(expected, judged.filter(pl.col("leaf_index").is_null() | to_funder), records, report)
    report.checked["alert_transitions"] = expected.height
    report.checked["alerts_recomputed"] = judged.height


def _compare(
    expected: pl.DataFrame, logged: pl.DataFrame, records: pl.DataFrame, report: AuditReport
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
            "ALERT_MISSING",
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
