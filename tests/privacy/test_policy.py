"""Policy loading: the shipped default, and every refusal at load time."""

from __future__ import annotations

import copy
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from ledger.errors import ConfigurationError
from ledger.privacy import Policy, PolicyError
from ledger.records import FIELD_NAMES

DEFAULT_OUTPUTS = (
    "record_id", "reporter_org_code", "period", "report_date", "subject_id_type",
    "subject_pseudonym", "subject_age_band", "subject_region", "account_pseudonym",
    "account_type", "business_type", "open_date", "due_date", "currency", "principal",
    "credit_limit", "guarantee_type", "repayment_frequency", "instalments_total",
    "instalments_remaining", "amount_due", "amount_paid", "last_payment_date", "balance",
    "overdue_instalments", "overdue_amount", "overdue_principal_31_60", "overdue_principal_61_90",
    "overdue_principal_91_180", "overdue_principal_180_plus", "days_past_due", "five_class",
    "account_status", "repayment_status", "funders", "consent_ids", "schema_version",
    "report_reason", "special_transactions", "related_parties", "pseudonym_key_ids",
)  # fmt: skip


def default_document() -> dict[str, Any]:
    text = resources.files("ledger.privacy").joinpath("default_policy.toml").read_text()
    return tomllib.loads(text)


def test_default_policy_loads_with_its_outputs(policy: Policy) -> None:
    assert (policy.name, policy.version, policy.schema_version) == ("default", 2, 2)
    assert policy.outputs == DEFAULT_OUTPUTS
    assert policy.key_names == {"subject", "account"}
    assert {a.field for a in policy.actions} | {"subject_name", "subject_mobile"} >= set(
        FIELD_NAMES
    )
    assert policy.digest.startswith("0x") and len(policy.digest) == 66


def test_policy_loads_from_a_file_and_the_digest_pins_its_rules(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    text = resources.files("ledger.privacy").joinpath("default_policy.toml").read_text()
    path.write_text(text, encoding="utf-8")
    assert Policy.load(path) == Policy.load()
    path.write_text(text.replace('business_type = { action = "keep" }', "business_type = "
                                 '{ action = "drop" }'), encoding="utf-8")  # fmt: skip
    assert Policy.load(path).digest != Policy.load().digest


def with_field(field: str, action: object) -> dict[str, Any]:
    document = copy.deepcopy(default_document())
    document["fields"][field] = action
    return document


REFUSALS = [
    ("keep name", with_field("subject_name", {"action": "keep"}), "subject_name"),
    ("keep id", with_field("subject_id_number", {"action": "keep", "output": "x"}),
     "subject_id_number"),
    ("keep mobile", with_field("subject_mobile", {"action": "keep"}), "subject_mobile"),
    ("keep account", with_field("account_id", [{"action": "keep"}]), "account_id"),
    ("card mask on id", with_field("subject_id_number", {"action": "mask", "style": "card"}),
     "subject_id_number"),
    ("mobile mask on name", with_field("subject_name", {"action": "mask", "style": "mobile"}),
     "subject_name"),
    ("unknown mask", with_field("period", {"action": "mask", "style": "blur"}), "period"),
    ("mask an int", with_field("days_past_due", {"action": "mask", "style": "id"}),
     "days_past_due"),
    ("unknown action", with_field("period", {"action": "encrypt"}), "period"),
    ("extra parameter", with_field("period", {"action": "keep", "key": "subject"}), "period"),
    ("hmac without key", with_field("account_id", {"action": "hmac", "output": "a"}),
     "account_id"),
    ("hmac without output", with_field("account_id", {"action": "hmac", "key": "account"}),
     "account_id"),
    ("age band on a date", with_field("open_date", {"action": "generalise", "style": "age_band",
                                                    "output": "x"}), "open_date"),
    ("month on an amount", with_field("principal", {"action": "generalise", "style": "month"}),
     "principal"),
    ("province unnamed", with_field("subject_id_number", {"action": "generalise",
                                                          "style": "province"}),
     "subject_id_number"),
    ("drop mixed", with_field("subject_mobile", [{"action": "drop"}, {"action": "hmac",
                              "key": "subject", "output": "m"}]), "subject_mobile"),
    ("no action", with_field("period", []), "period"),
    ("output taken", with_field("period", {"action": "keep", "output": "record_id"}), "period"),
    ("reserved output", with_field("period", {"action": "keep", "output": "pseudonym_key_ids"}),
     "period"),
    ("bad output name", with_field("period", {"action": "keep", "output": "Period Start"}),
     "period"),
    ("unknown field", with_field("colour", {"action": "keep"}), "colour"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("document", "field"), [c[1:] for c in REFUSALS], ids=[c[0] for c in REFUSALS]
)
def test_policy_refusals_name_the_field(document: dict[str, Any], field: str) -> None:
    with pytest.raises(PolicyError) as caught:
        Policy.from_mapping(document)
    assert caught.value.field == field
    assert field in str(caught.value)
    assert isinstance(caught.value, ConfigurationError)


@pytest.mark.parametrize("field", FIELD_NAMES)
def test_every_schema_field_must_be_named(field: str) -> None:
    document = default_document()
    del document["fields"][field]
    with pytest.raises(PolicyError, match=f"does not say what to do with '{field}'"):
        Policy.from_mapping(document)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": 0}, "version"),
        ({"version": "1"}, "version"),
        ({"name": ""}, "name"),
        ({"schema": "other"}, "schema"),
        ({"schema_version": 3}, "schema"),
        ({"schema_version": "2"}, "schema"),
        ({"schema_version": True}, "schema"),
        ({"fields": []}, "fields"),
        ({"owner": "me"}, "unknown policy settings: owner"),
    ],
)
def test_policy_header_is_checked(change: dict[str, object], message: str) -> None:
    document = default_document() | change
    with pytest.raises(PolicyError, match=message):
        Policy.from_mapping(document)


def test_unreadable_policy_files(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read policy"):
        Policy.load(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("name = \n", encoding="utf-8")
    with pytest.raises(PolicyError, match="cannot read policy"):
        Policy.load(broken)


def test_safe_masks_and_custom_keys_are_accepted() -> None:
    document = with_field("subject_name", {"action": "mask", "style": "name"})
    document["fields"]["subject_mobile"] = {"action": "mask", "style": "mobile"}
    document["fields"]["account_id"] = [
        {"action": "mask", "style": "card", "output": "account_masked"},
        {"action": "hmac", "key": "partner-icbc", "output": "account_pseudonym"},
    ]
    document["fields"]["open_date"] = {"action": "generalise", "style": "month"}
    policy = Policy.from_mapping(document)
    assert policy.key_names == {"subject", "partner-icbc"}
    assert "account_masked" in policy.outputs and "open_date" in policy.outputs
