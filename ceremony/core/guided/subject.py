"""What the review-and-sign screen signs: one protocol for every guided ceremony.

The new-root ceremony, a change to a live workspace, and a keyholder signing
a request offline each implement ``SigningSubject``; the terminal UI's
review-and-sign screen is typed against it and knows nothing else. Progress
is ``thresholds.ThresholdResult`` with the signers' labels, the same result
``verify``, ``publish`` and sign requests use.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from ceremony.core import diff as _diff
from ceremony.core import metadata as _md
from ceremony.core._json import dumps_pretty
from ceremony.core._text import printable
from ceremony.core.guided.state import MAX_TEXT
from ceremony.core.requests import SignRequest
from ceremony.core.thresholds import ThresholdResult
from ceremony.errors import InputFileError, TamperedRequestError

#: Where a threshold stands, as the signing screen shows it (the signers by label).
Progress = ThresholdResult


def words_cover(files: Mapping[str, tuple[int, bytes]]) -> list[str]:
    """What the words read aloud cover, named, and root's own words when root is one of several files.

    ``files``: role -> (version, canonical signed bytes). One file: its words are
    those of the SHA-256 of its signed part, the same digest a root version's
    paper backup sheet prints, so the keyholders can compare the sheet in the
    safe with what they read. Several: the words cover all of them together, so
    root's own words are shown beside them for the sheet.
    """
    named = [f"{printable(role, 80)} v{version}" for role, (version, _data) in sorted(files.items())]
    if len(files) == 1:
        ((role, (version, _data)),) = files.items()
        lines = [f"These words cover the signed part of {named[0]} (SHA-256 of its canonical JSON)."]
        if role == "root":
            lines.append(f"The same words are printed on root v{version}'s paper backup sheet.")
        return lines
    lines = [f"These words cover every file of this change together: {', '.join(named)}."]
    if "root" in files:
        version, data = files["root"]
        lines.append(
            f"root v{version} alone (the words on its paper backup sheet): "
            + _diff.digest_words(hashlib.sha256(data).digest())
        )
    return lines


@dataclass(frozen=True)
class SigningKey:
    """A key that can sign now, as the signing screen lists it."""

    keyid: str
    label: str
    holder: str
    kind: str  # "passphrase" or "PIN"
    note: str = ""


@runtime_checkable
class SigningSubject(Protocol):
    """Something keyholders review and sign, one after another, until every threshold is met."""

    @property
    def step(self) -> str:
        """The step the ceremony is at ("review", "sign", ...)."""
        ...

    def build_root(self, now: datetime) -> tuple[list[str], str, str]:
        """What will be signed: diff lines (printable), digest hex and the words to read aloud."""
        ...

    def cover(self) -> list[str]:
        """What the words cover, named (``words_cover``), after ``build_root``."""
        ...

    def unsigned_summary(self) -> list[str]:
        """Lines from a file that are NOT covered by the words (shown apart, marked unsigned)."""
        ...

    def progress(self) -> list[ThresholdResult]:
        """Every threshold and where it stands."""
        ...

    def signing_keys(self) -> list[SigningKey]:
        """Keys held here that can still sign (empty: the keyholder names their own key)."""
        ...

    def sign(self, key: str, secret: str, now: datetime) -> list[ThresholdResult]:
        """One keyholder signs with ``key`` (a key id of ``signing_keys``, or their own KEYSPEC); verified at once."""
        ...


def describe_request(request: SignRequest) -> tuple[list[str], str, str]:
    """A request's diff lines, every one printable, with its digest in hex and as words."""
    lines, digest_hex, words = request.describe()
    return [printable(line) for line in lines], digest_hex, words


def request_summary(request: SignRequest) -> list[str]:
    """A request's own (unsigned) description, each line printable and cut to a line's length."""
    return [printable(line, MAX_TEXT) for line in request.summary]


def config_labels(config: object) -> dict[str, str]:
    """keyid -> label of the keys a config lists (a malformed entry falls back to the keyid's start)."""
    keys = config.get("keys") if isinstance(config, dict) else None
    if not isinstance(keys, dict):
        return {}
    return {
        keyid: entry["label"] if isinstance(entry, dict) and isinstance(entry.get("label"), str) else keyid[:12]
        for keyid, entry in keys.items()
    }


def check_request_matches(request: SignRequest, request_id: str, source: str) -> SignRequest:
    """The request a session keeps is the one it made, and can be written back as it was read.

    Raises:
        TamperedRequestError: the file holds another request.
        InputFileError: text in it has no UTF-8 form (a lone surrogate), so it could not be saved.
    """
    if request.id != request_id:
        raise TamperedRequestError(
            f"{source}: holds request {printable(request.id, 40)}, not {request_id}", source, "id"
        )
    try:
        dumps_pretty(request.raw)
    except UnicodeEncodeError as err:
        raise InputFileError(f"{source}: holds text that cannot be written back (not UTF-8)") from err
    return request


def request_cover(request: SignRequest) -> list[str]:
    """``words_cover`` of a sign request's proposed files."""
    return words_cover({role: (md.signed.version, _md.signed_bytes(md)) for role, md in request.metadata.items()})
