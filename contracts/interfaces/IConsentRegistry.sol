// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title IConsentRegistry
 * @notice On-chain commitments to borrower consent receipts and their withdrawal.
 * @dev Only commitments are stored: `commitment` is SHA-256 of the RFC 8785 (JCS) bytes of the
 * full consent receipt, which carries its own salt; `consentId` must be random or keyed, never
 * derived from borrower data. Nothing here links two consents to the same borrower.
 * Times are Unix seconds and must fit in a uint40 (year 36812), which keeps a record in two
 * storage slots.
 */
interface IConsentRegistry {
    /**
     * @notice One consent as the registry knows it; all zeros for an unknown id.
     * @param commitment SHA-256 of the JCS bytes of the consent receipt.
     * @param validFrom First second the consent is valid.
     * @param validUntil First second it is no longer valid; 0 means open-ended.
     * @param revokedAt First second it is withdrawn; 0 means not revoked.
     * @param recordedAt Timestamp of the block that recorded it.
     * @param recordedBlock Number of the block that recorded it.
     */
    struct ConsentRecord {
        bytes32 commitment;
        uint64 validFrom;
        uint64 validUntil;
        uint64 revokedAt;
        uint64 recordedAt;
        uint64 recordedBlock;
    }

    /**
     * @notice Emitted when a consent is recorded for the first time.
     * @param consentId Identifier of the consent.
     * @param commitment SHA-256 of the JCS bytes of the consent receipt.
     * @param validFrom First second the consent is valid.
     * @param validUntil First second it is no longer valid; 0 means open-ended.
     * @param recorder Account that recorded it (holds `RECORDER_ROLE`).
     */
    event ConsentRecorded(
        bytes32 indexed consentId,
        bytes32 indexed commitment,
        uint64 validFrom,
        uint64 validUntil,
        address indexed recorder
    );

    /**
     * @notice Emitted when a consent is withdrawn for the first time.
     * @param consentId Identifier of the consent.
     * @param revokedAt First second the consent is no longer valid.
     * @param recorder Account that recorded the withdrawal (holds `RECORDER_ROLE`).
     */
    event ConsentRevoked(bytes32 indexed consentId, uint64 revokedAt, address indexed recorder);

    /// @notice The constructor was given the zero address as admin.
    error ZeroAdmin();

    /// @notice A consent id of zero was given.
    error ZeroConsentId();

    /// @notice A commitment of zero was given.
    error ZeroCommitment();

    /**
     * @notice The validity window is empty: `validUntil != 0 && validUntil <= validFrom`.
     * @param validFrom The rejected start.
     * @param validUntil The rejected end.
     */
    error InvalidValidity(uint64 validFrom, uint64 validUntil);

    /**
     * @notice A time does not fit in a uint40 (after year 36812).
     * @param timestamp The rejected time.
     */
    error TimestampOutOfRange(uint64 timestamp);

    /**
     * @notice The consent id is already recorded with a different commitment or window.
     * @param consentId The reused id.
     */
    error ConsentAlreadyRecorded(bytes32 consentId);

    /// @notice The batch arrays do not all have the same length.
    error LengthMismatch();

    /// @notice The batch is empty.
    error EmptyBatch();

    /**
     * @notice {revokeConsent} was called for an id that was never recorded.
     * @param consentId The unknown id.
     */
    error UnknownConsent(bytes32 consentId);

    /// @notice {revokeConsent} was called with a revocation time of zero.
    error ZeroRevocationTime();

    /**
     * @notice Role allowed to record and revoke consents: `keccak256("RECORDER_ROLE")`.
     * @return The role identifier.
     */
    function RECORDER_ROLE() external view returns (bytes32);

    /**
     * @notice Records the commitment to one consent receipt.
     * @dev Requirements: caller has `RECORDER_ROLE`; `consentId` and `commitment` are non-zero;
     * `validFrom` and `validUntil` fit in a uint40; `validUntil` is 0 (open-ended) or greater
     * than `validFrom`; the id is unknown, or known with exactly the same commitment and window,
     * in which case nothing happens and nothing is emitted (a crashed client may retry, and a
     * revoked consent stays revoked). Emits {ConsentRecorded} when the consent is new.
     * @param consentId Identifier of the consent.
     * @param commitment SHA-256 of the JCS bytes of the consent receipt.
     * @param validFrom First second the consent is valid.
     * @param validUntil First second it is no longer valid; 0 means open-ended.
     */
    function recordConsent(bytes32 consentId, bytes32 commitment, uint64 validFrom, uint64 validUntil)
        external;

    /**
     * @notice Records several consents at once, all or nothing.
     * @dev Requirements: caller has `RECORDER_ROLE`; the four arrays have the same length
     * ({LengthMismatch}), which is not zero ({EmptyBatch}); every item satisfies the rules of
     * {recordConsent}. Emits one {ConsentRecorded} per new item, in order.
     * @param consentIds Identifiers of the consents.
     * @param commitments Their commitments.
     * @param validFroms Their validity starts.
     * @param validUntils Their validity ends (0 means open-ended).
     */
    function recordConsents(
        bytes32[] calldata consentIds,
        bytes32[] calldata commitments,
        uint64[] calldata validFroms,
        uint64[] calldata validUntils
    ) external;

    /**
     * @notice Records the withdrawal of a consent, effective at `revokedAt`.
     * @dev Requirements: caller has `RECORDER_ROLE`; `revokedAt` is non-zero and fits in a
     * uint40; the consent was recorded. Revoking an already revoked consent does nothing, emits
     * nothing and keeps the first `revokedAt`. Emits {ConsentRevoked} on the first revocation.
     * @param consentId Identifier of the consent.
     * @param revokedAt First second the consent is no longer valid.
     */
    function revokeConsent(bytes32 consentId, uint64 revokedAt) external;

    /**
     * @notice Everything the registry knows about one consent.
     * @param consentId Identifier of the consent.
     * @return The record, all zeros when `consentId` was never recorded.
     */
    function consentStatus(bytes32 consentId) external view returns (ConsentRecord memory);

    /**
     * @notice Tells whether a consent is in force at `timestamp`.
     * @dev True iff recorded, `validFrom <= timestamp`, `validUntil == 0 || timestamp < validUntil`
     * and `revokedAt == 0 || timestamp < revokedAt`.
     * @param consentId Identifier of the consent.
     * @param timestamp Unix time in seconds.
     * @return True when the consent is valid at `timestamp`.
     */
    function isValidAt(bytes32 consentId, uint64 timestamp) external view returns (bool);
}
