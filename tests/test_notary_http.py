"""notary_http against the real notary-server: fetch is what the server serves, publish uploads, each refusal one line.

A repository here is made two ways: by the stock client (init, publish, a delegation with a target), and
offline in this process (root and targets signed with keys made here, the server's timestamp and snapshot
keys named, as the offline workstation does it). The refusals are the server's own, read from its answers.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import socket
from base64 import b64encode
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from ceremony.core import notary
from ceremony.core.notary_bundle import Bundle, from_bytes, to_bytes
from ceremony.core.notary_http import PublishResult, fetch, publish, upload
from ceremony.errors import InputFileError, PolicyError, UsageError, VerificationError
from tests.notary import NotaryServer, notary_server

__all__ = ["notary_server"]  # the fixture, imported for pytest

EXPIRES = "2030-01-01T00:00:00Z"


def ok(result: CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"rc {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def one_line(err: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(err.value)
    assert "\n" not in message and "Traceback" not in message, message
    return message


# --------------------------------------------------------------------------- keys and files made here


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _raw_sign(key: ec.EllipticCurvePrivateKey, payload: bytes) -> bytes:
    r, s = decode_dss_signature(key.sign(payload, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _spki(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _certificate(key: ec.EllipticCurvePrivateKey, cn: str) -> bytes:
    """A self-signed leaf for ``cn``, valid from yesterday for ten years (notary's own template, roughly)."""
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, cn)])
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def _signed(signed: dict[str, Any], *signers: tuple[dict[str, Any], ec.EllipticCurvePrivateKey]) -> bytes:
    payload = notary.signed_bytes(signed)
    sigs = [notary.NotarySignature(notary.key_id(obj), "ecdsa", _raw_sign(key, payload)) for obj, key in signers]
    return notary.file_bytes(signed, sigs)


@dataclass
class Offline:
    """A repository signed here: root keys as certificates for the GUN, a targets key, the server's others."""

    server: NotaryServer
    gun: str
    keys: dict[str, dict[str, Any]]  # the server's timestamp and snapshot keys, as fetched
    root_key: ec.EllipticCurvePrivateKey = field(default_factory=_new_key)
    targets_key: ec.EllipticCurvePrivateKey = field(default_factory=_new_key)
    certs: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)  # one certificate per key and CN

    def obj(self, key: ec.EllipticCurvePrivateKey, cn: str = "") -> dict[str, Any]:
        """The root key object (ecdsa-x509) of ``key``, for the GUN unless ``cn`` says otherwise."""
        if (id(key), cn) not in self.certs:
            self.certs[id(key), cn] = notary.ecdsa_x509_key(_certificate(key, cn or self.gun))
        return self.certs[id(key), cn]

    @property
    def targets_obj(self) -> dict[str, Any]:
        return notary.ecdsa_key(_spki(self.targets_key))

    def root(
        self,
        version: int,
        keys: list[ec.EllipticCurvePrivateKey],
        signers: list[ec.EllipticCurvePrivateKey],
        *,
        cn: str = "",
        expires: str = EXPIRES,
        roles: dict[str, dict[str, Any]] | None = None,
    ) -> bytes:
        """Root ``version`` with ``keys`` as root keys (threshold 1), signed by ``signers``."""
        objs = [self.obj(k, cn) for k in keys]
        others = {"targets": self.targets_obj, **self.keys, **(roles or {})}
        signed = {
            "_type": "Root",
            "consistent_snapshot": False,
            "expires": expires,
            "keys": {notary.key_id(o): o for o in [*objs, *others.values()]},
            "roles": {
                "root": {"keyids": [notary.key_id(o) for o in objs], "threshold": 1},
                **{role: {"keyids": [notary.key_id(o)], "threshold": 1} for role, o in others.items()},
            },
            "version": version,
        }
        return _signed(signed, *[(self.obj(k, cn if k in keys else ""), k) for k in signers])

    def targets(
        self, version: int, names: tuple[str, ...] = (), key: ec.EllipticCurvePrivateKey | None = None
    ) -> bytes:
        meta = {"hashes": {"sha256": b64encode(hashlib.sha256(b"hello\n").digest()).decode()}, "length": 6}
        signed = {
            "_type": "Targets",
            "delegations": {"keys": {}, "roles": []},
            "expires": EXPIRES,
            "targets": {name: meta for name in names},
            "version": version,
        }
        return _signed(signed, (self.targets_obj, key or self.targets_key))

    def publish(self, files: dict[str, bytes]) -> PublishResult:
        return publish(Bundle("publish", self.gun, files), self.server.url, self.server.ca)

    def upload(self, files: dict[str, bytes]) -> None:
        upload(self.server.url, self.gun, files, self.server.ca)


