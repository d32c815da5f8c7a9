"""Request and response bodies, each with the example OpenAPI shows."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SkipValidation,
    StrictBool,
    StrictStr,
    StringConstraints,
    model_validator,
)
from typing_extensions import TypeAliasType

from api.config import MAX_ITEMS
from ledger.verify import Outcome

HEX32_PATTERN = r"^0x[0-9a-f]{64}$"
Hex32 = Annotated[str, StringConstraints(pattern=HEX32_PATTERN)]
#: Integers JCS writes exactly (it serialises numbers as IEEE 754 doubles). Lax on
#: purpose: JSON Schema counts 7382.0 as an integer, and JCS writes it as 7382.
SafeInt = Annotated[int, Field(ge=-(2**53 - 1), le=2**53 - 1)]
#: What RFC 8785 can hash without floats: records carry amounts as decimal strings.
#: Tried left to right, strict types first, so a string stays a string and a bool a
#: bool; on a 10000-record body it takes ~30% less time than pydantic's smart union.
JcsValue = TypeAliasType(
    "JcsValue",
    "Annotated[StrictStr | StrictBool | SafeInt | list[JcsValue] | dict[str, JcsValue] | None,"
    " Field(union_mode='left_to_right')]",
)
_H = "0x" + "ab" * 32
_ANCHOR_EXAMPLE = {
    "chain_id": 1337,
    "registry": "0x" + "12" * 20,
    "tx_hash": "0x" + "cd" * 32,
    "block_number": 42,
    "block_timestamp": "2026-11-26T04:00:00Z",
}
_BUNDLE_EXAMPLE: dict[str, Any] = {
    "format": "credit-anchor/proof-bundle/v1",
    "hash_alg": "sha256-rfc6962",
    "leaf_hash": _H,
    "leaf_index": 17,
    "tree_size": 1000,
    "audit_path": ["0x" + "01" * 32],
    "root": "0x" + "ef" * 32,
    "batch_id": "0x" + "77" * 32,
    "anchor": _ANCHOR_EXAMPLE,
}


def _example(example: Any) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [example]})


class Health(BaseModel):
    model_config = _example({"status": "ok", "version": "0.2.0"})
    status: Literal["ok"] = "ok"
    version: str = Field(description="the server's release (`ledger --version`)")


class Ready(BaseModel):
    model_config = _example(
        {"status": "ready", "store": "ok", "chain": "ok", "block_number": 9, "anchor_sender": True}
    )
    status: Literal["ready"] = "ready"
    store: Literal["ok"] = "ok"
    chain: Literal["ok", "busy"]
    block_number: int | None
    anchor_sender: bool = Field(
        description="this process is the elected one that sends anchors and seals the logs"
    )


class Anchor(BaseModel):
    model_config = _example(_ANCHOR_EXAMPLE)
    chain_id: int
    registry: str
    tx_hash: str
    block_number: int
    block_timestamp: str


class BatchOut(BaseModel):
    model_config = _example(
        {
            "batch_id": "0x" + "77" * 32,
            "kind": 1,
            "status": "anchored",
            "tree_size": 1000,
            "root": "0x" + "ef" * 32,
            "manifest_hash": "0x" + "99" * 32,
            "manifest": {"format": "credit-anchor/manifest/v1", "tree_size": 1000},
            "created_at": "2026-11-26T04:00:00Z",
            "anchor": {**_ANCHOR_EXAMPLE, "seq": 3},
        }
    )
    batch_id: str
    kind: int
    status: Literal["pending", "confirming", "anchored"] = Field(
        description="confirming: mined, awaiting the chain's confirmations (see README)"
    )
    tree_size: int
    root: str
    manifest_hash: str
    manifest: dict[str, Any]
    created_at: str
    anchor: dict[str, Any] | None = Field(
        description="null until the batch is anchored (pending or confirming)"
    )


class BundleOut(BaseModel):
    """A ``credit-anchor/proof-bundle/v1`` document (DESIGN.md, Formats)."""

    model_config = _example(_BUNDLE_EXAMPLE)
    format: str
    hash_alg: str
    record: dict[str, Any] | None = Field(
        default=None, description="the desensitised record with its salt, when shown"
    )
    leaf_hash: str
    leaf_index: int
    tree_size: int
    audit_path: list[str]
    root: str
    batch_id: str
    anchor: Anchor


def _exactly_one_list(schema: dict[str, Any]) -> None:
    """Say in the schema what the validator enforces: exactly one member, a list, not null."""
    for name, prop in schema["properties"].items():
        options = [o for o in prop.pop("anyOf", []) if o.get("type") != "null"]
        if options:
            prop.update(options[0])
        prop.pop("default", None)
        schema["properties"][name] = prop
    schema["oneOf"] = [{"required": ["records"]}, {"required": ["leaf_hashes"]}]
    schema["examples"] = [{"leaf_hashes": [_H]}]


class VerifyRequest(BaseModel):
    """Either ``records`` (desensitised, with their salts) or ``leaf_hashes``, not both."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_exactly_one_list)
    #: The schema says what a record may hold; the check is the library's own
    #: (:func:`ledger.verify.verify_records` canonicalises every record and names the
    #: first one without an RFC 8785 form, and where in it): pydantic does not walk
    #: every value a second time.
    records: list[SkipValidation[dict[str, JcsValue]]] | None = Field(
        default=None, min_length=1, max_length=MAX_ITEMS
    )
    leaf_hashes: list[Hex32] | None = Field(default=None, min_length=1, max_length=MAX_ITEMS)

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict) and any(data.get(k, ...) is None for k in cls.model_fields):
            raise ValueError("records and leaf_hashes are lists; leave the other one out")
        return data

    @model_validator(mode="after")
    def _one_of(self) -> VerifyRequest:
        if (self.records is None) == (self.leaf_hashes is None):
            raise ValueError("give exactly one of records or leaf_hashes")
        return self


