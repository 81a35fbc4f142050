"""notary_verify.verify_notary: every sample verifies; each client rule refuses, one line per case."""

from __future__ import annotations

import copy
import hashlib
from base64 import b64encode
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from ceremony.core import notary
from ceremony.core.notary_verify import verify_notary
from ceremony.errors import VerificationError

VECTOR = Path(__file__).resolve().parents[1] / "vectors" / "notary-v1"
FOLDERS = sorted(p for p in VECTOR.iterdir() if p.is_dir() and p.name != "keys")
# The samples were made 2026-12-01; the server's timestamps expire 14 days later.
AT = datetime(2026, 12, 2, tzinfo=UTC)
GUN = "registry.example:5000/org/test"
EXPIRES = "2030-01-01T00:00:00Z"


def _gun(folder: Path) -> str:
    lines = (folder / "SOURCE.txt").read_text().splitlines()
    return next(line.split(": ", 1)[1] for line in lines if line.startswith("gun: "))


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_every_sample_verifies(folder: Path) -> None:
    files = {p.name: p.read_bytes() for p in folder.glob("*.json")}
    report = verify_notary(files, _gun(folder), AT)
    assert {c.role for c in report.checks} >= {"root", "targets"}
    assert report.newest_root_version == 1


def test_a_sample_refuses_another_gun() -> None:
    files = {p.name: p.read_bytes() for p in (VECTOR / "server").glob("*.json")}
    with pytest.raises(VerificationError) as err:
        verify_notary(files, "registry.example:5000/org/other", AT)
    assert (err.value.file, err.value.check) == ("1.root.json", "certificate-cn")


def test_a_sample_after_the_timestamp_expired() -> None:
    files = {p.name: p.read_bytes() for p in (VECTOR / "server").glob("*.json")}
    with pytest.raises(VerificationError) as err:
        verify_notary(files, _gun(VECTOR / "server"), AT + timedelta(days=20))
    assert (err.value.file, err.value.check) == ("timestamp.json", "expiry")


def test_a_flipped_signature_without_a_snapshot() -> None:
    files = {p.name: p.read_bytes() for p in (VECTOR / "tz").glob("*.json")}
    with pytest.raises(VerificationError) as err:
        verify_notary(_flip(files, "targets.json"), _gun(VECTOR / "tz"), AT)
    assert (err.value.file, err.value.check) == ("targets.json", "threshold")


# --------------------------------------------------------------------------- a repository made here


