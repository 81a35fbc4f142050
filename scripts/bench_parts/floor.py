"""Anchor: the crypto floor of verifying a root chain, with nothing but ``json`` and ``cryptography``, one core.

Usage: floor.py DIR   (prints the newest version and the number of valid signatures)

For each N+1.root.json: parse it, canonicalise ``signed`` (OLPC canonical JSON: sorted keys, no spaces, only
backslash and quote escaped), and verify, once each, the signatures by keys of root N's or root N+1's root
role: what a complete report ("k valid of n keys" for both thresholds) needs, and no more. Public keys are
parsed once. No structure, expiry, size or threshold checks: those are what the tool adds.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

_ESCAPE = re.compile(r'\\(u00[0-9a-f]{2}|["\\bfnrt])')
_RAW = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", '"': '\\"', "\\": "\\\\"}
_HASHES = {"ecdsa-sha2-nistp256": hashes.SHA256, "ecdsa-sha2-nistp384": hashes.SHA384}


def canonical(obj: object) -> bytes:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return _ESCAPE.sub(lambda m: chr(int(m[1][1:], 16)) if m[1][0] == "u" else _RAW[m[1]], text).encode()


def main() -> None:
    directory = Path(sys.argv[1])
    parsed: dict[str, object] = {}

    def key(keyid: str, obj: dict) -> object:
        if keyid not in parsed:
            public = obj["keyval"]["public"]
            if obj["keytype"] == "ed25519":
                parsed[keyid] = ed25519.Ed25519PublicKey.from_public_bytes(bytes.fromhex(public))
            else:
                parsed[keyid] = serialization.load_pem_public_key(public.encode())
        return parsed[keyid]

    previous = json.loads((directory / "1.root.json").read_bytes())
    version, valid = 1, 0
    while (path := directory / f"{version + 1}.root.json").exists():
        current = json.loads(path.read_bytes())
        payload = canonical(current["signed"])
        roles = [previous["signed"], current["signed"]]
        wanted = {k for s in roles for k in s["roles"]["root"]["keyids"]}
        keys = {**previous["signed"]["keys"], **current["signed"]["keys"]}
        for entry in current["signatures"]:
            if entry["keyid"] not in wanted:
                continue
            obj = keys[entry["keyid"]]
            public = key(entry["keyid"], obj)
            try:
                if obj["keytype"] == "ed25519":
                    public.verify(bytes.fromhex(entry["sig"]), payload)
                else:
                    public.verify(bytes.fromhex(entry["sig"]), payload, ec.ECDSA(_HASHES[obj["scheme"]]()))
                valid += 1
            except InvalidSignature:
                pass
        previous = current
        version += 1
    print(version, valid)


if __name__ == "__main__":
    main()
