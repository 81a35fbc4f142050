"""TUF dates: ``expires`` read loosely, as real repositories write it, and written in one strict form.

``parse_tuf_date`` accepts what published roots hold: an upper-case T, Z or
a UTC offset under 24 hours (Sigstore's first roots), and any fractional
seconds; python-tuf accepts only the strict form, and docs/interop.md lists
this looseness. ``format_date`` writes the ``YYYY-MM-DDTHH:MM:SSZ`` every
client parses, for metadata, transcripts and reports alike; ``parse_at``
reads an operator's ``--at``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from ceremony.core._text import printable
from ceremony.errors import UsageError, VerificationError

# RFC 3339 with an upper-case T and Z, or an offset (Sigstore's first roots), and any fractional seconds.
_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})\Z")


def parse_tuf_date(text: object, source: str) -> datetime:
    """Parse an ``expires`` value loosely: Z or an offset under 24 hours, any fractional seconds.

    Raises:
        VerificationError: not a date we can read.
    """
    match = _DATE.match(text) if isinstance(text, str) else None
    if match is None:
        raise VerificationError(
            f"{source}: 'expires' {printable(text, 80)!r} is not an RFC 3339 date", source, "format"
        )
    day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        if zone == "Z":
            tz = UTC
        else:
            sign = 1 if zone[0] == "+" else -1
            digits = zone[1:].replace(":", "")
            hours, minutes = int(digits[:2]), int(digits[2:])
            if minutes > 59:
                raise ValueError("offset minutes over 59")
            # timezone() itself refuses 24 hours or more (ValueError).
            tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
        parsed = datetime.fromisoformat(f"{day}T{hour}:{minute}:{second}").replace(microsecond=micro, tzinfo=tz)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError) as err:  # a bad field, or a date moved past year 1 or 9999
        raise VerificationError(
            f"{source}: 'expires' {printable(text, 80)!r} is not a valid date", source, "format"
        ) from err


def parse_at(text: str) -> datetime:
    """Parse a ``--at`` value: a date (midnight UTC) or a full RFC 3339 time.

    Raises:
        UsageError: not a date or time.
    """
    text = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        text += "T00:00:00Z"
    try:
        return parse_tuf_date(text, "--at")
    except VerificationError as err:
        raise UsageError(f"--at {printable(text, 80)!r} is not a date (YYYY-MM-DD) or an RFC 3339 time") from err


def format_date(value: datetime) -> str:
    """The strict ``YYYY-MM-DDTHH:MM:SSZ`` form every client parses."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
