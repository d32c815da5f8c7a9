"""Lean request bodies: a fast check for the plainly valid case, pydantic for the rest.

FastAPI validates a body model before every call; for a 10000-record verify the
recursive validation costs more than the work. A route can declare its body as
``Annotated[Model, SkipValidation()]`` instead: OpenAPI still documents ``Model``,
FastAPI still reads and parses the JSON (and answers malformed JSON as before),
but hands the parsed value over unvalidated. The handler then calls
``validated(Model, body, fast=check)``: ``check`` returns the model (built with
``model_construct``) when the data is plainly valid, or None; for anything else
pydantic validates, and its errors become exactly the 422 FastAPI would have sent.

A ``check`` must accept only data that validation would accept *unchanged*.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def validated(model: type[M], body: object, *, fast: Callable[[Any], M | None]) -> M:
    """``body`` (parsed JSON, unvalidated) as ``model``; invalid -> ``RequestValidationError``."""
    value = fast(body)
    if value is not None:
        return value
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        # As FastAPI reports a body parameter: every location under "body".
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        raise RequestValidationError(errors, body=body) from None
