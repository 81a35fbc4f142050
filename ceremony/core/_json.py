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
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from securesystemslib.formats import encode_canonical

from ceremony.errors import InputFileError

#: The largest file read by default: python-tuf's largest metadata limit (targets, 5,000,000 bytes) and then some.
#: Callers with a tighter bound (root metadata, sign requests) pass their own.
MAX_FILE_BYTES = 16 * 1024 * 1024
#: Digits in one JSON integer. Versions, lengths and thresholds have a handful; a 4,300-digit number
#: (Python's own conversion limit) is an attack on the parser, refused before it costs anything.
MAX_INT_DIGITS = 40


class _JsonRefusedError(ValueError):
    """Raised inside the parser hooks; turned into InputFileError with the file name."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """object_pairs_hook that refuses duplicate keys."""
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _JsonRefusedError(f"duplicate key {key!r} in a JSON object")
            seen.add(key)
    return result


def _no_float(text: str) -> NoReturn:
    """parse_float hook: canonical JSON has no floats."""
    raise _JsonRefusedError(f"non-integer number {text} (canonical JSON allows integers only)")


def _bounded_int(text: str) -> int:
    """parse_int hook: integers of at most MAX_INT_DIGITS digits."""
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _JsonRefusedError(f"an integer of {len(text.lstrip('-'))} digits (at most {MAX_INT_DIGITS} are accepted)")
    return int(text)


def _no_constant(text: str) -> NoReturn:
    """parse_constant hook: NaN and Infinity are not JSON."""
    raise _JsonRefusedError(f"{text} is not valid JSON")


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _refuse_lone_surrogates(value: Any, source: str) -> None:
    """Refuse a string that UTF-8 cannot hold (a lone \\udXXX escape): nothing could write or sign it."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as err:
                raise InputFileError(f"{source}: a string holds a lone UTF-16 surrogate (not valid text)") from err
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


#: JavaScript's Number.MAX_SAFE_INTEGER: tuf-js parses integers as doubles, so larger ones change on re-encoding.
MAX_SAFE_INTEGER = 2**53 - 1


def loads_strict(data: bytes, source: str, *, unsafe_integers: list[int] | None = None) -> Any:
    """Parse JSON bytes, refusing duplicate keys, floats and NaN.

    Args:
        data: the raw bytes.
        source: the file name (or other origin) used in the error message.
        unsafe_integers: when given, every integer beyond MAX_SAFE_INTEGER (either sign) is appended to it,
            for a caller that refuses them (metadata: tuf-js could not check its signatures); noted while
            parsing, so that nobody walks the whole value again to look for them.

    Raises:
        InputFileError: the bytes are not UTF-8, not JSON, or not canonical-safe.

    Returns:
        The parsed value.
    """
    try:
        text = data.decode("utf-8")
        parse_int: Callable[[str], int] = _bounded_int
        if unsafe_integers is not None:

            def noting_unsafe(digits: str) -> int:
                number = _bounded_int(digits)
                if abs(number) > MAX_SAFE_INTEGER:
                    unsafe_integers.append(number)
                return number

            parse_int = noting_unsafe

        value = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_float=_no_float,
            parse_int=parse_int,
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
    except ValueError as err:  # the parser's own limits (int conversion and the like), one line
        raise InputFileError(f"{source}: not acceptable JSON ({err})") from err
    if _SURROGATE_ESCAPE.search(text):
        _refuse_lone_surrogates(value, source)
    return value


def read_json(path: Path, what: str = "file", limit: int = MAX_FILE_BYTES) -> Any:
    """Read and strictly parse a JSON file, with errors that name it.

    Raises:
        InputFileError: the file is missing, unreadable, not a regular file, too large or malformed.
    """
    return loads_strict(read_bytes(path, what, limit), str(path))


def _unreadable(path: Path | str, what: str, err: OSError) -> InputFileError:
    """The one sentence for a file the operating system would not let us read."""
    return InputFileError(f"{path}: cannot read {what} ({err.strerror})")


def _missing(path: Path | str, what: str) -> InputFileError:
    """The one sentence for a name that leads to no file."""
    kind = "a dangling symbolic link" if os.path.islink(path) else f"{what} not found"
    return InputFileError(f"{path}: {kind}")


def _require_regular_mode(path: Path | str, what: str, mode: int) -> None:
    """Refuse a directory, a FIFO, a socket or a device where a regular file is expected.

    Raises:
        InputFileError: ``mode`` is not a regular file's.
    """
    if stat.S_ISDIR(mode):
        raise InputFileError(f"{path}: is a directory, expected a {what}")
    if not stat.S_ISREG(mode):
        raise InputFileError(f"{path}: not a regular file (a FIFO, socket or device); expected a {what}")


