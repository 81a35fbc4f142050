"""_json.canonical_bytes: the same bytes as securesystemslib's encode_canonical, which python-tuf signs with."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from securesystemslib.exceptions import FormatError
from securesystemslib.formats import encode_canonical

from ceremony.core._json import canonical_bytes

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
# Every character class json.dumps treats specially (controls, quote, backslash, DEL, separators of other
# languages, astral planes), and text that looks like an escape.
_ALPHABET = [chr(c) for c in range(0x20)] + ['"', "\\", "/", "\x7f", "\u2028", "\u00e9", "\U0001f511", "u", "0", "n"]


def _reference(obj: object) -> bytes:
    text = encode_canonical(obj)
    assert text is not None
    return text.encode("utf-8")


def _value(rng: random.Random, depth: int) -> object:
    kind = rng.randrange(8 if depth < 4 else 5)
    if kind == 0:
        return "".join(rng.choice(_ALPHABET) for _ in range(rng.randrange(12)))
    if kind == 1:
        return rng.choice([0, -1, 2**53 - 1, -(2**63), 10**30, rng.randrange(-1000, 1000)])
    if kind == 2:
        return rng.choice([True, False])
    if kind == 3:
        return None
    if kind == 4:
        return "\\u00" + "".join(rng.choice("0123456789abcdef") for _ in range(2))
    if kind in (5, 6):
        keys = ["".join(rng.choice(_ALPHABET) for _ in range(rng.randrange(6))) for _ in range(rng.randrange(5))]
        return {key: _value(rng, depth + 1) for key in keys}
    return [_value(rng, depth + 1) for _ in range(rng.randrange(5))]


def test_random_values_encode_as_securesystemslib_does() -> None:
    rng = random.Random(458)
    for _ in range(3000):
        obj = _value(rng, 0)
        assert canonical_bytes(obj) == _reference(obj), repr(obj)


def test_every_published_metadata_file_encodes_as_securesystemslib_does() -> None:
    files = sorted(VECTORS.rglob("*.json"))
    assert len(files) > 20
    for path in files:
        try:
            obj = json.loads(path.read_bytes())
        except ValueError:
            continue
        signed = obj.get("signed", obj) if isinstance(obj, dict) else obj
        assert canonical_bytes(signed) == _reference(signed), path


def test_what_canonical_json_cannot_hold_is_refused_as_before() -> None:
    for bad in ({"a": 1.5}, [float("nan")], {"a": object()}):
        with pytest.raises(FormatError):
            canonical_bytes(bad)
    with pytest.raises(AttributeError):  # a key that is not a string, as encode_canonical fails on it
        canonical_bytes({1: "int key"})
    with pytest.raises(UnicodeEncodeError):  # a lone surrogate has no UTF-8 form
        canonical_bytes({"a": "\ud800"})


def test_shared_and_tuple_values_still_encode() -> None:
    shared = {"k": "v\n"}
    obj = {"a": shared, "b": shared, "c": ("x", 1)}
    assert canonical_bytes(obj) == _reference(obj) == b'{"a":{"k":"v\n"},"b":{"k":"v\n"},"c":["x",1]}'