OutcomeName = Outcome


class VerifyItem(BaseModel):
    index: int = Field(description="position of the item in the request")
    status: OutcomeName
    leaf_hash: str
    batch_id: str | None = Field(
        default=None,
        description="the batch holding the leaf; on mismatch, the batch holding the stored "
        "record with the same record_id (its content is never shown)",
    )
    bundle: BundleOut | None = Field(default=None, description="only when anchored")


class VerifyResponse(BaseModel):
    model_config = _example(
        {
            "counts": {"anchored": 1, "pending": 0, "unknown": 0, "mismatch": 0, "erased": 0},
            "results": [
                {
                    "index": 0,
                    "status": "anchored",
                    "leaf_hash": _H,
                    "batch_id": "0x" + "77" * 32,
                    "bundle": _BUNDLE_EXAMPLE,
                }
            ],
        }
    )
    counts: dict[str, int]
    results: list[VerifyItem]


class SubmissionRequest(BaseModel):
    """Raw ``credit-account-report`` rows, as in a JSONL file (row n = item n, from 1)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"records": [{"report_id": "RPT-1", "reporter_org_code": "ORG1"}]}]
        },
    )
    records: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_ITEMS)


class BatchSummary(BaseModel):
    batch_id: str
    root: str
    tree_size: int
    tx_hash: str
    block_number: int
    resumed: bool
    status: Literal["pending", "confirming", "anchored"] = Field(
        default="anchored",
        description="confirming: mined, awaiting the chain's confirmations; the server "
        "finishes it in the background (GET /v1/batches/{batch_id} tells when)",
    )


class RejectionOut(BaseModel):
    row: int = Field(description="1-based position of the record in the request")
    field: str
    reason: str


class SubmissionReport(BaseModel):
    model_config = _example(
        {
            "submission_id": "0x" + "55" * 32,
            "already_complete": False,
            "accepted": 9,
            "rejected": 1,
            "batches": [
                {
                    "batch_id": "0x" + "77" * 32,
                    "root": "0x" + "ef" * 32,
                    "tree_size": 9,
                    "tx_hash": "0x" + "cd" * 32,
                    "block_number": 42,
                    "resumed": False,
                }
            ],
            "rejections": [{"row": 4, "field": "subject_id_number", "reason": "bad check digit"}],
        }
    )
    submission_id: str
    already_complete: bool
    accepted: int
    rejected: int
    batches: list[BatchSummary]
    rejections: list[RejectionOut]


class FieldError(BaseModel):
    path: str = Field(description="where, e.g. body.leaf_hashes.0; never the value")
    reason: str
    type: str


class Problem(BaseModel):
    """An RFC 9457 problem document (``application/problem+json``)."""

    model_config = _example(
        {
            "type": "urn:credit-anchor:problem:not-found",
            "title": "Not found",
            "status": 404,
            "detail": "no batch 0x7777…",
            "code": "not-found",
        }
    )
    type: str
    title: str
    status: int
    detail: str
    code: str
    hint: str | None = None
    errors: list[FieldError] | None = Field(default=None, description="on 422 only")


_PROBLEM_TEXT = {
    400: "the body nests too deeply",
    401: "no API key, or an unknown or revoked one",
    403: "the key's role may not do this",
    404: "not found",
    409: "not anchored yet",
    410: "erased at the borrower's request (PIPL Art. 47)",
    413: "the body is too large",
    422: "the request does not match its schema",
    503: "the chain or the store does not answer; see Retry-After",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these statuses: each a problem+json document."""
    return {
        status: {
            "model": Problem,
            "description": _PROBLEM_TEXT[status],
            "content": {"application/problem+json": {}},
        }
        for status in statuses
    }
