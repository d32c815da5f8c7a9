"""Privacy: desensitisation policy, pseudonym keys, the desensitiser and the leak guard.

Pipeline per record: ``validate_record`` -> :meth:`Desensitiser.apply` ->
:meth:`LeakGuard.check` (with ``personal_values`` of the validated record).
"""

from ledger.privacy.desensitise import Desensitiser, default_desensitiser
from ledger.privacy.errors import KeyringError, LeakDetected, PolicyError
from ledger.privacy.keys import KEYS_ENV, Keyring, PseudonymKey
from ledger.privacy.leakguard import LeakGuard
from ledger.privacy.policy import Action, Policy

__all__ = [
    "KEYS_ENV",
    "Action",
    "Desensitiser",
    "Keyring",
    "KeyringError",
    "LeakDetected",
    "LeakGuard",
    "Policy",
    "PolicyError",
    "PseudonymKey",
    "default_desensitiser",
]
