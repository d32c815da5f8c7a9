"""Proofs: the RFC 6962 / RFC 9162 Merkle tree and its proofs, as pure data.

Nothing here talks to a chain (no web3): a proof verifies with hashlib alone,
and the chain only attests which root was anchored.
"""

from ledger.proofs.errors import (
    ConsistencyProofError,
    InclusionProofError,
    LeafHashError,
    ProofError,
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
    verify_consistency,
    verify_inclusion,
)

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MAX_CONSISTENCY_PROOF_LENGTH",
    "MAX_INCLUSION_PROOF_LENGTH",
    "MAX_TREE_SIZE",
    "ConsistencyProofError",
    "InclusionProofError",
    "LeafHashError",
    "MerkleTree",
    "ProofError",
    "RootMismatchError",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "root_from_inclusion_proof",
    "verify_consistency",
    "verify_inclusion",
]