def _offline(server: NotaryServer, name: str) -> Offline:
    gun = server.new_gun(name)
    bundle = fetch(server.url, gun, server.ca)
    assert bundle.files == {} and bundle.kind == "fetched"
    repo = Offline(server, gun, bundle.server_keys)
    result = repo.publish(
        {"root.json": repo.root(1, [repo.root_key], [repo.root_key]), "targets.json": repo.targets(1)}
    )
    assert [u.name for u in result.uploaded] == ["root.json", "targets.json"]
    return repo


@pytest.fixture(scope="module")
def offline(notary_server: NotaryServer) -> Offline:
    """Root version 1 and targets version 1, published from here; the server manages snapshot and timestamp."""
    return _offline(notary_server, "offline")


# --------------------------------------------------------------------------- fetch


def test_fetch_of_a_new_gun_is_the_servers_keys(notary_server: NotaryServer) -> None:
    gun = notary_server.new_gun("new")
    bundle = fetch(notary_server.url, gun, notary_server.ca)
    assert (bundle.kind, bundle.gun, bundle.files, bundle.server) == ("fetched", gun, {}, notary_server.url)
    assert {role: key["keytype"] for role, key in bundle.server_keys.items()} == {
        "timestamp": "ecdsa",
        "snapshot": "ecdsa",
    }
    assert from_bytes(to_bytes(bundle), "b") == bundle
    # Until a root is published, each request makes a new key (every one held by the signer).
    again = fetch(notary_server.url, gun, notary_server.ca)
    assert notary.key_id(again.server_keys["timestamp"]) != notary.key_id(bundle.server_keys["timestamp"])


def test_fetch_after_publishing_answers_the_roots_keys(offline: Offline) -> None:
    bundle = fetch(offline.server.url, offline.gun, offline.server.ca)
    root = notary.parse(bundle.files["root.json"], "root.json", "root").signed
    for role in ("timestamp", "snapshot"):
        assert root["roles"][role]["keyids"] == [notary.key_id(bundle.server_keys[role])]
    assert sorted(bundle.files) == ["1.root.json", "root.json", "snapshot.json", "targets.json", "timestamp.json"]


@dataclass
class Stock:
    """A repository made by the stock client, and the delegation key made here that it imported."""

    gun: str
    trust: Path
    releases_key: ec.EllipticCurvePrivateKey


def _stock(server: NotaryServer, top: Path, name: str) -> Stock:
    """init, a target, publish; then a delegation targets/releases (a key made here) with a target, publish."""
    trust, gun, key = top / "trust", server.new_gun(name), _new_key()
    ok(server.notary(trust, "init", gun))
    (top / "f.txt").write_text("hello\n")
    ok(server.notary(trust, "add", gun, "v1", top / "f.txt"))
    ok(server.notary(trust, "publish", gun))
    (top / "releases.crt").write_bytes(_certificate(key, "releases"))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    (top / "releases.pem").write_bytes(pem)
    ok(server.notary(trust, "delegation", "add", gun, "targets/releases", top / "releases.crt", "--all-paths"))
    ok(server.notary(trust, "key", "import", top / "releases.pem", "--role", "targets/releases"))
    ok(server.notary(trust, "add", gun, "rel/v2", top / "f.txt", "--roles", "targets/releases"))
    ok(server.notary(trust, "publish", gun))
    assert "rel/v2" in ok(server.notary(trust, "list", gun))  # the cache now holds what the server serves
    return Stock(gun, trust, key)


@pytest.fixture(scope="module")
def stock(notary_server: NotaryServer, tmp_path_factory: pytest.TempPathFactory) -> Stock:
    return _stock(notary_server, tmp_path_factory.mktemp("stock"), "stock")


def test_fetch_is_what_the_server_serves_and_the_stock_client_caches(notary_server: NotaryServer, stock: Stock) -> None:
    gun, trust = stock.gun, stock.trust
    bundle = fetch(notary_server.url, gun, notary_server.ca)
    assert sorted(bundle.files) == [
        "1.root.json",
        "root.json",
        "snapshot.json",
        "targets.json",
        "targets/releases.json",
        "timestamp.json",
    ]
    for name, data in bundle.files.items():
        assert notary_server.get(f"/v2/{gun}/_trust/tuf/{name}") == (200, data), name
    cache = trust / "tuf" / gun / "metadata"
    for name in ("root.json", "targets.json", "snapshot.json", "timestamp.json", "targets/releases.json"):
        assert (cache / name).read_bytes() == bundle.files[name], name
    assert bundle.note is None  # verified; nothing to say
    assert from_bytes(to_bytes(bundle), "b").files == bundle.files


