"""Proofs: the RFC 6962 / RFC 9162 Merkle tree and its proofs, as pure data.

Nothing here talks to a chain (no web3): a proof verifies with hashlib alone,
and the chain only attests which root was anchored.
"""

from ledger.proofs.bundle import (
    BUNDLE_FORMAT,
    HASH_ALG,
    MAX_BUNDLE_BYTES,
    AnchorAttestation,
    ProofBundle,
    make_bundle,
    verify_bundle,
)
from ledger.proofs.bundletext import BatchBundles, bundle_bytes, bundle_text
from ledger.proofs.canonical import (
    canonical_bytes,
    canonical_records,
    record_canonical,
    record_leaf_hash,
)
from ledger.proofs.errors import (
    BundleFormatError,
    CanonicalFormError,
    ConsistencyProofError,
    InclusionProofError,
    LeafHashError,
    ProofError,
    RecordMismatchError,
    RootMismatchError,
)
from ledger.proofs.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    MAX_CONSISTENCY_PROOF_LENGTH,
    MAX_INCLUSION_PROOF_LENGTH,
    MAX_TREE_SIZE,
    MerkleTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    root_from_inclusion_proof,
    root_of,
    verify_consistency,
    verify_inclusion,
)

__all__ = [
    "BUNDLE_FORMAT",
    "EMPTY_ROOT",
    "HASH_ALG",
    "HASH_SIZE",
    "MAX_BUNDLE_BYTES",
    "MAX_CONSISTENCY_PROOF_LENGTH",
    "MAX_INCLUSION_PROOF_LENGTH",
    "MAX_TREE_SIZE",
    "AnchorAttestation",
    "BatchBundles",
    "BundleFormatError",
    "CanonicalFormError",
    "ConsistencyProofError",
    "InclusionProofError",
    "LeafHashError",
    "MerkleTree",
    "ProofBundle",
    "ProofError",
    "RecordMismatchError",
    "RootMismatchError",
    "bundle_bytes",
    "bundle_text",
    "canonical_bytes",
    "canonical_records",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "make_bundle",
    "node_hash",
    "record_canonical",
    "record_leaf_hash",
    "root",
    "root_from_inclusion_proof",
    "root_of",
    "verify_bundle",
    "verify_consistency",
    "verify_inclusion",
]
