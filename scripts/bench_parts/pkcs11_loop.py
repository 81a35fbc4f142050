"""Anchor: a token's own signing rate. One session, one login, N ECDSA signatures over N SHA-256 digests.

Usage: pkcs11_loop.py MODULE TOKEN_LABEL KEY_LABEL PIN_FILE N OUT_JSON   (writes {"signatures", "sign_seconds"})
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

import PyKCS11


def main() -> None:
    module, token, label, pin_file, count, out = sys.argv[1:7]
    lib = PyKCS11.PyKCS11Lib()
    lib.load(module)
    slot = next(s for s in lib.getSlotList(tokenPresent=True) if lib.getTokenInfo(s).label.strip() == token)
    session = lib.openSession(slot, PyKCS11.CKF_SERIAL_SESSION)
    session.login(Path(pin_file).read_text().splitlines()[0])
    (key,) = session.findObjects([(PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY), (PyKCS11.CKA_LABEL, label)])
    mechanism = PyKCS11.Mechanism(PyKCS11.CKM_ECDSA, None)
    digests = [hashlib.sha256(b"bin %d" % i).digest() for i in range(int(count))]
    start = time.perf_counter()
    for digest in digests:
        session.sign(key, digest, mechanism)
    elapsed = time.perf_counter() - start
    session.logout()
    session.closeSession()
    Path(out).write_text(json.dumps({"signatures": len(digests), "sign_seconds": elapsed}))


if __name__ == "__main__":
    main()
