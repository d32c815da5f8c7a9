"""Errors raised by :mod:`ledger.privacy`.

They name fields, key names, kinds and files; never a personal value and never
key material.
"""

from __future__ import annotations

from ledger.errors import ConfigurationError, InputError


class PolicyError(ConfigurationError):
    """A desensitisation policy is malformed or would let a C2 identifier out in the clear."""

    code = "policy-invalid"

    def __init__(self, message: str, *, field: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.field = field


class KeyringError(ConfigurationError):
    """Pseudonym keys are missing, malformed or stored unsafely."""

    code = "keyring-invalid"


class LeakDetected(InputError):  # noqa: N818 - the name is part of the API
    """A desensitised record still carries personal data; it must not be stored or anchored."""

    code = "leak-detected"

    def __init__(self, *, field: str, kind: str) -> None:
        super().__init__(
            f"output field {field!r} contains a {kind}",
            hint="Fix the policy or the input: this record was not stored or anchored.",
        )
        self.field = field
        self.kind = kind
