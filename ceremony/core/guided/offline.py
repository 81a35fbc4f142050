"""A keyholder signing a request file with their own key, away from the workspace (the TUI's ``sign`` screen).

The CLI's ``ceremony sign`` in a guided form: the same request checks, the
same computed diff and words, the keyholder's own KEYSPEC.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from pathlib import Path

from ceremony.core.guided.subject import (
    Progress,
    SigningKey,
    check_request_matches,
    describe_request,
    request_cover,
    request_summary,
)
from ceremony.core.requests import SignRequest, load_request, save_request, sign_request


class OfflineSigning:
    """A keyholder signing a request file with their own key, away from the workspace."""

    step = "sign"

    def __init__(self, path: Path, out: Path | None = None) -> None:
        self.path = Path(path)
        self.out = Path(out) if out else self.path
        self.saved = False

    def _current(self) -> Path:
        return self.out if self.saved else self.path

    def request(self) -> SignRequest:
        """The request (with the signatures made so far), checked again as it is read.

        Raises:
            InputFileError / TamperedRequestError: the request is malformed or was changed.
        """
        path = self._current()
        request = load_request(path)
        return check_request_matches(request, request.id, str(path))

    def build_root(self, now: datetime | None = None) -> tuple[list[str], str, str]:
        """What will be signed: diff lines (printable), digest hex and words."""
        return describe_request(self.request())

    def cover(self) -> list[str]:
        """What the words cover, named."""
        return request_cover(self.request())

    def unsigned_summary(self) -> list[str]:
        """The request's own description of the change: not signed, not covered by the words; printable."""
        return request_summary(self.request())

    def progress(self) -> list[Progress]:
        """Every threshold of the request."""
        return [s.named({}) for s in self.request().statuses()]

    def signing_keys(self) -> list[SigningKey]:
        """None listed: the keyholder names their own key file or token URI."""
        return []

    def sign(self, keyspec: str, secret: str, now: datetime) -> list[Progress]:
        """Sign with the keyholder's key (software file or pkcs11: URI), verify, and save the request.

        Raises:
            SigningKeyError: the key is not needed by this request, or signed already.
            PassphraseError / HsmError: unlocking failed.
        """
        request = self.request()
        with contextlib.ExitStack() as stack:
            sign_request(request, keyspec, lambda _n: secret, lambda _p: secret, stack)
        save_request(request, self.out)
        self.saved = True
        return self.progress()