def _raw_sign(private: ec.EllipticCurvePrivateKey, payload: bytes) -> bytes:
    r, s = decode_dss_signature(private.sign(payload, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _der(tag: int, body: bytes) -> bytes:
    size = len(body)
    width = (size.bit_length() + 7) // 8
    head = bytes([size]) if size < 128 else bytes([0x80 | width]) + size.to_bytes(width, "big")
    return bytes([tag]) + head + body


def _sha1_cert(private: ec.EllipticCurvePrivateKey) -> bytes:
    """A certificate signed with ecdsa-with-SHA1 (cryptography no longer makes one): the TBS re-signed by hand."""
    tbs = x509.load_pem_x509_certificate(_cert(private)).tbs_certificate_bytes
    sha256_id = _der(0x30, _der(0x06, bytes.fromhex("2a8648ce3d040302")))
    sha1_id = _der(0x30, _der(0x06, bytes.fromhex("2a8648ce3d0401")))
    inner = tbs[4:] if tbs[1] == 0x82 else tbs[3:]
    tbs = _der(0x30, inner.replace(sha256_id, sha1_id, 1))
    signature = private.sign(tbs, ec.ECDSA(hashes.SHA1()))  # noqa: S303 - the refused algorithm, on purpose
    der = _der(0x30, tbs + sha1_id + _der(0x03, b"\x00" + signature))
    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)


def _cert(
    private: ec.EllipticCurvePrivateKey,
    cn: str = GUN,
    days: tuple[int, int] = (-1, 3650),
    algorithm: Any = None,
    ca: bool = False,
) -> bytes:
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, cn)])
    now = datetime(2026, 12, 1, tzinfo=UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + timedelta(days=days[0]))
        .not_valid_after(now + timedelta(days=days[1]))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    return builder.sign(private, algorithm or hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


class Repo:
    """Root versions 1 and 2 (a rotation to a new key), timestamp, snapshot, targets and targets/releases."""

    def __init__(self) -> None:
        self.root_keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(2)]
        self.certs = [_cert(k) for k in self.root_keys]
        self.online = {r: ec.generate_private_key(ec.SECP256R1()) for r in ("targets", "snapshot", "timestamp", "rel")}
        self.roots = [self.root_dict([0]), self.root_dict([1])]
        self.root_signers: list[list[int]] = [[0], [0, 1]]

    def key_obj(self, index: int) -> dict[str, Any]:
        return notary.ecdsa_x509_key(self.certs[index])

    def online_obj(self, role: str) -> dict[str, Any]:
        spki = (
            self.online[role]
            .public_key()
            .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
        return notary.ecdsa_key(spki)

    def root_dict(self, indexes: list[int]) -> dict[str, Any]:
        listed = {notary.key_id(self.key_obj(i)): self.key_obj(i) for i in indexes}
        roles = {"root": {"keyids": sorted(listed), "threshold": 1}}
        for role in ("targets", "snapshot", "timestamp"):
            obj = self.online_obj(role)
            listed[notary.key_id(obj)] = obj
            roles[role] = {"keyids": [notary.key_id(obj)], "threshold": 1}
        return {"_type": "Root", "consistent_snapshot": False, "expires": EXPIRES, "keys": listed, "roles": roles}

    def signed_file(self, signed: dict[str, Any], signers: list[tuple[dict[str, Any], Any]]) -> bytes:
        payload = notary.signed_bytes(signed)
        sigs = [notary.NotarySignature(notary.key_id(obj), "ecdsa", _raw_sign(key, payload)) for obj, key in signers]
        return notary.file_bytes(signed, sigs)

    @staticmethod
    def meta(data: bytes) -> dict[str, Any]:
        return {
            "hashes": {"sha256": b64encode(hashlib.sha256(data).digest()).decode()},
            "length": len(data),
        }

    def files(
        self, edit: Callable[[Repo, dict[str, dict[str, Any]]], None] | None = None, wrong_hash: str = ""
    ) -> dict[str, bytes]:
        rel = self.online_obj("rel")
        signed: dict[str, dict[str, Any]] = {
            "1.root.json": {**self.roots[0], "version": 1},
            "2.root.json": {**self.roots[1], "version": 2},
            "targets.json": {
                "_type": "Targets",
                "delegations": {
                    "keys": {notary.key_id(rel): rel},
                    "roles": [
                        {"keyids": [notary.key_id(rel)], "name": "targets/releases", "paths": [""], "threshold": 1}
                    ],
                },
                "expires": EXPIRES,
                "targets": {},
                "version": 2,
            },
            "targets_releases.json": {
                "_type": "Targets",
                "delegations": {"keys": {}, "roles": []},
                "expires": EXPIRES,
                "targets": {},
                "version": 1,
            },
        }
        if edit is not None:
            edit(self, signed)
        out: dict[str, bytes] = {}
        for version in (1, 2):
            name = f"{version}.root.json"
            if name in signed:
                signers = [(self.key_obj(i), self.root_keys[i]) for i in self.root_signers[version - 1]]
                out[name] = self.signed_file(signed[name], signers)
        if "2.root.json" in out:
            out["root.json"] = out["2.root.json"]
        out["targets.json"] = self.signed_file(
            signed["targets.json"], [(self.online_obj("targets"), self.online["targets"])]
        )
        out["targets_releases.json"] = self.signed_file(signed["targets_releases.json"], [(rel, self.online["rel"])])
        snapshot = signed.get("snapshot.json") or {
            "_type": "Snapshot",
            "expires": EXPIRES,
            "meta": {
                "root": self.meta(out["root.json"]),
                "targets": self.meta(out["targets.json"]),
                "targets/releases": self.meta(out["targets_releases.json"]),
            },
            "version": 3,
        }
        if wrong_hash:
            snapshot["meta"][wrong_hash]["hashes"]["sha256"] = b64encode(bytes(32)).decode()
        out["snapshot.json"] = self.signed_file(snapshot, [(self.online_obj("snapshot"), self.online["snapshot"])])
        timestamp = {
            "_type": "Timestamp",
            "expires": EXPIRES,
            "meta": {"snapshot": self.meta(out["snapshot.json"])},
            "version": 4,
        }
        out["timestamp.json"] = self.signed_file(timestamp, [(self.online_obj("timestamp"), self.online["timestamp"])])
        return out


@pytest.fixture(scope="module")
def repo() -> Repo:
    return Repo()


def test_the_repository_made_here_verifies(repo: Repo) -> None:
    report = verify_notary(repo.files(), GUN, AT)
    assert report.newest_root_version == 2
    assert [c.file for c in report.checks] == [
        "1.root.json",
        "2.root.json",
        "timestamp.json",
        "snapshot.json",
        "targets.json",
        "targets_releases.json",
    ]


def _flip(files: dict[str, bytes], name: str) -> dict[str, bytes]:
    md = notary.parse(files[name], name)
    sig = md.signatures[0]
    flipped = notary.NotarySignature(sig.keyid, sig.method, bytes([sig.sig[0] ^ 1]) + sig.sig[1:])
    return {**files, name: notary.file_bytes(md.signed, [flipped])}


def _with_signers(repo: Repo, v2: list[int]) -> Repo:
    other = copy.copy(repo)
    other.root_signers = [[0], v2]
    return other


def _with_root_cert(repo: Repo, cert: bytes) -> Repo:
    other = copy.copy(repo)
    other.certs = [cert, repo.certs[1]]
    other.roots = [other.root_dict([0]), repo.roots[1]]
    return other


def _with_new_root_cert(repo: Repo, cert: bytes) -> Repo:
    """``cert`` for the key of root version 2 (the newest), whose certificates must be valid at ``at``."""
    other = copy.copy(repo)
    other.certs = [repo.certs[0], cert]
    other.roots = [repo.roots[0], other.root_dict([1])]
    return other


def _gap(repo: Repo) -> dict[str, bytes]:
    files = repo.files()
    three = notary.parse(files["2.root.json"], "x")
    three.signed["version"] = 3
    signers = [(repo.key_obj(i), repo.root_keys[i]) for i in (0, 1)]
    del files["2.root.json"]
    return {
        **files,
        "3.root.json": repo.signed_file(three.signed, signers),
        "root.json": repo.signed_file(three.signed, signers),
    }


REFUSALS: list[tuple[str, Callable[[Repo], dict[str, bytes]], str, str]] = [
    ("flipped timestamp signature", lambda r: _flip(r.files(), "timestamp.json"), "timestamp.json", "threshold"),
    ("rotation without the old threshold", lambda r: _with_signers(r, [1]).files(), "2.root.json", "rotation"),
    ("rotation without its self-signature", lambda r: _with_signers(r, [0]).files(), "2.root.json", "self-signature"),
    (
        "CN is not the GUN",
        lambda r: _with_root_cert(r, _cert(r.root_keys[0], cn="other/gun")).files(),
        "1.root.json",
        "certificate-cn",
    ),
    (
        "newest root's certificate expired at `at`",
        lambda r: _with_new_root_cert(r, _cert(r.root_keys[1], days=(-30, -1))).files(),
        "2.root.json",
        "certificate-expired",
    ),
    (
        "newest root's certificate not yet valid",
        lambda r: _with_new_root_cert(r, _cert(r.root_keys[1], days=(5, 90))).files(),
        "2.root.json",
        "certificate-expired",
    ),
    (
        "SHA-1 certificate",
        lambda r: _with_root_cert(r, _sha1_cert(r.root_keys[0])).files(),
        "1.root.json",
        "certificate-sha1",
    ),
    (
        "CA certificate as the leaf",
        lambda r: _with_root_cert(r, _cert(r.root_keys[0], ca=True)).files(),
        "1.root.json",
        "certificate-ca",
    ),
    ("snapshot hash mismatch", lambda r: r.files(wrong_hash="targets"), "targets.json", "hash"),
    ("root hash mismatch", lambda r: r.files(wrong_hash="root"), "root.json", "hash"),
    ("root version gap", _gap, "2.root.json", "gap"),
    (
        "N.root.json holds another version",
        lambda r: {**r.files(), "1.root.json": r.files()["2.root.json"]},
        "1.root.json",
        "version",
    ),
    (
        "snapshot missing",
        lambda r: {k: v for k, v in r.files().items() if k != "snapshot.json"},
        "snapshot.json",
        "missing",
    ),
]


@pytest.mark.parametrize(("case", "make", "file", "check"), REFUSALS, ids=[c[0] for c in REFUSALS])
def test_refusal(repo: Repo, case: str, make: Callable[[Repo], dict[str, bytes]], file: str, check: str) -> None:
    with pytest.raises(VerificationError) as err:
        verify_notary(make(repo), GUN, AT)
    assert (err.value.file, err.value.check) == (file, check), str(err.value)
    assert str(err.value).startswith(f"{file}: ")


def test_one_key_listed_twice_in_two_encodings_counts_once() -> None:
    """The same P-256 key as an uncompressed and a compressed SPKI is one key, so one signature cannot count twice."""
    from ceremony.core import notary_verify

    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    uncompressed = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    point = public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    # cryptography writes only the uncompressed SPKI: the compressed one is the same header and a 33-byte point.
    compressed = bytes.fromhex("3039301306072a8648ce3d020106082a8648ce3d030107032200") + point
    identities = [notary_verify._identity(notary.key_object("ecdsa", spki)) for spki in (uncompressed, compressed)]
    assert identities[0] is not None and identities[0] == identities[1]


def test_an_older_trusted_root_with_an_expired_certificate_still_rotates(repo: Repo) -> None:
    """As Go's ValidateRoot: a cached (trusted) root is taken as it is, and its certificates sign the rotation to
    the next root without an expiry check; only the newest root's certificates must be valid at ``at``."""
    expired = _with_root_cert(repo, _cert(repo.root_keys[0], days=(-30, -1)))
    report = verify_notary(expired.files(), GUN, AT)
    assert report.newest_root_version == 2
    cached = expired.files()["1.root.json"]  # as a client's cache it must be valid: Go fails hard loading it
    with pytest.raises(VerificationError) as err:
        verify_notary(expired.files(), GUN, AT, cached, cached=True)
    assert err.value.check == "certificate-expired"
    only_root = {"1.root.json": expired.files()["1.root.json"]}
    with pytest.raises(VerificationError) as err:
        verify_notary(only_root, GUN, AT)  # the same root as the newest: its certificate must be valid
    assert err.value.check == "certificate-expired"