def require_regular_file(path: Path, what: str = "file") -> None:
    """Refuse ``path`` unless it is (or links to) a regular file, without opening it, in read_bytes' words: for
    a directory checked whole before any of its files is read.

    Raises:
        InputFileError: missing (or a dangling link), looping, unreadable, or not a regular file.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError as err:
        raise _missing(path, what) from err
    except OSError as err:
        raise _unreadable(path, what, err) from err
    _require_regular_mode(path, what, mode)


def read_bytes(path: Path, what: str = "file", limit: int = MAX_FILE_BYTES, follow_symlinks: bool = True) -> bytes:
    """Read a regular file of at most ``limit`` bytes, turning OS errors into one sentence that names it.

    The file is opened without blocking and checked to be a regular file
    before anything is read, so a FIFO or a device given as an input is
    refused instead of hanging the command or reading forever; at most
    ``limit`` + 1 bytes are read, so a huge file costs nothing.

    Raises:
        InputFileError: missing, unreadable, a directory or other non-regular file,
            a symbolic link when ``follow_symlinks`` is false, or larger than ``limit``.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except FileNotFoundError as err:
        raise _missing(path, what) from err
    except OSError as err:
        if not follow_symlinks and os.path.islink(path):
            raise InputFileError(f"{path}: is a symbolic link; {what}s are read only from regular files") from err
        raise _unreadable(path, what, err) from err
    try:
        _require_regular_mode(path, what, os.fstat(fd).st_mode)
        os.set_blocking(fd, True)
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as err:
        raise _unreadable(path, what, err) from err
    finally:
        os.close(fd)
    if size > limit:
        raise InputFileError(f"{path}: {what} is larger than {limit:,} bytes; refused")
    return b"".join(chunks)


#: In json.dumps' output every backslash starts an escape; canonical JSON keeps only two of them (\\ and \").
_JSON_ESCAPE = re.compile(r'\\(u00[0-9a-f]{2}|["\\bfnrt])')
_UNESCAPE = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", '"': '\\"', "\\": "\\\\"}


def _unescape(match: re.Match[str]) -> str:
    token = match.group(1)
    return chr(int(token[1:], 16)) if token[0] == "u" else _UNESCAPE[token]


def _plain_json(obj: Any) -> bool:
    """True when ``obj`` holds only what canonical JSON encodes: objects with string keys, lists, strings,
    integers, booleans and null (no floats, no other types)."""
    stack = [obj]
    seen: set[int] = set()  # a container met twice (shared or circular) goes the slow way
    while stack:
        value = stack.pop()
        kind = type(value)
        if kind is dict or kind is list or kind is tuple:
            if id(value) in seen:
                return False
            seen.add(id(value))
        if kind is dict:
            if not all(type(k) is str for k in value):
                return False
            stack.extend(value.values())
        elif kind is list or kind is tuple:
            stack.extend(value)
        elif kind is not str and kind is not int and kind is not bool and value is not None:
            return False
    return True


def canonical_bytes(obj: Any, *, parsed: bool = False) -> bytes:
    """Canonical JSON (OLPC form, as TUF signs it) of ``obj`` as UTF-8 bytes.

    The same bytes as securesystemslib's ``encode_canonical`` (which python-tuf signs with), made by the C
    encoder of ``json`` when ``obj`` holds only plain JSON values: sorted keys, no spaces, raw UTF-8, and of
    json's escapes only backslash and quote kept (canonical JSON writes control characters as they are).
    Verifying a 1,000-version root chain canonicalises 1,000 files; securesystemslib's pure-Python encoder was a
    sixth of that time. Anything else (a float, an unknown type) goes to ``encode_canonical`` and is refused there
    as before. tests/core/test_json.py holds the two to the same output. ``parsed``: ``obj`` is (part of) what
    ``loads_strict`` returned, which holds nothing else, so the walk that makes sure is skipped.
    """
    if parsed or _plain_json(obj):
        text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, check_circular=False)
        if "\\" in text:
            text = _JSON_ESCAPE.sub(_unescape, text)
        return text.encode("utf-8")
    parts: list[str] = []
    encode_canonical(obj, parts.append)  # the pieces of the text it would return (then typed str | None)
    return "".join(parts).encode("utf-8")


def dumps_pretty(obj: Any) -> bytes:
    """Readable, deterministic JSON for files we write that nobody signs."""
    return (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def read_secret_file(path: Path, what: str) -> str:
    """The first line of a passphrase or PIN file (drills and automation), without its newline.

    The secret never appears in the error: only the file and what is wrong with it.

    Raises:
        InputFileError: unreadable, not UTF-8, or empty.
    """
    data = read_bytes(path, f"{what} file", limit=64 * 1024)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputFileError(f"{path}: {what} file is not UTF-8 text") from err
    line = text.splitlines()[0] if text else ""
    if not line:
        raise InputFileError(f"{path}: {what} file is empty")
    return line
