"""Anchor: a fresh interpreter makes a PNG of each QR payload with ``qrcode.make`` (qrcode's default path).

Usage: qrcode_make.py PAYLOADS_FILE OUT_DIR   (one payload per line, as zbarimg --raw printed them)
"""

from __future__ import annotations

import sys
from pathlib import Path

import qrcode


def main() -> None:
    payloads = Path(sys.argv[1]).read_text().splitlines()
    out = Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    for index, payload in enumerate(p for p in payloads if p):
        qrcode.make(payload).save(out / f"{index}.png")


if __name__ == "__main__":
    main()
