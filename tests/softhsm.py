"""Real SoftHSM2 tokens for tests: one SOFTHSM2_CONF and token directory per test.

Tokens are made with Debian's ``softhsm2-util``, outside the code under test,
the way an operator's tokens come to a ceremony. When SoftHSM is missing the
tests skip, unless CEREMONY_REQUIRE_HSM=1 (set by scripts/test), where they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

MODULE = os.environ.get("PYKCS11LIB", "/usr/lib/softhsm/libsofthsm2.so")
SO_PIN = "so-pin-12345678"
USER_PIN = "pin-4321"
CKF_USER_PIN_LOCKED = 0x00040000


def require_softhsm() -> None:
    missing = [
        what
        for what, ok in (("softhsm2-util", shutil.which("softhsm2-util")), (MODULE, Path(MODULE).is_file()))
        if not ok
    ]
    if missing:
        message = f"SoftHSM2 not installed ({', '.join(missing)} missing): apt-get install softhsm2"
        if os.environ.get("CEREMONY_REQUIRE_HSM") == "1":
            pytest.fail(message)
        pytest.skip(message)


@dataclass
class SoftHsm:
    """A private SoftHSM2 installation: its config, token directory and PIN files."""

    root: Path
    tokens: dict[str, str] = field(default_factory=dict)  # label -> serial

    @property
    def conf(self) -> Path:
        return self.root / "softhsm2.conf"

    @property
    def token_dir(self) -> Path:
        return self.root / "tokens"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "SOFTHSM2_CONF": str(self.conf)}

    @property
    def pin_file(self) -> Path:
        return self.root / "pin"

    def make_token(self, label: str, pin: str = USER_PIN) -> str:
        """Initialise a token with softhsm2-util; return its serial."""
        subprocess.run(
            ["softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", SO_PIN, "--pin", pin],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        )
        out = subprocess.run(
            ["softhsm2-util", "--show-slots"], env=self.env, check=True, capture_output=True, text=True
        ).stdout
        serial = None
        for block in out.split("Slot ")[1:]:
            lines = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in block.splitlines())}
            if lines.get("Label") == label:
                serial = lines["Serial number"]
        assert serial, out
        self.tokens[label] = serial
        return serial

    def uri(self, label: str, *, key: str | None = None, pin: bool = True) -> str:
        parts = [f"token={label}", f"serial={self.tokens[label]}"]
        if key:
            parts.append(f"object={key}")
        query = f"?module-path={MODULE}" + (f"&pin-source=file:{self.pin_file}" if pin else "")
        return "pkcs11:" + ";".join(parts) + query

    def token_path(self, label: str) -> Path:
        serial = self.tokens[label]
        # SoftHSM names a token's directory with a UUID whose last 16 hex digits are the serial.
        (match,) = [p for p in self.token_dir.iterdir() if p.name.replace("-", "").endswith(serial)]
        return match

    def lock_user_pin(self, label: str) -> None:
        """Make the token report CKF_USER_PIN_LOCKED, as a real token does after its retry limit.

        SoftHSM 2.6 never locks a PIN (upstream issue opendnssec/SoftHSMv2#399,
        won't fix), but it persists and reports token flags; this sets the flag in
        the token's own object file.
        """
        path = self.token_path(label) / "token.object"
        data = path.read_bytes()
        for flags in (0x42D, 0x1042D):
            old = struct.pack(">Q", flags)
            if data.count(old) == 1:
                path.write_bytes(data.replace(old, struct.pack(">Q", flags | CKF_USER_PIN_LOCKED)))
                return
        raise AssertionError("token flags not found in the SoftHSM token file")


def new_softhsm(root: Path) -> SoftHsm:
    require_softhsm()
    hsm = SoftHsm(root)
    hsm.token_dir.mkdir(parents=True)
    hsm.conf.write_text(f"directories.tokendir = {hsm.token_dir}\nobjectstore.backend = file\nlog.level = ERROR\n")
    hsm.pin_file.write_text(USER_PIN + "\n")
    return hsm


def probe_key(hsm: SoftHsm, token: str, key_label: str) -> dict:
    """Ask the token directly (a separate process, PyKCS11) what it allows for a private key."""
    code = r"""
import json, sys, PyKCS11
module, token, pin, label = sys.argv[1:5]
lib = PyKCS11.PyKCS11Lib(); lib.load(module)
slot = [s for s in lib.getSlotList(tokenPresent=True) if lib.getTokenInfo(s).label.strip() == token][0]
session = lib.openSession(slot, PyKCS11.CKF_SERIAL_SESSION | PyKCS11.CKF_RW_SESSION)
session.login(pin)
(key,) = session.findObjects([(PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY), (PyKCS11.CKA_LABEL, label)])
result = {}
value = session.getAttributeValue(key, [PyKCS11.CKA_VALUE])[0]
result["value_readable"] = value is not None
for name, attr, new in (("set_extractable", PyKCS11.CKA_EXTRACTABLE, True), ("clear_sensitive", PyKCS11.CKA_SENSITIVE, False)):
    try:
        session.setAttributeValue(key, [(attr, new)])
        result[name] = "allowed"
    except PyKCS11.PyKCS11Error as err:
        result[name] = PyKCS11.CKR[err.value]
names = ["CKA_EXTRACTABLE", "CKA_SENSITIVE", "CKA_DECRYPT", "CKA_UNWRAP", "CKA_DERIVE", "CKA_SIGN", "CKA_TOKEN", "CKA_PRIVATE"]
values = session.getAttributeValue(key, [getattr(PyKCS11, n) for n in names])
result["attributes"] = dict(zip(names, [bool(v) for v in values]))
print(json.dumps(result))
"""
    out = subprocess.run(
        [sys.executable, "-c", code, MODULE, token, USER_PIN, key_label],
        env=hsm.env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    import json

    return json.loads(out.stdout)


def keygen(cli: Any, hsm: SoftHsm, token: str, label: str, key_type: str = "ecdsa-p256") -> dict:
    """`ceremony hsm keygen ... --json` on a token, as an operator types it; the parsed record."""
    result = cli(
        "hsm",
        "keygen",
        "--token",
        hsm.uri(token, pin=False),
        "--label",
        label,
        "--key-type",
        key_type,
        "--pin-file",
        hsm.pin_file,
        "--json",
        env=hsm.env,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
