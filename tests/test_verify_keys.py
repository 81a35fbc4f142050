"""Thresholds count keys, not keyids: one key listed under two keyids signs once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from securesystemslib.signer import CryptoSigner, Signature, SSlibKey

from ceremony.core._json import canonical_bytes
from ceremony.core.verify import verify_files
from ceremony.errors import VerificationError


def _root(keys: dict[str, SSlibKey], threshold: int) -> dict:
    expires = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    role = {"keyids": list(keys), "threshold": threshold}
    return {
        "_type": "root",
        "spec_version": "1.0.31",
        "version": 1,
        "expires": expires,
        "consistent_snapshot": False,
        "keys": {keyid: key.to_dict() for keyid, key in keys.items()},
        "roles": {name: role for name in ("root", "targets", "snapshot", "timestamp")},
    }


def _signed_file(signed: dict, signers: list[tuple[str, CryptoSigner]]) -> bytes:
    payload = canonical_bytes(signed)
    signatures = [{"keyid": keyid, "sig": signer.sign(payload).signature} for keyid, signer in signers]
    return json.dumps({"signed": signed, "signatures": signatures}).encode()


def test_one_key_under_two_keyids_does_not_meet_threshold_2() -> None:
    signer = CryptoSigner.generate_ed25519()
    key = signer.public_key
    twin = SSlibKey("f" * 64, key.keytype, key.scheme, dict(key.keyval))
    signed = _root({key.keyid: key, twin.keyid: twin}, threshold=2)
    data = _signed_file(signed, [(key.keyid, signer), (twin.keyid, signer)])
    with pytest.raises(VerificationError) as err:
        verify_files({"1.root.json": data}, None, datetime.now(UTC))
    assert err.value.check == "threshold" and err.value.file == "1.root.json"


def test_two_distinct_keys_meet_threshold_2() -> None:
    first, second = CryptoSigner.generate_ed25519(), CryptoSigner.generate_ed25519()
    keys = {s.public_key.keyid: s.public_key for s in (first, second)}
    signed = _root(keys, threshold=2)
    data = _signed_file(signed, [(s.public_key.keyid, s) for s in (first, second)])
    report = verify_files({"1.root.json": data}, None, datetime.now(UTC))
    assert report.newest_root_version == 1


def test_signature_keyid_not_in_role_is_ignored() -> None:
    signer, outsider = CryptoSigner.generate_ed25519(), CryptoSigner.generate_ed25519()
    signed = _root({signer.public_key.keyid: signer.public_key}, threshold=1)
    data = _signed_file(signed, [(outsider.public_key.keyid, outsider)])
    with pytest.raises(VerificationError) as err:
        verify_files({"1.root.json": data}, None, datetime.now(UTC))
    assert err.value.check == "threshold"


def test_signature_bytes_swapped_between_keyids_rejected() -> None:
    first, second = CryptoSigner.generate_ed25519(), CryptoSigner.generate_ed25519()
    keys = {s.public_key.keyid: s.public_key for s in (first, second)}
    signed = _root(keys, threshold=1)
    payload = canonical_bytes(signed)
    sigs = [
        Signature(first.public_key.keyid, second.sign(payload).signature),
        Signature(second.public_key.keyid, first.sign(payload).signature),
    ]
    data = json.dumps({"signed": signed, "signatures": [s.to_dict() for s in sigs]}).encode()
    with pytest.raises(VerificationError) as err:
        verify_files({"1.root.json": data}, None, datetime.now(UTC))
    assert err.value.check == "threshold"