def test_fetch_over_plain_http_of_a_tls_server(notary_server: NotaryServer, stock: Stock) -> None:
    with pytest.raises(InputFileError) as err:
        fetch(notary_server.url.replace("https://", "http://"), stock.gun, None)
    assert one_line(err).endswith("the server speaks TLS; give an https:// URL")


def test_tls_without_the_ca(notary_server: NotaryServer, stock: Stock) -> None:
    with pytest.raises(InputFileError) as err:
        fetch(notary_server.url, stock.gun, None)
    assert "the server's TLS certificate does not verify against the system's trusted CAs" in one_line(err)
    with pytest.raises(InputFileError) as err:
        fetch(notary_server.url, stock.gun, Path(__file__))
    assert "not a PEM CA certificate" in one_line(err)


def test_tls_with_another_ca(notary_server: NotaryServer, stock: Stock, tmp_path: Path) -> None:
    (tmp_path / "other-ca.crt").write_bytes(_certificate(_new_key(), "Other CA"))
    with pytest.raises(InputFileError) as err:
        fetch(notary_server.url, stock.gun, tmp_path / "other-ca.crt")
    assert f"does not verify against the CA in {tmp_path / 'other-ca.crt'} (" in one_line(err)


def test_network_and_url_refusals(notary_server: NotaryServer) -> None:
    gun = notary_server.new_gun()
    with socket.socket() as sock:  # a port that was free a moment ago and nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(InputFileError) as err:
        fetch(f"https://127.0.0.1:{port}", gun, notary_server.ca, timeout=5)
    assert "connection refused" in one_line(err)
    with socket.socket() as silent:  # listens (the kernel accepts the connection) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        with pytest.raises(InputFileError) as err:
            fetch(f"https://127.0.0.1:{silent.getsockname()[1]}", gun, notary_server.ca, timeout=0.3)
    assert "no answer within 0.3 seconds while reading timestamp.key" in one_line(err)
    for url, expected in [
        (f"http://user:pw@127.0.0.1:{notary_server.port}", "holds a user name or password"),
        (f"https://127.0.0.1:{notary_server.port}/?gun=x", "holds a query or fragment"),
        ("ftp://127.0.0.1", "must start with https://"),
    ]:
        with pytest.raises(UsageError) as err:
            fetch(url, gun, None)
        assert expected in one_line(err) and "pw" not in str(err.value)
    with pytest.raises(UsageError, match="plain http://, so a CA would not be used"):
        fetch(f"http://127.0.0.1:{notary_server.port}", gun, notary_server.ca)
    with pytest.raises(UsageError, match="is not a repository name"):
        fetch(notary_server.url, "registry.example/../other", notary_server.ca)


# --------------------------------------------------------------------------- publish


def test_publish_of_what_the_server_already_serves_sends_nothing(offline: Offline) -> None:
    files = fetch(offline.server.url, offline.gun, offline.server.ca).files
    result = offline.publish(files)
    assert result.uploaded == ()
    assert sorted(result.unchanged) == ["root.json", "snapshot.json", "targets.json"]
    assert [line.split(":")[0] for line in result.not_uploaded] == ["1.root.json", "timestamp.json"]
    assert result.report.newest_root_version == 1


def test_publish_a_rotation_and_new_targets(notary_server: NotaryServer, tmp_path: Path) -> None:
    repo = _offline(notary_server, "rotate")
    served = fetch(notary_server.url, repo.gun, notary_server.ca).files
    new_key = _new_key()
    root2 = repo.root(2, [new_key], [repo.root_key, new_key])
    bundle = {"1.root.json": served["1.root.json"], "root.json": root2, "targets.json": repo.targets(2, ("v1",))}
    result = repo.publish(bundle)
    assert [(u.name, u.role, u.version) for u in result.uploaded] == [
        ("root.json", "root", 2),
        ("targets.json", "targets", 2),
    ]
    assert result.uploaded[0].sha256 == hashlib.sha256(root2).hexdigest()
    assert result.unchanged == () and result.not_uploaded[0].startswith("1.root.json: the server keeps")
    assert [result.served[name] for name in ("root.json", "2.root.json", "targets.json")] == [2, 2, 2]
    assert result.after.files["2.root.json"] == root2 == result.after.files["root.json"]
    assert result.report.newest_root_version == 2 and result.report.trusted_root == "trusted root"
    assert "v1" in ok(notary_server.notary(tmp_path / "fresh", "list", repo.gun))  # the stock client takes it


