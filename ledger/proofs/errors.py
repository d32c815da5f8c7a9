"""Errors raised by :mod:`ledger.proofs`.

A proof either does not fit its claim (:class:`InclusionProofError`,
:class:`ConsistencyProofError`: wrong path length, index outside the tree,
a hash that is not 32 bytes) or fits but leads to another root
(:class:`RootMismatchError`). All of them are :class:`ProofError`, an
:class:`~ledger.errors.IntegrityError`. Each carries the data a caller needs
(roots, index, sizes) as attributes; messages show nothing but hashes and
numbers.

The classes pickle with their data (``__reduce__``), so they survive a trip
through a process pool.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from ledger.errors import InputError, IntegrityError


def _hex(value: bytes) -> str:
    """Lower-case ``0x`` hex, the form every hash takes on the wire (DESIGN: Formats)."""
    return "0x" + value.hex()


class ProofError(IntegrityError):
    """A Merkle proof does not prove what it claims (RFC 6962 §2.1, RFC 9162 §2.1.3-2.1.4)."""

    code = "proof-invalid"


class RootMismatchError(ProofError):
    """A well-formed proof leads to a root other than the expected one."""

    code = "root-mismatch"

    def __init__(
        self,
        *,
        expected_root: bytes,
        calculated_root: bytes,
        hint: str | None = "The proof does not belong to this leaf, index, tree size or root.",
    ) -> None:
        super().__init__(
            f"calculated root {_hex(calculated_root)} does not match "
            f"expected root {_hex(expected_root)}",
            hint=hint,
        )
        self.expected_root = expected_root
        self.calculated_root = calculated_root

    def __reduce__(self) -> tuple[Any, ...]:
        rebuild = partial(
            type(self),
            expected_root=self.expected_root,
            calculated_root=self.calculated_root,
            hint=self.hint,
        )
        return (rebuild, ())


class InclusionProofError(ProofError):
    """An inclusion proof (audit path) is malformed for its leaf index and tree size."""

    code = "inclusion-proof-malformed"

    def __init__(
        self, message: str, *, leaf_index: int, tree_size: int, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.leaf_index = leaf_index
        self.tree_size = tree_size

    def __reduce__(self) -> tuple[Any, ...]:
        rebuild = partial(
            type(self),
            self.message,
            leaf_index=self.leaf_index,
            tree_size=self.tree_size,
            hint=self.hint,
        )
        return (rebuild, ())


class ConsistencyProofError(ProofError):
    """A consistency proof is malformed for its two tree sizes."""

    code = "consistency-proof-malformed"

    def __init__(
        self, message: str, *, old_size: int, new_size: int, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.old_size = old_size
        self.new_size = new_size

    def __reduce__(self) -> tuple[Any, ...]:
        rebuild = partial(
            type(self),
            self.message,
            old_size=self.old_size,
            new_size=self.new_size,
            hint=self.hint,
        )
        return (rebuild, ())


class LeafHashError(InputError):
    """A value given to build a tree is not a 32-byte leaf hash (a caller error, not tampering)."""

    code = "leaf-hash-malformed"

    def __init__(self, message: str, *, position: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.position = position

    def __reduce__(self) -> tuple[Any, ...]:
        return (partial(type(self), self.message, position=self.position, hint=self.hint), ())


class CanonicalFormError(InputError):
    """A value has no RFC 8785 (JCS) form: a float, a non-string key, an out-of-range int...

    ``path`` names where (``$.funders[0].share_bp``); the message never shows the
    value itself, which may be personal data.
    """

    code = "canonical-form"

    def __init__(self, reason: str, *, path: str, hint: str | None = None) -> None:
        super().__init__(f"{path}: {reason}", hint=hint)
        self.path = path
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        return (partial(type(self), self.reason, path=self.path, hint=self.hint), ())


class BundleFormatError(InputError):
    """A proof bundle is not in the fixed ``credit-anchor/proof-bundle/v1`` format.

    ``path`` names the offending member (``$.audit_path[3]``); the message shows
    no record value.
    """

    code = "bundle-malformed"

    def __init__(self, reason: str, *, path: str, hint: str | None = None) -> None:
        super().__init__(f"{path}: {reason}", hint=hint)
        self.path = path
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        return (partial(type(self), self.reason, path=self.path, hint=self.hint), ())


class RecordMismatchError(IntegrityError):
    """A bundle's record does not hash to the leaf hash the bundle claims for it."""

    code = "record-mismatch"

    def __init__(
        self,
        *,
        expected_leaf_hash: bytes,
        computed_leaf_hash: bytes,
        hint: str | None = "The record was changed after it was anchored, or is not this leaf.",
    ) -> None:
        super().__init__(
            f"record hashes to leaf {_hex(computed_leaf_hash)}, "
            f"not to the bundle's leaf {_hex(expected_leaf_hash)}",
            hint=hint,
        )
        self.expected_leaf_hash = expected_leaf_hash
        self.computed_leaf_hash = computed_leaf_hash

    def __reduce__(self) -> tuple[Any, ...]:
        rebuild = partial(
            type(self),
            expected_leaf_hash=self.expected_leaf_hash,
            computed_leaf_hash=self.computed_leaf_hash,
            hint=self.hint,
        )
        return (rebuild, ())
