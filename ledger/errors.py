"""The one root of every error CreditAnchor raises on purpose.

Callers catch :class:`LedgerError` (or one of its families) and never a raw
``ValueError`` from deep inside. The CLI turns any ``LedgerError`` into one line
and a non-zero exit code; the API turns it into one RFC 9457 problem document.
Neither of them needs to know the concrete subclass: the family says what kind
of failure it is, ``code`` names it for machines, ``diagnostics()`` explains it
to people.

Messages never carry personal data: raise with field names, row numbers and
hashes, never with the raw value that was wrong.
"""

from __future__ import annotations

from typing import ClassVar


class LedgerError(Exception):
    """Root of all CreditAnchor errors."""

    #: Stable, machine-readable name of the failure (used as the problem ``type`` suffix).
    code: ClassVar[str] = "ledger-error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def diagnostics(self) -> str:
        """A text for people: what went wrong and, where known, what to do about it."""
        if self.hint:
            return f"{self.message}\n{self.hint}"
        return self.message


class InputError(LedgerError, ValueError):
    """The caller's input is malformed or violates a rule (HTTP 400/422, CLI exit 2)."""

    code = "invalid-input"


class NotFoundError(LedgerError, LookupError):
    """Something the caller named does not exist (HTTP 404)."""

    code = "not-found"


class ConflictError(LedgerError):
    """The request contradicts existing state (HTTP 409)."""

    code = "conflict"


class ConfigurationError(LedgerError):
    """The data dir, settings or deployment are missing or inconsistent."""

    code = "configuration"


class UnavailableError(LedgerError):
    """A dependency (chain node, database) cannot be reached right now; retrying may help."""

    code = "unavailable"


class IntegrityError(LedgerError):
    """Data does not match what was committed: a proof, a hash or an anchor disagrees."""

    code = "integrity"


class ErasedError(NotFoundError):
    """The data was erased at the borrower's request (PIPL Art. 47; HTTP 410).

    Its commitments stay on chain and in the batch trees, but nothing links them
    to anyone any more.
    """

    code = "erased"