def _resigned_releases(before: Bundle, key: ec.EllipticCurvePrivateKey) -> bytes:
    """targets/releases.json of ``before``, one version on and without targets, signed with ``key``."""
    old = notary.parse(before.files["targets/releases.json"], "targets/releases.json", "targets/releases")
    signed = {**old.signed, "version": notary.version(old) + 1, "targets": {}}
    delegated = notary.parse(before.files["targets.json"], "targets.json", "targets").signed["delegations"]
    (keyid,) = delegated["roles"][0]["keyids"]  # the stock client lists our key's certificate under its id
    payload = notary.signed_bytes(signed)
    sig = notary.NotarySignature(keyid, "ecdsa", _raw_sign(key, payload))
    assert notary.verify(delegated["keys"][keyid], sig, payload)
    return notary.file_bytes(signed, [sig])


def test_a_delegation_uploads_as_its_role(notary_server: NotaryServer, tmp_path: Path) -> None:
    """A stock repository, its snapshot made server-managed, gets a new targets/releases.json signed here."""
    stock = _stock(notary_server, tmp_path, "deleg")
    ok(notary_server.notary(stock.trust, "key", "rotate", stock.gun, "snapshot", "-r"))
    before = fetch(notary_server.url, stock.gun, notary_server.ca)
    releases = _resigned_releases(before, stock.releases_key)
    result = publish(
        Bundle("publish", stock.gun, {"targets/releases.json": releases}), notary_server.url, notary_server.ca
    )
    assert [(u.name, u.role) for u in result.uploaded] == [("targets/releases.json", "targets/releases")]
    assert result.after.files["targets/releases.json"] == releases
    assert "rel/v2" not in ok(notary_server.notary(tmp_path / "fresh", "list", stock.gun))  # a fresh client agrees


# --------------------------------------------------------------------------- refusals, one line each


