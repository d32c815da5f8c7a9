"""Records: the ``credit-account-report`` schema (v1, v2), validation, readers, test data.

Public: :mod:`~ledger.records.schema` (field table), :func:`validate_record`,
:func:`read_rows` and the writers, :func:`synthetic_rows`. The field checks
(``_checks``, one function per kind) and the cross-field rules (:mod:`~ledger.records.rules`,
polars expressions) are each written once; bulk ingest (:mod:`ledger.ingest`) runs the
same ones. :mod:`~ledger.records.codes` holds v2's code lists and the v1 -> v2 table
(:func:`~ledger.records.upgrade.upgrade` applies it), :mod:`~ledger.records.pboc210`
the mapping to the credit reference system's record 210. Modules starting with an
underscore are plumbing.
"""

from ledger.records.generate import synthetic_rows
from ledger.records.readers import RawRow, ReaderError, read_rows, write_csv, write_jsonl
from ledger.records.schema import (
    FIELD_NAMES,
    FIELDS,
    PERSONAL_FIELDS,
    SCHEMA_ID,
    SCHEMA_VERSION,
    FieldSpec,
    personal_values,
)
from ledger.records.validate import Problem, RecordRejected, validate_record, validate_records

__all__ = [
    "FIELDS",
    "FIELD_NAMES",
    "PERSONAL_FIELDS",
    "SCHEMA_ID",
    "SCHEMA_VERSION",
    "FieldSpec",
    "Problem",
    "RawRow",
    "ReaderError",
    "RecordRejected",
    "personal_values",
    "read_rows",
    "synthetic_rows",
    "validate_record",
    "validate_records",
    "write_csv",
    "write_jsonl",
]
