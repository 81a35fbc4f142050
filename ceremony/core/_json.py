"""Strict JSON input and canonical JSON output.

TUF signatures cover the canonical JSON form of ``signed`` rebuilt from the
parsed object, so anything that does not survive a parse/re-encode round trip
changes what a signature means: duplicate object keys (the last one silently
wins in most parsers) and floats (canonical JSON has none). Both are refused on
input, with the file named. Canonical encoding itself is securesystemslib's,
the same function python-tuf signs with.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NoReturn

from securesystemslib.formats import encode_canonical

from ceremony.errors import InputFileError


class _JsonRefusedError(ValueError):
    """Raised inside the parser hooks; turned into InputFileError with the file name."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """object_pairs_hook that refuses duplicate keys."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _JsonRefusedError(f"duplicate key {key!r} in a JSON object")
        result[key] = value
    return result


def _no_float(text: str) -> NoReturn:
    """parse_float hook: canonical JSON has no floats."""
    raise _JsonRefusedError(f"non-integer number {text} (canonical JSON allows integers only)")


def _no_constant(text: str) -> NoReturn:
    """parse_constant hook: NaN and Infinity are not JSON."""
    raise _JsonRefusedError(f"{text} is not valid JSON")


def loads_strict(data: bytes, source: str) -> Any:
    """Parse JSON bytes, refusing duplicate keys, floats and NaN.

    Args:
        data: the raw bytes.
        source: the file name (or other origin) used in the error message.

    Raises:
        InputFileError: the bytes are not UTF-8, not JSON, or not canonical-safe.

    Returns:
        The parsed value.
    """
    try:
        text = data.decode("utf-8")
        return json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_float=_no_float,
            parse_constant=_no_constant,
        )
    except UnicodeDecodeError as err:
        raise InputFileError(f"{source}: not UTF-8 text ({err.reason} at byte {err.start})") from err
    except _JsonRefusedError as err:
        raise InputFileError(f"{source}: {err}") from err
    except json.JSONDecodeError as err:
        raise InputFileError(f"{source}: not valid JSON ({err.msg} at line {err.lineno} column {err.colno})") from err
    except RecursionError as err:
        raise InputFileError(f"{source}: JSON nested too deeply") from err


def read_json(path: Path, what: str = "file") -> Any:
    """Read and strictly parse a JSON file, with errors that name it.

    Raises:
        InputFileError: the file is missing, unreadable or malformed.
    """
    return loads_strict(read_bytes(path, what), str(path))


def read_bytes(path: Path, what: str = "file") -> bytes:
    """Read a file, turning OS errors into one sentence that names it.

    Raises:
        InputFileError: the file is missing or unreadable.
    """
    try:
        return Path(path).read_bytes()
    except FileNotFoundError as err:
        raise InputFileError(f"{path}: {what} not found") from err
    except IsADirectoryError as err:
        raise InputFileError(f"{path}: is a directory, expected a {what}") from err
    except OSError as err:
        raise InputFileError(f"{path}: cannot read {what} ({err.strerror})") from err


def canonical_bytes(obj: Any) -> bytes:
    """Canonical JSON (OLPC form, as TUF signs it) of ``obj`` as UTF-8 bytes."""
    return encode_canonical(obj).encode("utf-8")


def dumps_pretty(obj: Any) -> bytes:
    """Readable, deterministic JSON for files we write that nobody signs."""
    return (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def read_secret_file(path: Path, what: str) -> str:
    """The first line of a passphrase or PIN file (drills and automation), without its newline.

    The secret never appears in the error: only the file and what is wrong with it.

    Raises:
        InputFileError: unreadable, not UTF-8, or empty.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise InputFileError(f"{path}: cannot read {what} file ({err.strerror})") from err
    except UnicodeDecodeError as err:
        raise InputFileError(f"{path}: {what} file is not UTF-8 text") from err
    line = text.splitlines()[0] if text else ""
    if not line:
        raise InputFileError(f"{path}: {what} file is empty")
    return line