def _own(key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    return notary.ecdsa_key(_spki(key))


Files = Callable[[Offline, ec.EllipticCurvePrivateKey], dict[str, bytes]]

# (id, the files published to root 1 + targets 1 with ``new`` a fresh key, the sentence, the server's words).
# ``{own}`` is the key id of ``new`` as an ecdsa key (shortened in the sentence, whole in the server's words).
REFUSALS: list[tuple[str, Files, str, str]] = [
    (
        "version skip",
        lambda o, new: {"root.json": o.root(3, [o.root_key], [o.root_key])},
        "notary server refused root.json: it is version 3, but the server holds root version 1; the next root must "
        "be version 2 (no version may be skipped or repeated)",
        "Root modifications must increment the version. Current 1, new 3",
    ),
    (
        "not signed by the current root",
        lambda o, new: {"root.json": o.root(2, [new], [new])},
        "notary server refused root.json: it is not signed by the current root's threshold of keys (1 of the 1 root "
        "keys of root version 1)",
        "could not rotate trust to a new trusted root: failed to validate data with current trusted certificates",
    ),
    (
        "not signed by its own keys",
        lambda o, new: {"root.json": o.root(2, [new], [o.root_key])},
        "notary server refused root.json: it is not signed by a threshold of its own root keys (1 of the 1 root keys "
        "it lists); a new root must also be signed by its new keys",
        "could not validate the path to a trusted root: failed to validate integrity of roots",
    ),
    (
        "certificate for another GUN",
        lambda o, new: {"root.json": o.root(2, [o.root_key], [o.root_key], cn="registry.example/other")},
        "notary server refused root.json: none of its root keys is a certificate it accepts for {gun} (an x509 leaf",
        "could not validate the path to a trusted root: unable to retrieve valid leaf certificates",
    ),
    (
        "expired root",
        lambda o, new: {"root.json": o.root(2, [o.root_key], [o.root_key], expires="2020-01-01T00:00:00Z")},
        "notary server refused root.json: it expired at Wed Jan 1 00:00:00 UTC 2020",
        "root expired at Wed Jan 1 00:00:00 UTC 2020",
    ),
    (
        "bad targets signature",
        lambda o, new: {"targets.json": o.targets(2, key=new)},
        "notary server refused targets.json: it is not signed by a threshold of the targets keys root.json names",
        "valid signatures did not meet threshold for targets",
    ),
    (
        "snapshot key not on the server",
        lambda o, new: {"root.json": o.root(2, [o.root_key], [o.root_key], roles={"snapshot": _own(new)})},
        "notary server refused the upload: it does not hold the snapshot key {own} that root.json names, so it "
        "cannot sign snapshot.json; add snapshot.json signed offline, or name the server's snapshot key",
        "rpc error: code = NotFound desc = key {own} not found",
    ),
    (
        "timestamp key not on the server",
        lambda o, new: {"root.json": o.root(2, [o.root_key], [o.root_key], roles={"timestamp": _own(new)})},
        "notary server refused the upload: it does not hold the timestamp key {own} that root.json names, so it "
        "cannot sign timestamp.json; the timestamp key must be the server's (GET timestamp.key)",
        "rpc error: code = NotFound desc = key {own} not found",
    ),
    (
        "repeated version",
        lambda o, new: {"targets.json": o.targets(1, ("other",))},
        "notary server refused the upload: it already holds this version or a newer one of a file uploaded "
        "(targets.json is version 1, the server's is 1); every changed file needs a version above the server's",
        "VERSION A newer version of metadata is already available.",
    ),
]


@pytest.mark.parametrize(("files", "sentence", "said"), [c[1:] for c in REFUSALS], ids=[c[0] for c in REFUSALS])
def test_the_server_refuses(offline: Offline, files: Files, sentence: str, said: str) -> None:
    new = _new_key()
    own = notary.key_id(_own(new))
    with pytest.raises(PolicyError) as err:
        offline.publish(files(offline, new))
    message = one_line(err)
    assert message.startswith(sentence.format(own=own[:16], gun=offline.gun)), message
    assert message.endswith(f'{said.format(own=own)}")') and ' (the server said: "' in message, message


def test_a_snapshot_signed_offline_needs_snapshot_json(notary_server: NotaryServer, stock: Stock) -> None:
    """The stock client signs its snapshot itself: a delegation alone cannot be published (the server would refuse)."""
    before = fetch(notary_server.url, stock.gun, notary_server.ca)
    releases = _resigned_releases(before, stock.releases_key)
    with pytest.raises(PolicyError) as err:
        publish(Bundle("publish", stock.gun, {"targets/releases.json": releases}), notary_server.url, notary_server.ca)
    assert one_line(err).startswith(
        "the bundle has no snapshot.json, so the server must sign the snapshot, but it does not hold the snapshot key"
    )
    after = fetch(notary_server.url, stock.gun, notary_server.ca).files
    assert after["targets/releases.json"] == before.files["targets/releases.json"]  # nothing was sent


def test_a_targets_key_change_without_targets(offline: Offline) -> None:
    other = dataclasses.replace(offline, targets_key=_new_key())
    with pytest.raises(PolicyError) as err:
        other.publish({"root.json": other.root(2, [offline.root_key], [offline.root_key])})
    assert one_line(err).startswith(
        f"root.json changes the targets key (from {notary.key_id(offline.targets_obj)[:16]} to "
        f"{notary.key_id(other.targets_obj)[:16]}), but the bundle has no new targets.json signed with it"
    )


def test_a_fetched_bundle_is_not_published(offline: Offline) -> None:
    bundle = fetch(offline.server.url, offline.gun, offline.server.ca)
    with pytest.raises(UsageError, match="a fetched bundle cannot be published"):
        publish(bundle, offline.server.url, offline.server.ca)


def test_a_file_not_in_gos_form_is_refused_and_what_the_server_takes_is_caught(notary_server: NotaryServer) -> None:
    repo = _offline(notary_server, "form")
    targets = json.dumps(json.loads(repo.targets(2, ("v1",))), indent=1).encode()  # same metadata, other bytes
    with pytest.raises(PolicyError) as err:
        repo.publish({"targets.json": targets})
    assert one_line(err).startswith("targets.json is not in the byte form Go's notary writes")
    repo.upload({"targets.json": targets})  # the server takes it, and hashes its own form into the snapshot
    with pytest.raises(VerificationError) as verr:
        fetch(notary_server.url, repo.gun, notary_server.ca)
    assert "does not verify: targets.json:" in one_line(verr) and verr.value.check in ("length", "hash")
    kept = fetch(notary_server.url, repo.gun, notary_server.ca, allow_unverified=True)
    assert kept.files["targets.json"] == targets
    assert kept.note is not None and kept.note.startswith("UNVERIFIED: the repository did not verify when fetched")
