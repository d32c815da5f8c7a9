// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title IAnchorRegistry
 * @notice Append-only log of RFC 6962 / RFC 9162 Merkle roots, one per batch of desensitised
 * credit data, inquiry log entries or consent receipts.
 * @dev Every anchor folds into a running hash chain (`logHead`) so that an auditor who replays
 * all `BatchAnchored` events from the deployment block can prove it saw every one of them.
 * Leaf hashes are SHA-256(0x00 || data) and interior nodes SHA-256(0x01 || left || right); the
 * registry never sees a leaf, only roots.
 */
interface IAnchorRegistry {
    /**
     * @notice What the registry knows about one anchored root.
     * @dev Returned by {anchorOf} and {anchorByBatch}; an unknown batch id or root yields a struct
     * whose fields are all zero (an anchored root always has `treeSize >= 1`).
     * @param root The RFC 6962 Merkle tree head.
     * @param treeSize Number of leaves in the tree.
     * @param seq 0-based position of the anchor in the log.
     * @param blockNumber Number of the block that included the anchor transaction.
     * @param timestamp Timestamp (seconds) of that block.
     * @param kind 1 credit-data submission, 2 inquiry log, 3 consent receipts, 4 risk-alert log.
     */
    struct Anchor {
        bytes32 root;
        uint64 treeSize;
        uint64 seq;
        uint64 blockNumber;
        uint64 timestamp;
        uint8 kind;
    }

    /**
     * @notice Emitted once for every successful {anchor}.
     * @param batchId Caller-chosen unique batch identifier.
     * @param root Merkle tree head of the batch.
     * @param submitter Account that sent the anchor (holds `SUBMITTER_ROLE`).
     * @param treeSize Number of leaves in the tree.
     * @param kind 1 credit-data submission, 2 inquiry log, 3 consent receipts, 4 risk-alert log.
     * @param manifestHash Hash of the off-chain batch manifest (not stored, only logged and chained).
     * @param seq 0-based sequence number of this anchor (the `anchorCount` before it).
     * @param logHead The new head of the hash chain after this anchor.
     */
    event BatchAnchored(
        bytes32 indexed batchId,
        bytes32 indexed root,
        address indexed submitter,
        uint64 treeSize,
        uint8 kind,
        bytes32 manifestHash,
        uint64 seq,
        bytes32 logHead
    );

    /// @notice The constructor was given the zero address as admin.
    error ZeroAdmin();

    /// @notice {anchor} was called with a zero batch id.
    error ZeroBatchId();

    /// @notice {anchor} was called with a zero root.
    error ZeroRoot();

    /// @notice {anchor} was called with a tree size of zero.
    error ZeroTreeSize();

    /**
     * @notice {anchor} was called with a kind outside {1, 2, 3, 4}.
     * @param kind The rejected kind.
     */
    error InvalidKind(uint8 kind);

    /**
     * @notice {anchor} was called with a batch id that is already anchored.
     * @param batchId The reused batch id.
     */
    error BatchAlreadyAnchored(bytes32 batchId);

    /**
     * @notice {anchor} was called with a root that is already anchored.
     * @param root The reused root.
     */
    error RootAlreadyAnchored(bytes32 root);

    /**
     * @notice Role allowed to call {anchor}: `keccak256("SUBMITTER_ROLE")`.
     * @return The role identifier.
     */
    function SUBMITTER_ROLE() external view returns (bytes32);

    /**
     * @notice Role allowed to call {pause} and {unpause}: `keccak256("PAUSER_ROLE")`.
     * @return The role identifier.
     */
    function PAUSER_ROLE() external view returns (bytes32);

    /**
     * @notice Anchors the Merkle root of one batch.
     * @dev Requirements: caller has `SUBMITTER_ROLE`; the registry is not paused; `batchId`,
     * `root` and `treeSize` are non-zero; `kind` is 1, 2, 3 or 4; neither `batchId` nor `root`
     * was anchored before. Advances `logHead` and `anchorCount`. Emits {BatchAnchored}.
     * @param batchId Caller-chosen unique batch identifier.
     * @param root RFC 6962 Merkle tree head of the batch.
     * @param treeSize Number of leaves in the tree.
     * @param kind 1 credit-data submission, 2 inquiry log, 3 consent receipts, 4 risk-alert log.
     * @param manifestHash Hash of the off-chain batch manifest.
     */
    function anchor(bytes32 batchId, bytes32 root, uint64 treeSize, uint8 kind, bytes32 manifestHash)
        external;

    /**
     * @notice Stops {anchor} until {unpause}.
     * @dev Requirements: caller has `PAUSER_ROLE`; not paused. Emits {Pausable-Paused}.
     */
    function pause() external;

    /**
     * @notice Lets {anchor} run again after {pause}.
     * @dev Requirements: caller has `PAUSER_ROLE`; paused. Emits {Pausable-Unpaused}.
     */
    function unpause() external;

    /**
     * @notice Looks an anchor up by its root.
     * @dev The batch id is not stored by root (it is in the {BatchAnchored} event, indexed by
     * root). An unknown root returns an all-zero struct, including `root`.
     * @param root The Merkle root.
     * @return The anchor, or all zeros when `root` was never anchored.
     */
    function anchorOf(bytes32 root) external view returns (Anchor memory);

    /**
     * @notice Looks an anchor up by its batch id.
     * @param batchId The batch id given to {anchor}.
     * @return The anchor, or all zeros when `batchId` was never anchored.
     */
    function anchorByBatch(bytes32 batchId) external view returns (Anchor memory);

    /**
     * @notice Tells whether `root` was anchored.
     * @param root The Merkle root.
     * @return True when `root` was anchored.
     */
    function isAnchored(bytes32 root) external view returns (bool);

    /**
     * @notice Head of the hash chain over all anchors.
     * @dev Starts at zero; each {anchor} sets it to
     * `keccak256(abi.encode(logHead, batchId, root, treeSize, kind, manifestHash))`.
     * @return The current head.
     */
    function logHead() external view returns (bytes32);

    /**
     * @notice Number of anchors so far (the `seq` the next anchor will get).
     * @return The count.
     */
    function anchorCount() external view returns (uint64);

    /**
     * @notice Verifies an RFC 9162 section 2.1.3.2 inclusion proof with SHA-256.
     * @dev Pure math, independent of what is anchored. Returns false (never reverts) when
     * `treeSize` is zero, `index >= treeSize`, the proof has the wrong length or the computed
     * root differs from `root`.
     * @param leafHash SHA-256(0x00 || leaf data).
     * @param index 0-based index of the leaf.
     * @param treeSize Number of leaves in the tree.
     * @param proof Audit path, from the leaf's sibling upwards.
     * @param root Expected tree head.
     * @return True when the proof is valid.
     */
    function verifyInclusion(
        bytes32 leafHash,
        uint64 index,
        uint64 treeSize,
        bytes32[] calldata proof,
        bytes32 root
    ) external view returns (bool);

    /**
     * @notice {verifyInclusion} and `root` is anchored with exactly `treeSize` leaves.
     * @param leafHash SHA-256(0x00 || leaf data).
     * @param index 0-based index of the leaf.
     * @param treeSize Number of leaves in the tree.
     * @param proof Audit path, from the leaf's sibling upwards.
     * @param root Anchored tree head.
     * @return True when the leaf is provably part of an anchored batch.
     */
    function isAnchoredLeaf(
        bytes32 leafHash,
        uint64 index,
        uint64 treeSize,
        bytes32[] calldata proof,
        bytes32 root
    ) external view returns (bool);
}
