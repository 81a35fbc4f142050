"""Make a rotating root chain with python-tuf (the benchmark's input; no ceremony code).

Usage: make_chain.py KEYTYPE VERSIONS OUT_DIR   (KEYTYPE: ecdsa or ed25519)

Version 1 has five root keys and a threshold of three. Each later version
replaces one key, so every five versions the whole set has turned over, and is
signed by the key it drops and four of its own five keys: a threshold of the
previous root's keys and of its own, with one signature only the old root
counts. Written as 1.root.json ... N.root.json and root.json (the newest),
pretty-printed as python-tuf writes them.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import Metadata, Root
from tuf.api.serialization.json import JSONSerializer

ROLES = ("root", "timestamp", "snapshot", "targets")


def main() -> None:
    kind, versions, out = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    out.mkdir(parents=True, exist_ok=True)
    generate = {"ecdsa": CryptoSigner.generate_ecdsa, "ed25519": CryptoSigner.generate_ed25519}[kind]
    signers = [generate() for _ in range(5)]
    root = Root(expires=datetime.now(UTC).replace(microsecond=0) + timedelta(days=365))
    for signer in signers:
        for role in ROLES:
            root.add_key(signer.public_key, role)
    root.roles["root"].threshold = 3
    serializer = JSONSerializer(compact=False)
    md = Metadata(root)
    for signer in signers:
        md.sign(signer, append=True)
    (out / "1.root.json").write_bytes(md.to_bytes(serializer))
    for version in range(2, versions + 1):
        slot = version % 5
        retired, fresh = signers[slot], generate()
        for role in ROLES:
            root.revoke_key(retired.public_key.keyid, role)
            root.add_key(fresh.public_key, role)
        signers[slot] = fresh
        root.version = version
        md = Metadata(root)
        md.sign(retired, append=True)
        for offset in range(4):
            md.sign(signers[(slot + offset) % 5], append=True)
        (out / f"{version}.root.json").write_bytes(md.to_bytes(serializer))
    (out / "root.json").write_bytes(md.to_bytes(serializer))


if __name__ == "__main__":
    main()
