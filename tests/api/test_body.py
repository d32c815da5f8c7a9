"""The lean body path accepts only what validation would accept unchanged."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.exceptions import RequestValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from api.body import validated
from api.models import VerifyRequest

HEX = "0x" + "ab" * 32
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False)
    | st.text(max_size=5)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)
RECORDS = st.dictionaries(st.text(max_size=5), VALUES, max_size=4)
HASHES = st.sampled_from([HEX, HEX.upper(), HEX + "\n", HEX[:-1], "0X" + HEX[2:], 7, None])
BODIES = (
    st.fixed_dictionaries({"records": st.lists(RECORDS, max_size=3)})
    | st.fixed_dictionaries({"leaf_hashes": st.lists(HASHES, max_size=3)})
    | st.dictionaries(
        st.sampled_from(["records", "leaf_hashes", "x"]), st.lists(RECORDS), max_size=2
    )
    | VALUES
)


@settings(max_examples=400, deadline=None)
@given(BODIES)
def test_the_fast_path_agrees_with_validation(body: Any) -> None:
    fast = VerifyRequest.plainly_valid(body)
    if fast is None:
        return
    slow = VerifyRequest.model_validate(body)
    assert slow.model_dump() == fast.model_dump()
    assert slow.model_fields_set == fast.model_fields_set


@pytest.mark.parametrize(
    "body",
    [
        {"records": [{"amount": 1.0}]},  # lax: validation turns 1.0 into 1
        {"records": [{"n": 2**53}]},
        {"records": [], "leaf_hashes": [HEX]},
        {"leaf_hashes": [HEX + "\n"]},
        {"records": None},
        [HEX],
    ],
)
def test_the_fast_path_leaves_doubtful_bodies_to_validation(body: Any) -> None:
    assert VerifyRequest.plainly_valid(body) is None


def test_errors_are_reported_under_body_as_fastapi_does() -> None:
    with pytest.raises(RequestValidationError) as caught:
        validated(VerifyRequest, {"records": [{"amount": 1.5}]}, fast=VerifyRequest.plainly_valid)
    paths = [error["loc"] for error in caught.value.errors()]
    assert paths and all(path[:4] == ("body", "records", 0, "amount") for path in paths)
