"""Typed errors written for the operator.

Every fault the operator can cause or fix (a missing file, a wrong passphrase,
a threshold that would lock clients out) is a ``CeremonyError``; ``str(err)``
is one sentence they can act on, and ``hint`` says what to do next. Anything
that is not a ``CeremonyError`` is a bug and is allowed to crash loudly, so a
ceremony fails closed instead of carrying on in an unknown state.

Messages never contain a passphrase or PIN: callers pass secrets to the core
as callables and the core never formats them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class CeremonyError(Exception):
    """Base of every fault the operator should see as a sentence, not a traceback."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(CeremonyError):
    """The request itself is not acceptable (bad option values, refused policy)."""


class PolicyError(CeremonyError):
    """The request would produce metadata that locks clients out or weakens the root."""


class WorkspaceError(CeremonyError):
    """The workspace is missing, already exists, or is not in a state we can use."""


class InputFileError(CeremonyError):
    """A file given to us is missing, unreadable or malformed."""


class SigningKeyError(CeremonyError):
    """A key cannot be generated, loaded or used."""


class PassphraseError(SigningKeyError):
    """A passphrase was refused: wrong for the key, empty, or the two entries differ."""


class HsmError(CeremonyError):
    """A PKCS#11 module, token or operation failed."""


class PinIncorrectError(HsmError):
    """The token rejected the PIN (CKR_PIN_INCORRECT); never retried automatically."""


class PinLockedError(HsmError):
    """The token's user PIN is locked, or too close to locking to try unattended."""


class TokenNotFoundError(HsmError):
    """No token, or more than one, matches a PKCS#11 URI."""


class KeyNotFoundError(HsmError):
    """No private key, or more than one, matches a PKCS#11 URI on its token."""


class MechanismError(HsmError):
    """The token lacks a mechanism the key type needs."""


class MetadataError(CeremonyError):
    """Metadata cannot be built, signed or verified."""


class ThresholdNotMetError(MetadataError):
    """Fewer valid signatures than a role's threshold.

    ``statuses`` holds where every threshold of the change stands (thresholds.ThresholdResult),
    so a client can show them as well as the one sentence.
    """

    def __init__(self, message: str, hint: str | None = None, statuses: Sequence[Any] = ()) -> None:
        super().__init__(message, hint)
        self.statuses = list(statuses)


class VerificationError(MetadataError):
    """A repository failed verification the way a TUF client would fail it."""

    def __init__(self, message: str, file: str | None = None, check: str | None = None) -> None:
        super().__init__(message)
        self.file = file
        self.check = check


class TamperedRequestError(VerificationError):
    """A sign request's content or signatures do not match what was made or signed."""


class BackupError(CeremonyError):
    """A backup cannot be written, or a restore is incomplete, mixed up or damaged."""


class QrCapacityError(BackupError):
    """The data for one QR symbol does not fit at the chosen error correction level."""


class PlanError(CeremonyError):
    """A ceremony plan is malformed, incomplete, or asks for what policy refuses."""


class TranscriptError(CeremonyError):
    """The transcript's hash chain or the files it names do not match."""


class AuditError(CeremonyError):
    """An audit bundle cannot be written, or a bundle does not verify.

    ``member`` names the file inside the bundle that failed (``metadata/2.root.json``), when one did.
    """

    def __init__(self, message: str, member: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.member = member


class SignoffError(CeremonyError):
    """A sign-off of the transcript head is malformed, forged, of another head, or contradicts the plan."""


__all__ = [
    "AuditError",
    "BackupError",
    "CeremonyError",
    "HsmError",
    "InputFileError",
    "KeyNotFoundError",
    "MechanismError",
    "MetadataError",
    "PassphraseError",
    "PinIncorrectError",
    "PinLockedError",
    "PlanError",
    "PolicyError",
    "QrCapacityError",
    "SigningKeyError",
    "SignoffError",
    "TamperedRequestError",
    "ThresholdNotMetError",
    "TokenNotFoundError",
    "TranscriptError",
    "UsageError",
    "VerificationError",
    "WorkspaceError",
]
