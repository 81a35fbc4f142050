"""Run ``ceremony ARGS`` with PyKCS11's session, login and sign calls counted and the signing timed.

Usage: pkcs11_calls.py OUT_JSON ARGS...   (writes {"sessions", "logins", "signatures", "sign_seconds"})

What the benchmark's token figure needs from inside the process: how many sessions and logins a command opens
to sign (the goal: one of each, not one per signature) and the time spent in the token's own C_Sign.
"""

from __future__ import annotations

import atexit
import json
import sys
import time
from pathlib import Path

import PyKCS11

counts = {"sessions": 0, "logins": 0, "signatures": 0, "sign_seconds": 0.0}
_open, _login, _sign = PyKCS11.PyKCS11Lib.openSession, PyKCS11.Session.login, PyKCS11.Session.sign


def _counted_open(self: object, *args: object, **kwargs: object) -> object:
    counts["sessions"] += 1
    return _open(self, *args, **kwargs)


def _counted_login(self: object, *args: object, **kwargs: object) -> object:
    counts["logins"] += 1
    return _login(self, *args, **kwargs)


def _timed_sign(self: object, *args: object, **kwargs: object) -> object:
    start = time.perf_counter()
    try:
        return _sign(self, *args, **kwargs)
    finally:
        counts["signatures"] += 1
        counts["sign_seconds"] += time.perf_counter() - start


PyKCS11.PyKCS11Lib.openSession = _counted_open
PyKCS11.Session.login = _counted_login
PyKCS11.Session.sign = _timed_sign
OUT = Path(sys.argv[1])
atexit.register(lambda: OUT.write_text(json.dumps(counts)))

from ceremony.cli import main  # noqa: E402 - after the calls are wrapped

sys.argv = ["ceremony", *sys.argv[2:]]
main()
