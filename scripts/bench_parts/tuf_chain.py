"""Anchor: python-tuf's client (TrustedMetadataSet, as ngclient uses it) walks a root chain from 1.root.json.

Usage: tuf_chain.py DIR   (prints the newest root version it reached)
"""

from __future__ import annotations

import sys
from pathlib import Path

from tuf.ngclient._internal.trusted_metadata_set import TrustedMetadataSet
from tuf.ngclient.config import EnvelopeType


def main() -> None:
    directory = Path(sys.argv[1])
    trusted = TrustedMetadataSet((directory / "1.root.json").read_bytes(), EnvelopeType.METADATA)
    version = 1
    while (path := directory / f"{version + 1}.root.json").exists():
        trusted.update_root(path.read_bytes())
        version += 1
    print(trusted.root.version)


if __name__ == "__main__":
    main()
