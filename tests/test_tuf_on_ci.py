"""tuf-on-ci signing events: a root change authored with ceremony, signed by ceremony and by the real tuf-on-ci-sign.

The repository is made the way tuf-on-ci makes one (python-tuf's Metadata API, key ids over the whole key with
its x-tuf-on-ci fields, JSONSerializer bytes), kept in git with a local bare remote, and signed by keyholders
in their own clones: one with `ceremony sign --tuf-on-ci` (a software key, or a SoftHSM token key), one with
tuf-on-ci-sign 0.21 (file2: key, run non-interactively). The oracle for "what tuf-on-ci writes" is tuf-on-ci's
own SignerRepository.close(), run in a subprocess on the same change. Sigstore's real chain
(tests/vectors/sigstore-root-signing) is laid out as a checkout and v16 is proposed and partly signed on it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from securesystemslib.formats import encode_canonical
from securesystemslib.signer import CryptoSigner, Signature, SSlibKey
from tuf.api.metadata import Metadata, MetaFile, Root, Snapshot, TargetFile, Targets, Timestamp
from tuf.api.serialization.json import JSONSerializer

from tests import softhsm
from tests.conftest import PASSPHRASE, VECTOR_DATES, CliRunner, _run, one_line_error
from tests.test_import import tuf_on_ci_checkout

# tuf-on-ci-sign lives in a venv of its own, as on a keyholder's machine (scripts/test installs it from
# scripts/lock/requirements-tuf-on-ci.txt): its cloud-KMS extras must not reach ceremony's venv.
TOC_VENV = Path(__file__).resolve().parent.parent / ".venv-tuf-on-ci"
TOC_SIGN = TOC_VENV / "bin" / "tuf-on-ci-sign"
TOC_PYTHON = TOC_VENV / "bin" / "python"


@pytest.fixture(autouse=True, scope="module")
def _tuf_on_ci_sign_installed() -> None:
    if not TOC_SIGN.is_file():
        pytest.fail(f"tuf-on-ci-sign is not installed in {TOC_VENV}: scripts/test installs it")


EVENT = "sign/root-v2"

# tuf-on-ci's own close() on the same change: the bytes it would write (run in a subprocess, as tuf-on-ci runs).
ORACLE = r"""
import json, sys
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from securesystemslib.signer import SSlibKey
from tuf_on_ci_sign._signer_repository import SignerRepository, set_key_field
from tuf_on_ci_sign._user import User
event_dir, prev_dir, ini, change = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
repo = SignerRepository(event_dir, prev_dir, User(ini))
with repo.edit_root() as root:
    for owner in change["revoke"]:
        for keyid in list(root.roles["root"].keyids):
            if root.keys[keyid].unrecognized_fields.get("x-tuf-on-ci-keyowner") == owner:
                root.revoke_key(keyid, "root")
    for pem, owner in change["add"]:
        key = SSlibKey.from_crypto(load_pem_public_key(open(pem, "rb").read()))
        set_key_field(key, "keyowner", owner)
        root.add_key(key, "root")
    if change.get("threshold"):
        root.roles["root"].threshold = change["threshold"]
"""


# --------------------------------------------------------------------------- helpers


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stderr + result.stdout
    return result


def keyid(key: SSlibKey) -> str:
    return hashlib.sha256(encode_canonical(key.to_dict()).encode()).hexdigest()


def tagged(public: SSlibKey, field: str, value: str) -> SSlibKey:
    """A key as tuf-on-ci stores it: the x- field set, the key id recomputed over the whole key."""
    key = SSlibKey(public.keyid, public.keytype, public.scheme, dict(public.keyval), {field: value})
    key.keyid = keyid(key)
    return key


def write_role(md_dir: Path, role: str, md: Metadata) -> None:
    data = md.to_bytes(JSONSerializer())  # exactly what tuf-on-ci writes
    (md_dir / f"{role}.json").write_bytes(data)
    if role == "root":
        (md_dir / "root_history" / f"{md.signed.version}.root.json").write_bytes(data)


def p12_signer(path: Path, public: SSlibKey) -> CryptoSigner:
    private, _cert, _extra = pkcs12.load_key_and_certificates(path.read_bytes(), PASSPHRASE.encode())
    return CryptoSigner(private, public)


def public_of(pem_path: Path) -> SSlibKey:
    return SSlibKey.from_crypto(serialization.load_pem_public_key(pem_path.read_bytes()))


def own_key(directory: Path, name: str, passphrase_file: Path) -> Path:
    """A keyholder's own key made by `ceremony key generate` (encrypted .p12, and .p12.pub.pem)."""
    path = directory / f"{name}.p12"
    ok(_run("key", "generate", path, "--key-type", "ecdsa-p256", "--passphrase-file", passphrase_file))
    return path


@pytest.fixture(scope="module")
def keyring(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Keyholders' own keys, made once (each costs a PBKDF2 of 600,000 rounds): name -> .p12 (and name.pub).

    ``bob.pem`` is bob's key unencrypted: tuf-on-ci-sign's file2: signer reads only that (the oracle's need).
    """
    top = tmp_path_factory.mktemp("keyring")
    passphrase = top / "passphrase"
    passphrase.write_text(PASSPHRASE + "\n")
    ring: dict[str, Path] = {}
    for name in ("alice", "bob", "carol", "newholder", "stranger"):
        ring[name] = own_key(top, name, passphrase)
        ring[f"{name}.pub"] = ring[name].with_name(f"{name}.p12.pub.pem")
    private, _cert, _extra = pkcs12.load_key_and_certificates(ring["bob"].read_bytes(), PASSPHRASE.encode())
    assert private is not None
    ring["bob.pem"] = top / "bob.pem"
    ring["bob.pem"].write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return ring


def make_repository(md_dir: Path, keyring: dict[str, Path], legacy_alice: bool = False) -> dict[str, SSlibKey]:
    """Version 1 of a repository as tuf-on-ci makes one: root 2 of @alice and @bob, targets 1 of them, online key.

    ``legacy_alice``: @alice's key as an imported repository has it, with no owner (its id: the spec's hash).
    """
    (md_dir / "root_history").mkdir(parents=True)
    now = datetime.now(UTC).replace(microsecond=0)
    alice = tagged(public_of(keyring["alice.pub"]), "x-tuf-on-ci-keyowner", "@alice")
    if legacy_alice:
        alice = public_of(keyring["alice.pub"])
        alice.keyid = keyid(alice)
    bob = tagged(public_of(keyring["bob.pub"]), "x-tuf-on-ci-keyowner", "@bob")
    online_signer = CryptoSigner.generate_ecdsa()
    online = tagged(online_signer.public_key, "x-tuf-on-ci-online-uri", "gcpkms:projects/test/keys/online")
    signers = {
        "alice": p12_signer(keyring["alice"], alice),
        "bob": p12_signer(keyring["bob"], bob),
        "online": CryptoSigner(online_signer._private_key, online),
    }
    root = Root(version=1, expires=now + timedelta(days=365), consistent_snapshot=True)
    root.unrecognized_fields.update({"x-tuf-on-ci-expiry-period": 365, "x-tuf-on-ci-signing-period": 60})
    for key in (alice, bob):
        root.add_key(key, "root")
        root.add_key(key, "targets")
    root.add_key(online, "timestamp")
    root.add_key(online, "snapshot")
    root.roles["root"].threshold = 2
    root.roles["targets"].threshold = 1
    for role, (expiry, signing) in {"timestamp": (7, 6), "snapshot": (365, 60)}.items():
        root.roles[role].unrecognized_fields.update(
            {"x-tuf-on-ci-expiry-period": expiry, "x-tuf-on-ci-signing-period": signing}
        )
    root_md = Metadata(root)
    root_md.sign(signers["alice"], append=True)
    root_md.sign(signers["bob"], append=True)
    write_role(md_dir, "root", root_md)
    targets = Targets(version=1, expires=now + timedelta(days=365))
    targets.unrecognized_fields.update({"x-tuf-on-ci-expiry-period": 365, "x-tuf-on-ci-signing-period": 60})
    targets_md = Metadata(targets)
    targets_md.signatures[alice.keyid] = Signature(alice.keyid, "")
    targets_md.signatures[bob.keyid] = Signature(bob.keyid, "")
    targets_md.sign(signers["alice"], append=True)
    write_role(md_dir, "targets", targets_md)
    snapshot = Snapshot(version=1, expires=now + timedelta(days=365))
    snapshot.meta["targets.json"] = MetaFile(1)
    snapshot_md = Metadata(snapshot)
    snapshot_md.sign(signers["online"])
    write_role(md_dir, "snapshot", snapshot_md)
    timestamp = Timestamp(version=1, expires=now + timedelta(days=7), snapshot_meta=MetaFile(1))
    timestamp_md = Metadata(timestamp)
    timestamp_md.sign(signers["online"])
    write_role(md_dir, "timestamp", timestamp_md)
    return {"alice": alice, "bob": bob, "online": online}


def git(*args: str | os.PathLike[str], cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(["git", *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"git {args}: {result.stderr}"
    return result.stdout


@pytest.fixture
def toc_env(tmp_path: Path) -> dict[str, str]:
    """git identity, and tuf-on-ci-sign kept offline: its PyPI version check reads a fresh cache file instead."""
    env = {
        **os.environ,
        "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"),
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "GIT_CONFIG_GLOBAL": str(tmp_path / "gitconfig"),
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    (tmp_path / "gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    cache = tmp_path / "xdg-cache" / "tuf-on-ci-sign"
    cache.mkdir(parents=True)
    (cache / "pypi_release_version").write_text("0.21.0")
    return env


def settings(clone: Path, user: str, keys: dict[str, Path] | None = None) -> None:
    """A keyholder's .tuf-on-ci-sign.ini (file2: keys only where tuf-on-ci-sign must sign)."""
    lines = [
        "[settings]",
        f"user-name = {user}",
        "push-remote = origin",
        "pull-remote = origin",
        "pykcs11lib = /nonexistent/libykcs11.so",
        "",
        "[signing-keys]",
    ]
    lines += [f"{kid} = file2:{path}" for kid, path in (keys or {}).items()]
    (clone / ".tuf-on-ci-sign.ini").write_text("\n".join(lines) + "\n")


def tuf_on_ci_sign(clone: Path, env: dict[str, str]) -> str:
    """tuf-on-ci-sign EVENT as its keyholder runs it; the empty line answers "Press enter to push"."""
    result = subprocess.run(
        [str(TOC_SIGN), EVENT], cwd=clone, env=env, input="\n", capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def oracle(event_dir: Path, prev_dir: Path, tmp_path: Path, change: dict[str, Any]) -> bytes:
    """What tuf-on-ci's own SignerRepository.close() writes to event_dir/root.json for ``change``."""
    settings(tmp_path, "@maintainer")
    subprocess.run(
        [TOC_PYTHON, "-c", ORACLE, event_dir, prev_dir, tmp_path / ".tuf-on-ci-sign.ini", json.dumps(change)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return (event_dir / "root.json").read_bytes()


def same_as_tuf_on_ci(ours: bytes, theirs: bytes) -> None:
    """Byte-identical once tuf-on-ci's expiry (its own now + period, seconds later) is set to ours."""
    mine, other = Metadata.from_bytes(ours), Metadata.from_bytes(theirs)
    assert abs(mine.signed.expires - other.signed.expires) < timedelta(minutes=5)
    other.signed.expires = mine.signed.expires
    assert other.to_bytes(JSONSerializer()) == ours


def root_diff_lines(clone: Path, env: dict[str, str]) -> list[str]:
    diff = git("diff", "--unified=0", cwd=clone, env=env)
    return [line for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def verified_by(previous: Metadata, root: Metadata) -> tuple[set[str], set[str]]:
    """python-tuf's view: which keys of the previous root and of the new root signed the new root."""
    result = root.signed.get_root_verification_result(previous.signed, root.signed_bytes, root.signatures)
    assert result.first.verified and result.second.verified, result
    return set(result.first.signed), set(result.second.signed)


# --------------------------------------------------------------------------- a root change, two keyholders, two tools


@pytest.mark.parametrize("carol_key", ["public key file", "token key"])
def test_root_change_signed_with_ceremony_and_tuf_on_ci_sign(
    cli: CliRunner,
    tmp_path: Path,
    passphrase_file: Path,
    toc_env: dict[str, str],
    keyring: dict[str, Path],
    carol_key: str,
) -> None:
    env = toc_env
    alice_p12 = keyring["alice"]
    hsm_env = env
    if carol_key == "token key":
        hsm = softhsm.new_softhsm(tmp_path / "hsm")
        hsm.make_token("carol")
        record = softhsm.keygen(cli, hsm, "carol", "carol-root")
        carol_spec = hsm.uri("carol", key="carol-root")
        hsm_env = {**env, "SOFTHSM2_CONF": str(hsm.conf)}
        carol_pem = tmp_path / "carol.pub.pem"
        carol_public = SSlibKey.from_dict(record["keyid"], record["public_key"])
        carol_pem.write_bytes(
            serialization.load_pem_public_key(carol_public.keyval["public"].encode()).public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    else:
        carol_pem = keyring["carol.pub"]
        carol_spec = str(carol_pem)

    # The maintainer's repository: v1 on main, then the event branch with root v2 authored by ceremony.
    upstream = tmp_path / "upstream.git"
    git("init", "--bare", "--initial-branch=main", upstream, cwd=tmp_path, env=env)
    maint = tmp_path / "maint"
    git("clone", upstream, maint, cwd=tmp_path, env=env)
    keys = make_repository(maint / "metadata", keyring)
    git("add", "metadata", cwd=maint, env=env)
    git("commit", "-m", "root v1", cwd=maint, env=env)
    git("push", "origin", "main", cwd=maint, env=env)
    known_good = tmp_path / "known-good"
    shutil.copytree(maint / "metadata", known_good)
    git("checkout", "-b", EVENT, cwd=maint, env=env)
    out = ok(cli("tuf-on-ci", "root", maint, "--add", carol_spec, "--owner", "@carol", "--yes", env=hsm_env)).stdout
    assert "wrote metadata/root.json" in out and "wrote metadata/root_history/2.root.json" in out
    assert "version: 1 -> 2" in out and "@carol" in out and "git push" in out
    proposed = (maint / "metadata" / "root.json").read_bytes()
    assert (maint / "metadata" / "root_history" / "2.root.json").read_bytes() == proposed
    assert not (maint / "metadata" / ".journal").exists()
    assert git("status", "--porcelain", cwd=maint, env=env).split() == [
        "M",
        "metadata/root.json",
        "??",
        "metadata/root_history/2.root.json",
    ]

    # The bytes are what tuf-on-ci's own code writes for the same change (expiry aside: its clock, seconds later).
    event_copy = tmp_path / "oracle-event"
    shutil.copytree(known_good, event_copy)
    same_as_tuf_on_ci(
        proposed, oracle(event_copy, known_good, tmp_path, {"revoke": [], "add": [[str(carol_pem), "@carol"]]})
    )
    v2 = json.loads(proposed)
    carol_kid = v2["signed"]["roles"]["root"]["keyids"][-1]
    assert v2["signed"]["keys"][carol_kid]["x-tuf-on-ci-keyowner"] == "@carol"
    assert carol_kid == hashlib.sha256(encode_canonical(v2["signed"]["keys"][carol_kid]).encode()).hexdigest()
    assert [s["keyid"] for s in v2["signatures"]] == [keys["alice"].keyid, keys["bob"].keyid, carol_kid]
    assert all(s["sig"] == "" for s in v2["signatures"])
    assert (v2["signed"]["version"], v2["signed"]["consistent_snapshot"]) == (2, True)
    git("add", "metadata", cwd=maint, env=env)
    git("commit", "-m", "root v2 proposed", cwd=maint, env=env)
    git("push", "origin", EVENT, cwd=maint, env=env)

    # @alice signs with ceremony in her clone of the event; only the two sig lines change; she commits and pushes.
    alice = tmp_path / "alice"
    git("clone", upstream, alice, cwd=tmp_path, env=env)
    git("checkout", "-B", EVENT, f"origin/{EVENT}", cwd=alice, env=env)
    out = ok(
        cli("sign", "--tuf-on-ci", alice, "--key", alice_p12, "--passphrase-file", passphrase_file, "--yes", env=env)
    ).stdout
    assert "root v2 (against root_history/1.root.json)" in out and "+ key" in out
    assert "changed metadata/root.json" in out and "changed metadata/root_history/2.root.json" in out
    assert "old root (version 1): 1 of 2" in out and "new root (version 2): 1 of 2" in out
    changed = root_diff_lines(alice, env)
    assert len(changed) == 4 and changed[0] == '-   "sig": ""' and changed[1].startswith('+   "sig": "30')
    assert not (alice / "metadata" / ".journal").exists()
    signed_by_ceremony = (alice / "metadata" / "root.json").read_bytes()
    assert (alice / "metadata" / "root_history" / "2.root.json").read_bytes() == signed_by_ceremony
    assert Metadata.from_bytes(signed_by_ceremony).to_bytes(JSONSerializer()) == signed_by_ceremony
    git("commit", "-am", "Signature from @alice (ceremony)", cwd=alice, env=env)
    git("push", "origin", EVENT, cwd=alice, env=env)
    git("checkout", "--detach", cwd=alice, env=env)

    # tuf-on-ci-sign as @alice finds her signature valid (it verifies it): nothing to do. It holds no key for her.
    settings(alice, "@alice")
    assert "Nothing to do" in tuf_on_ci_sign(alice, env)

    if carol_key == "token key":  # @carol signs with her token through ceremony, then tuf-on-ci-sign agrees
        carol = tmp_path / "carol"
        git("clone", upstream, carol, cwd=tmp_path, env=env)
        git("checkout", "-B", EVENT, f"origin/{EVENT}", cwd=carol, env=hsm_env)
        out = ok(cli("sign", "--tuf-on-ci", carol, "--key", carol_spec, "--yes", env=hsm_env)).stdout
        assert "new root (version 2): 2 of 2" in out
        git("commit", "-am", "Signature from @carol (ceremony, token)", cwd=carol, env=env)
        git("push", "origin", EVENT, cwd=carol, env=env)
        git("checkout", "--detach", cwd=carol, env=env)
        settings(carol, "carol")
        assert "Nothing to do" in tuf_on_ci_sign(carol, env)

    # @bob signs with tuf-on-ci-sign: his signature goes beside ours.
    bob = tmp_path / "bob"
    git("clone", upstream, bob, cwd=tmp_path, env=env)
    settings(bob, "@bob", {keys["bob"].keyid: keyring["bob.pem"]})
    out = tuf_on_ci_sign(bob, env)
    assert "Your signature is requested for role(s) {'root'}" in out

    git("fetch", "origin", cwd=maint, env=env)
    git("checkout", "-B", EVENT, f"origin/{EVENT}", cwd=maint, env=env)
    final = (maint / "metadata" / "root.json").read_bytes()
    assert (maint / "metadata" / "root_history" / "2.root.json").read_bytes() == final
    assert Metadata.from_bytes(final).to_bytes(JSONSerializer()) == final  # still tuf-on-ci's serialisation
    final_obj, ours = json.loads(final), json.loads(signed_by_ceremony)
    assert final_obj["signatures"][0] == ours["signatures"][0]  # @alice's, made by ceremony, kept as it was
    assert [s["keyid"] for s in final_obj["signatures"]] == [keys["alice"].keyid, keys["bob"].keyid, carol_kid]
    v1 = Metadata.from_bytes((known_good / "root.json").read_bytes())
    first, second = verified_by(v1, Metadata.from_bytes(final))
    assert first == {keys["alice"].keyid, keys["bob"].keyid}
    expected_second = {keys["alice"].keyid, keys["bob"].keyid} | ({carol_kid} if carol_key == "token key" else set())
    assert second == expected_second


# --------------------------------------------------------------------------- Sigstore's real chain


SIGSTORE = "sigstore-root-signing"


def test_sigstore_v16_proposed_and_signed_as_an_event(
    cli: CliRunner, vectors: Path, tmp_path: Path, passphrase_file: Path, keyring: dict[str, Path]
) -> None:
    checkout = tmp_path / "root-signing"
    metadata = tuf_on_ci_checkout(vectors, SIGSTORE, checkout)
    # ceremony's verifier walks the chain from v1 (python-tuf cannot parse v1-v3: fractional-second dates).
    assert "valid: root chain to version 15" in ok(cli("verify", metadata, "--at", VECTOR_DATES[SIGSTORE])).stdout
    # python-tuf from v5 on: each root signed by a threshold of its predecessor's root keys and its own.
    history = {
        n: Metadata.from_bytes((metadata / "root_history" / f"{n}.root.json").read_bytes()) for n in range(5, 16)
    }
    for n in range(6, 16):
        verified_by(history[n - 1], history[n])
    known_good = tmp_path / "known-good"
    shutil.copytree(metadata, known_good)

    v15 = json.loads((metadata / "root.json").read_bytes())["signed"]
    new_key, new_pem = keyring["newholder"], keyring["newholder.pub"]
    out = ok(
        cli("tuf-on-ci", "root", checkout, "--revoke", "@mnm678", "--add", new_pem, "--owner", "@NewHolder", "--yes")
    ).stdout
    assert "version: 15 -> 16" in out and "placeholders for 6 signatures" in out
    authored_words = out.split("as words (BIP-39): ")[1].splitlines()[0]
    proposed = (metadata / "root.json").read_bytes()
    assert (metadata / "root_history" / "16.root.json").read_bytes() == proposed
    for n in range(1, 16):  # no other root version is rewritten, nor the online files
        assert (metadata / "root_history" / f"{n}.root.json").read_bytes() == (
            vectors / SIGSTORE / f"{n}.root.json"
        ).read_bytes()
    for name in ("timestamp.json", "snapshot.json", "targets.json", "registry.npmjs.org.json"):
        assert (metadata / name).read_bytes() == (vectors / SIGSTORE / name).read_bytes()

    # Byte for byte what tuf-on-ci writes for the same change, with a placeholder for every v15 and v16 root key.
    event_copy = tmp_path / "oracle-event"
    shutil.copytree(known_good, event_copy)
    change = {"revoke": ["@mnm678"], "add": [[str(new_pem), "@newholder"]]}
    same_as_tuf_on_ci(proposed, oracle(event_copy, known_good, tmp_path, change))
    v16 = json.loads(proposed)
    signed = v16["signed"]
    (new_kid,) = set(signed["roles"]["root"]["keyids"]) - set(v15["roles"]["root"]["keyids"])
    assert [s["keyid"] for s in v16["signatures"]] == [*v15["roles"]["root"]["keyids"], new_kid]
    assert signed["keys"][new_kid]["x-tuf-on-ci-keyowner"] == "@newholder"
    assert new_kid == hashlib.sha256(encode_canonical(signed["keys"][new_kid]).encode()).hexdigest()
    assert {k: v for k, v in signed.items() if k.startswith("x-")} == {
        k: v for k, v in v15.items() if k.startswith("x-")
    }
    assert (
        signed["roles"]["targets"] == v15["roles"]["targets"]
        and signed["roles"]["timestamp"] == v15["roles"]["timestamp"]
    )
    assert (
        v15["keys"][v15["roles"]["root"]["keyids"][0]] == signed["keys"][v15["roles"]["root"]["keyids"][0]]
    )  # still a targets key
    expires = datetime.strptime(signed["expires"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert expires <= datetime.now(UTC) + timedelta(days=v15["x-tuf-on-ci-expiry-period"])
    assert (signed["version"], signed["consistent_snapshot"]) == (16, True)

    # python-tuf reads the proposal and names every key still to sign: 3 of the 5 v15 keys and 3 of v16's.
    v16_md = Metadata.from_bytes(proposed)
    result = v16_md.signed.get_root_verification_result(history[15].signed, v16_md.signed_bytes, v16_md.signatures)
    assert not result.verified
    assert set(result.first.unsigned) == set(v15["roles"]["root"]["keyids"])
    assert set(result.second.unsigned) == set(signed["roles"]["root"]["keyids"])

    # A key of neither root is refused in one line; nothing changes.
    stranger = keyring["stranger"]
    line = one_line_error(
        cli("sign", "--tuf-on-ci", checkout, "--key", stranger, "--passphrase-file", passphrase_file, "--yes")
    )
    assert "this key is not a key of any role" in line
    assert (metadata / "root.json").read_bytes() == proposed

    # The new keyholder signs the event; the v15 keys' signatures (3 needed) are for Sigstore's keyholders to add.
    out = ok(
        cli("sign", "--tuf-on-ci", checkout, "--key", new_key, "--passphrase-file", passphrase_file, "--yes")
    ).stdout
    assert "old root (version 15): 0 of 3" in out and "new root (version 16): 1 of 3" in out
    base_digest = hashlib.sha256((vectors / SIGSTORE / "15.root.json").read_bytes()).hexdigest()
    assert "base: metadata/root_history/15.root.json (root v15; its chain from v1 verified here)" in out
    assert f"    {base_digest}" in out and "git show origin/main:metadata/root.json | sha256sum" in out
    assert out.split("as words (BIP-39): ")[1].splitlines()[0] == authored_words  # what the maintainer read aloud
    digest = hashlib.sha256(Metadata.from_bytes(proposed).signed_bytes).hexdigest()
    assert f"SHA-256 of what will be signed: {digest}" in out
    signed_now = (metadata / "root.json").read_bytes()
    assert (metadata / "root_history" / "16.root.json").read_bytes() == signed_now
    assert Metadata.from_bytes(signed_now).to_bytes(JSONSerializer()) == signed_now
    after = Metadata.from_bytes(signed_now)
    result = after.signed.get_root_verification_result(history[15].signed, after.signed_bytes, after.signatures)
    assert set(result.second.signed) == {new_kid} and not result.first.signed
    assert [s["keyid"] for s in json.loads(signed_now)["signatures"]] == [s["keyid"] for s in v16["signatures"]]
    line = one_line_error(
        cli("sign", "--tuf-on-ci", checkout, "--key", new_key, "--passphrase-file", passphrase_file, "--yes")
    )
    assert "signed by this key already" in line


# --------------------------------------------------------------------------- hostile checkouts


def _symlink_targets(md: Path, ring: dict[str, Path]) -> str:
    (md.parent / "elsewhere.json").write_bytes((md / "targets.json").read_bytes())
    (md / "targets.json").unlink()
    (md / "targets.json").symlink_to(md.parent / "elsewhere.json")
    return "symbolic link"


def _oversized_root(md: Path, ring: dict[str, Path]) -> str:
    (md / "root.json").write_bytes(b" " * 600_000)
    return "larger than 512,000 bytes"


def _stray_history_name(md: Path, ring: dict[str, Path]) -> str:
    shutil.copyfile(md / "root_history" / "1.root.json", md / "root_history" / "01.root.json")
    return "not a root version file"


def _symlinked_history(md: Path, ring: dict[str, Path]) -> str:
    shutil.move(md / "root_history", md.parent / "history-elsewhere")
    (md / "root_history").symlink_to(md.parent / "history-elsewhere")
    return "symbolic link"


def _foreign_placeholder(md: Path, ring: dict[str, Path]) -> str:
    obj = json.loads((md / "root.json").read_bytes())
    obj["signatures"].append({"keyid": "ab" * 32, "sig": ""})
    data = json.dumps(obj, indent=1, separators=(",", ": "), sort_keys=True).encode()
    (md / "root.json").write_bytes(data)
    (md / "root_history" / "2.root.json").write_bytes(data)
    return "not a key of role root"


def _open_invites(md: Path, ring: dict[str, Path]) -> str:
    (md / ".signing-event-state").write_text(json.dumps({"invites": {"@dave": ["root"]}}, indent=2))
    return "open invitations (@dave: root)"


def _history_differs(md: Path, ring: dict[str, Path]) -> str:
    (md / "root_history" / "2.root.json").write_bytes((md / "root_history" / "1.root.json").read_bytes())
    return "differs from metadata/root.json"


def _not_tuf_on_ci_form(md: Path, ring: dict[str, Path]) -> str:
    for path in (md / "root.json", md / "root_history" / "2.root.json"):
        path.write_bytes(path.read_bytes() + b"\n")
    return "not in the form tuf-on-ci writes"


def serialised(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, indent=1, separators=(",", ": "), sort_keys=True).encode()


def _edit_event(md: Path, edit: Any) -> None:
    """Change the event's root v2 (root.json and root_history/2.root.json alike, in tuf-on-ci's form)."""
    obj = json.loads((md / "root.json").read_bytes())
    edit(obj["signed"])
    data = serialised(obj)
    (md / "root.json").write_bytes(data)
    (md / "root_history" / "2.root.json").write_bytes(data)


def _key_dict(pem: Path, field: str, value: str) -> tuple[str, dict[str, Any]]:
    key = tagged(public_of(pem), field, value)
    return key.keyid, key.to_dict()


def _spoofed_base(md: Path, ring: dict[str, Path]) -> str:
    """Review e1: the base rewritten to carry v2's content (so no '+ key' shows), with v1's now invalid signatures."""
    v1 = json.loads((md / "root_history" / "1.root.json").read_bytes())
    v2 = json.loads((md / "root.json").read_bytes())
    fake = {"signatures": v1["signatures"], "signed": dict(v2["signed"], version=1)}
    (md / "root_history" / "1.root.json").write_bytes(serialised(fake))
    return "root_history/1.root.json: signed by 0 of the 2 required keys of its own root role (version 1)"


def _event_as_base(md: Path, ring: dict[str, Path]) -> str:
    shutil.copyfile(md / "root.json", md / "root_history" / "1.root.json")  # version 2 in the file named 1
    return "holds root version 2, not 1"


def _carried_journal(md: Path, ring: dict[str, Path]) -> str:
    """Review e5: the branch carries a committed journal entry rewriting the base; it is never replayed."""
    v1 = json.loads((md / "root_history" / "1.root.json").read_bytes())
    v2 = json.loads((md / "root.json").read_bytes())
    payload = serialised({"signatures": v1["signatures"], "signed": dict(v2["signed"], version=1)})
    entry = md / ".journal" / "0123456789abcdef.commit"
    entry.mkdir(parents=True)
    (entry / "0123456789abcdef-0-abcd").write_bytes(payload)
    op = {"op": "write", "path": "root_history/1.root.json", "stage": "0123456789abcdef-0-abcd"}
    op["sha256"] = hashlib.sha256(payload).hexdigest()
    intent = {"type": "ceremony-journal", "format": 1, "id": "0123456789abcdef", "ops": [op]}
    (entry / "intent.json").write_text(json.dumps(intent))
    return "a ceremony journal"


def _other_key_under_bobs_id(md: Path, ring: dict[str, Path]) -> str:
    """Review e2: bob's key material replaced by another key's, under bob's key id."""

    def edit(signed: dict[str, Any]) -> None:
        bob = next(k for k, v in signed["keys"].items() if v.get("x-tuf-on-ci-keyowner") == "@bob")
        signed["keys"][bob]["keyval"] = _key_dict(ring["stranger.pub"], "x-tuf-on-ci-keyowner", "@x")[1]["keyval"]

    _edit_event(md, edit)
    return "has a key id that is not the hash of its content"


def _one_key_under_two_ids(md: Path, ring: dict[str, Path]) -> str:
    """Review e2/e7: one key listed twice (two owners, two valid ids), threshold 3: python-tuf would count it twice."""

    def edit(signed: dict[str, Any]) -> None:
        for owner in ("@mallory", "@mallory2"):
            kid, key = _key_dict(ring["stranger.pub"], "x-tuf-on-ci-keyowner", owner)
            signed["keys"][kid] = key
            signed["roles"]["root"]["keyids"].append(kid)
        signed["roles"]["root"]["threshold"] = 3

    _edit_event(md, edit)
    return "role root lists one public key under two key ids"


def _delegation(md: Path, keys: list[tuple[str, dict[str, Any]]]) -> None:
    obj = json.loads((md / "targets.json").read_bytes())
    obj["signed"]["delegations"] = {
        "keys": dict(keys),
        "roles": [
            {"name": "pkgs", "keyids": [k for k, _v in keys], "threshold": 1, "paths": ["*"], "terminating": False}
        ],
    }
    (md / "targets.json").write_bytes(serialised(obj))


def _delegation_key_id_not_its_hash(md: Path, ring: dict[str, Path]) -> str:
    _kid, key = _key_dict(ring["stranger.pub"], "x-tuf-on-ci-keyowner", "@dave")
    _delegation(md, [("ab" * 32, key)])
    return "targets.json: key abababababababab has a key id that is not the hash"


def _delegation_key_twice(md: Path, ring: dict[str, Path]) -> str:
    _delegation(
        md,
        [_key_dict(ring["stranger.pub"], "x-tuf-on-ci-keyowner", o) for o in ("@dave", "@dave2")],
    )
    return "targets.json: role pkgs lists one public key under two key ids"


def _far_expiry(md: Path, ring: dict[str, Path]) -> str:
    _edit_event(md, lambda signed: signed.update(expires="2099-01-01T00:00:00Z"))
    return "beyond its x-tuf-on-ci-expiry-period of 365 days from now"


def _no_consistent_snapshot(md: Path, ring: dict[str, Path]) -> str:
    _edit_event(md, lambda signed: signed.update(consistent_snapshot=False))
    return "consistent_snapshot is not true"


def _two_online_signers(md: Path, ring: dict[str, Path]) -> str:
    _edit_event(md, lambda signed: signed["roles"]["snapshot"].update(threshold=2))
    return "timestamp and snapshot have different keys or thresholds"


def _online_periods_insane(md: Path, ring: dict[str, Path]) -> str:
    _edit_event(md, lambda signed: signed["roles"]["timestamp"].update({"x-tuf-on-ci-signing-period": 7}))
    return "role timestamp: x-tuf-on-ci-signing-period 7 and x-tuf-on-ci-expiry-period 7 are not"


@pytest.fixture(scope="module")
def root_event(tmp_path_factory: pytest.TempPathFactory, keyring: dict[str, Path]) -> Path:
    """A checkout whose root v2 (adds @carol) awaits @alice and @bob, made once: copy it before changing it."""
    checkout = tmp_path_factory.mktemp("root-event") / "checkout"
    make_repository(checkout / "metadata", keyring)
    ok(_run("tuf-on-ci", "root", checkout, "--add", keyring["carol.pub"], "--owner", "@carol", "--yes"))
    return checkout


@pytest.mark.parametrize(
    "damage",
    [
        _symlink_targets,
        _oversized_root,
        _stray_history_name,
        _symlinked_history,
        _foreign_placeholder,
        _open_invites,
        _history_differs,
        _not_tuf_on_ci_form,
        _spoofed_base,
        _event_as_base,
        _carried_journal,
        _other_key_under_bobs_id,
        _one_key_under_two_ids,
        _delegation_key_id_not_its_hash,
        _delegation_key_twice,
        _far_expiry,
        _no_consistent_snapshot,
        _two_online_signers,
        _online_periods_insane,
    ],
)
def test_hostile_checkout_is_refused_in_one_line(
    cli: CliRunner, tmp_path: Path, passphrase_file: Path, keyring: dict[str, Path], root_event: Path, damage: Any
) -> None:
    alice_p12 = keyring["alice"]
    checkout = tmp_path / "checkout"
    shutil.copytree(root_event, checkout, symlinks=True)
    expected = damage(checkout / "metadata", keyring)
    before = {p: p.read_bytes() for p in (checkout / "metadata").rglob("*") if p.is_file()}
    line = one_line_error(
        cli("sign", "--tuf-on-ci", checkout, "--key", alice_p12, "--passphrase-file", passphrase_file, "--yes")
    )
    assert expected in line, line
    assert {p: p.read_bytes() for p in (checkout / "metadata").rglob("*") if p.is_file()} == before


def test_root_change_refusals(cli: CliRunner, tmp_path: Path, passphrase_file: Path, keyring: dict[str, Path]) -> None:
    checkout = tmp_path / "checkout"
    make_repository(checkout / "metadata", keyring)
    alice_pem, carol = keyring["alice.pub"], keyring["carol.pub"]
    before = (checkout / "metadata" / "root.json").read_bytes()
    cases = [
        (["--revoke", "@bob"], "threshold 2 is above its 1 key"),
        (["--add", carol, "--owner", "@carol", "--threshold", "3"], "leaves no spare key"),
        (["--add", alice_pem, "--owner", "@alice2"], "is root key"),
        (["--add", carol, "--owner", "@alice"], "@alice would hold more than one root key"),
        (["--expires-days", "400"], "beyond the root's x-tuf-on-ci-expiry-period of 365 days"),
        (["--revoke", "@nobody"], "no root key match"),
        (["--add", carol, "--owner", "not a name"], "give a GitHub user name"),
        (["--add", carol], "give one --owner per --add"),
    ]
    for args, expected in cases:
        line = one_line_error(cli("tuf-on-ci", "root", checkout, *args, "--yes"))
        assert expected in line, (args, line)
    assert (checkout / "metadata" / "root.json").read_bytes() == before
    assert not (checkout / "metadata" / "root_history" / "2.root.json").exists()
    # A new software key for a keyholder is written encrypted where they keep it, and its public key goes in.
    keys = tmp_path / "handover"
    keys.mkdir()
    out = ok(
        cli(
            "tuf-on-ci",
            "root",
            checkout,
            "--add",
            "ecdsa-p256",
            "--owner",
            "@erin",
            "--key-dir",
            keys,
            "--passphrase-file",
            passphrase_file,
            "--yes",
        )
    ).stdout
    assert f"wrote {keys / 'erin.p12'} (encrypted" in out
    private, _c, _e = pkcs12.load_key_and_certificates((keys / "erin.p12").read_bytes(), PASSPHRASE.encode())
    v2 = json.loads((checkout / "metadata" / "root.json").read_bytes())["signed"]
    erin = [k for k in v2["keys"].values() if k.get("x-tuf-on-ci-keyowner") == "@erin"]
    assert (
        len(erin) == 1
        and serialization.load_pem_public_key(erin[0]["keyval"]["public"].encode()).public_numbers()
        == private.public_key().public_numbers()
    )
    # The root is now an open event: a second change on top of it is refused (author it from main).
    line = one_line_error(cli("tuf-on-ci", "root", checkout, "--add", carol, "--owner", "@carol", "--yes"))
    assert "a signing event still awaiting signatures" in line


def test_targets_event_and_nothing_awaiting(
    cli: CliRunner, tmp_path: Path, passphrase_file: Path, keyring: dict[str, Path]
) -> None:
    checkout = tmp_path / "checkout"
    md_dir = checkout / "metadata"
    keys = make_repository(md_dir, keyring)
    sign = ("sign", "--tuf-on-ci", checkout, "--key", keyring["bob"], "--passphrase-file", passphrase_file, "--yes")
    # On main nothing awaits @bob: root v1 carries his signature, targets v1 has his placeholder but is signed enough.
    line = one_line_error(cli(*sign))
    assert "root v1: signed by this key already" in line and "targets v1: its thresholds are met" in line

    # A targets signing event, written as tuf-on-ci's close() writes it: v2, placeholders for the root's targets keys.
    targets = Metadata.from_bytes((md_dir / "targets.json").read_bytes())
    targets.signed.version = 2
    targets.signed.targets["artifact.txt"] = TargetFile.from_data("artifact.txt", b"hello\n")
    targets.signatures = {k: Signature(k, "") for k in (keys["alice"].keyid, keys["bob"].keyid)}
    write_role(md_dir, "targets", targets)
    root_before = (md_dir / "root.json").read_bytes()
    out = ok(cli(*sign)).stdout
    assert "targets v2" in out and "+ target artifact.txt: 6 bytes" in out and "no base without git" in out
    assert "not signed: root v1: signed by this key already" in out
    assert "changed metadata/targets.json" in out and "changed metadata/root" not in out
    assert (md_dir / "root.json").read_bytes() == root_before
    raw = (md_dir / "targets.json").read_bytes()
    assert Metadata.from_bytes(raw).to_bytes(JSONSerializer()) == raw
    signed = Metadata.from_bytes(raw)
    assert [s.keyid for s in signed.signatures.values()] == [keys["alice"].keyid, keys["bob"].keyid]
    assert signed.signatures[keys["alice"].keyid].signature == ""
    root = Metadata.from_bytes(root_before)
    root.signed.verify_delegate("targets", signed.signed_bytes, signed.signatures)  # python-tuf: 1 of 1 needed

    # A targets event tuf-on-ci's CI refuses (expiry beyond the role's x-tuf-on-ci-expiry-period) is not signed.
    signed.signed.version = 3
    signed.signed.expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=400)
    signed.signatures = {k: Signature(k, "") for k in (keys["alice"].keyid, keys["bob"].keyid)}
    write_role(md_dir, "targets", signed)
    before = (md_dir / "targets.json").read_bytes()
    line = one_line_error(cli(*sign))
    assert "targets.json: expires" in line and "beyond its x-tuf-on-ci-expiry-period of 365 days" in line
    assert (md_dir / "targets.json").read_bytes() == before


def test_a_journal_the_checkout_carries_never_reaches_outside(
    cli: CliRunner, tmp_path: Path, passphrase_file: Path, keyring: dict[str, Path]
) -> None:
    """Recovering metadata/.journal deletes what it does not recognise there and writes below metadata/<dir>/: a
    checkout can carry a linked .journal, or a linked directory and a committed entry writing through it."""
    checkout = tmp_path / "checkout"
    md_dir = checkout / "metadata"
    make_repository(md_dir, keyring)
    precious = tmp_path / "precious"
    (precious / "notes").mkdir(parents=True)
    (precious / "notes" / "keep.txt").write_text("mine\n")
    sign = ("sign", "--tuf-on-ci", checkout, "--key", keyring["alice"], "--passphrase-file", passphrase_file, "--yes")

    (md_dir / ".journal").symlink_to(precious)
    line = one_line_error(cli(*sign))
    assert ".journal: a symbolic link" in line
    assert (precious / "notes" / "keep.txt").read_text() == "mine\n"

    (md_dir / ".journal").unlink()
    (md_dir / "evil").symlink_to(precious)
    entry = md_dir / ".journal" / "0123456789abcdef.commit"
    entry.mkdir(parents=True)
    payload = b"planted\n"
    (entry / "0123456789abcdef-0-abcd").write_bytes(payload)
    op = {"op": "write", "path": "evil/planted.txt", "stage": "0123456789abcdef-0-abcd"}
    op["sha256"] = hashlib.sha256(payload).hexdigest()
    intent = {"type": "ceremony-journal", "format": 1, "id": "0123456789abcdef", "ops": [op]}
    (entry / "intent.json").write_text(json.dumps(intent))
    line = one_line_error(cli(*sign))
    assert "evil: a symbolic link" in line
    assert sorted(p.name for p in precious.iterdir()) == ["notes"]


def test_a_key_listed_under_two_ids_signs_under_both(
    cli: CliRunner, tmp_path: Path, passphrase_file: Path, keyring: dict[str, Path]
) -> None:
    """An imported root lists @alice's key without its owner; v2 names her: she signs under the old id and the new.

    tuf-on-ci writes placeholders only for the known-good root's keys it recognises (with an owner), so the
    signature under the legacy id is appended, as tuf-on-ci-sign appends it (its "legacy key" path).
    """
    checkout = tmp_path / "checkout"
    md_dir = checkout / "metadata"
    keys = make_repository(md_dir, keyring, legacy_alice=True)
    legacy = keys["alice"].keyid
    ok(
        cli(
            "tuf-on-ci",
            "root",
            checkout,
            "--revoke",
            legacy[:12],
            "--add",
            keyring["alice.pub"],
            "--owner",
            "@alice",
            "--add",
            keyring["carol.pub"],
            "--owner",
            "@carol",
            "--yes",
        )
    )
    v2 = json.loads((md_dir / "root.json").read_bytes())
    alice_kid = next(k for k, v in v2["signed"]["keys"].items() if v.get("x-tuf-on-ci-keyowner") == "@alice")
    carol_kid = next(k for k, v in v2["signed"]["keys"].items() if v.get("x-tuf-on-ci-keyowner") == "@carol")
    assert legacy in v2["signed"]["keys"]  # still a targets key
    assert [s["keyid"] for s in v2["signatures"]] == [keys["bob"].keyid, alice_kid, carol_kid]
    sign = ("sign", "--tuf-on-ci", checkout, "--passphrase-file", passphrase_file, "--yes", "--key")
    out = ok(cli(*sign, keyring["alice"])).stdout
    assert f"signs as key {legacy[:12]}" in out and f"signs as key {alice_kid[:12]}" in out
    assert "old root (version 1): 1 of 2" in out and "new root (version 2): 1 of 2" in out
    ok(cli(*sign, keyring["bob"]))
    raw = (md_dir / "root.json").read_bytes()
    assert (md_dir / "root_history" / "2.root.json").read_bytes() == raw
    assert Metadata.from_bytes(raw).to_bytes(JSONSerializer()) == raw
    assert [s["keyid"] for s in json.loads(raw)["signatures"]] == [keys["bob"].keyid, alice_kid, carol_kid, legacy]
    v1 = Metadata.from_bytes((md_dir / "root_history" / "1.root.json").read_bytes())
    first, second = verified_by(v1, Metadata.from_bytes(raw))
    assert first == {legacy, keys["bob"].keyid} and second == {alice_kid, keys["bob"].keyid}


def test_a_signature_interrupted_between_the_two_root_files_is_refused_until_restored(
    cli: CliRunner, tmp_path: Path, passphrase_file: Path, keyring: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed after the commit, before either file is replaced: the journal is never replayed in a checkout (a
    branch can carry one), so the next command refuses, says how to remove it, and writes nothing; once removed
    (and the files restored from git: here they were never touched), signing works."""
    from ceremony.core import _txn
    from ceremony.core import keys as core_keys
    from ceremony.core import tuf_on_ci as core_toc

    checkout = tmp_path / "checkout"
    md_dir = checkout / "metadata"
    keys = make_repository(md_dir, keyring)
    ok(cli("tuf-on-ci", "root", checkout, "--add", keyring["carol.pub"], "--owner", "@carol", "--yes"))
    proposed = (md_dir / "root.json").read_bytes()
    own = core_keys.OwnKeyFile(keyring["alice"], PASSPHRASE)
    event = core_toc.find_awaiting(core_toc.open_checkout(checkout), own.identity)

    def killed(root: Path, entry: Path, intent: dict[str, Any]) -> None:
        raise KeyboardInterrupt  # the power went: the entry is committed, no file replaced yet

    monkeypatch.setattr(_txn, "_apply", killed)
    with pytest.raises(KeyboardInterrupt):
        core_toc.sign_event(event, own.signer_for)
    monkeypatch.undo()
    assert (md_dir / "root.json").read_bytes() == proposed
    assert [p.name.endswith(".commit") for p in (md_dir / ".journal").iterdir()] == [True]

    sign = ("sign", "--tuf-on-ci", checkout, "--passphrase-file", passphrase_file, "--yes", "--key")
    line = one_line_error(cli(*sign, keyring["bob"]))
    assert "metadata/.journal: a ceremony journal" in line and "is not replayed" in line
    assert "rm -rf metadata/.journal && git checkout -- metadata" in line
    assert (md_dir / "root.json").read_bytes() == proposed
    assert (md_dir / "root_history" / "2.root.json").read_bytes() == proposed
    line = one_line_error(cli("tuf-on-ci", "root", checkout, "--yes"))  # authoring refuses it too, before anything
    assert "a ceremony journal" in line

    shutil.rmtree(md_dir / ".journal")
    ok(cli(*sign, keyring["alice"]))
    result = ok(cli(*sign, keyring["bob"]))
    assert "old root (version 1): 2 of 2" in result.stdout
    raw = (md_dir / "root.json").read_bytes()
    assert (md_dir / "root_history" / "2.root.json").read_bytes() == raw
    assert not (md_dir / ".journal").exists()
    first, second = verified_by(
        Metadata.from_bytes((md_dir / "root_history" / "1.root.json").read_bytes()), Metadata.from_bytes(raw)
    )
    assert first == second == {keys["alice"].keyid, keys["bob"].keyid}


def test_an_invalid_signature_of_this_key_is_replaced_in_place(
    cli: CliRunner, tmp_path: Path, passphrase_file: Path, keyring: dict[str, Path]
) -> None:
    checkout = tmp_path / "checkout"
    md_dir = checkout / "metadata"
    keys = make_repository(md_dir, keyring)
    ok(cli("tuf-on-ci", "root", checkout, "--add", keyring["carol.pub"], "--owner", "@carol", "--yes"))
    proposal = Metadata.from_bytes((md_dir / "root.json").read_bytes())
    alice = keys["alice"].keyid
    proposal.signatures[alice] = Signature(alice, "30" + "00" * 69)  # a signature by nobody, where @alice's goes
    write_role(md_dir, "root", proposal)
    out = ok(
        cli("sign", "--tuf-on-ci", checkout, "--key", keyring["alice"], "--passphrase-file", passphrase_file, "--yes")
    ).stdout
    assert "new root (version 2): 1 of 2" in out
    signed = Metadata.from_bytes((md_dir / "root.json").read_bytes())
    assert list(signed.signatures) == list(proposal.signatures)  # same entries, same order
    keys["alice"].verify_signature(signed.signatures[alice], signed.signed_bytes)


def test_the_review_shows_tuf_on_ci_fields_the_online_signer_and_the_base(
    cli: CliRunner, tmp_path: Path, passphrase_file: Path, keyring: dict[str, Path]
) -> None:
    """Review e2 (periods, online_uri): what tuf-on-ci acts on is shown; the base's SHA-256 and where to compare it.

    Also: `tuf-on-ci root` with no option re-signs a 2-of-2 root as it is (no spare-key refusal, review item 7).
    """
    checkout = tmp_path / "checkout"
    md_dir = checkout / "metadata"
    keys = make_repository(md_dir, keyring)
    out = ok(cli("tuf-on-ci", "root", checkout, "--yes")).stdout
    assert "version: 1 -> 2" in out
    online_kid, online = _key_dict(keyring["stranger.pub"], "x-tuf-on-ci-online-uri", "gcpkms:projects/attacker/k")

    def edit(signed: dict[str, Any]) -> None:
        signed["x-tuf-on-ci-expiry-period"] = 36500
        signed["roles"]["timestamp"]["x-tuf-on-ci-expiry-period"] = 36500
        del signed["keys"][keys["online"].keyid]
        signed["keys"][online_kid] = online
        for role in ("timestamp", "snapshot"):
            signed["roles"][role]["keyids"] = [online_kid]

    _edit_event(md_dir, edit)
    sign = ("sign", "--tuf-on-ci", checkout, "--key", keyring["alice"], "--passphrase-file", passphrase_file, "--yes")
    out = ok(cli(*sign)).stdout
    assert "x-tuf-on-ci-expiry-period: 365 -> 36500" in out
    assert "role timestamp x-tuf-on-ci-expiry-period: 7 -> 36500" in out
    assert "the ONLINE SIGNER CHANGES (timestamp/snapshot keys now: gcpkms:projects/attacker/k)" in out
    base = hashlib.sha256((md_dir / "root_history" / "1.root.json").read_bytes()).digest()
    assert "base: metadata/root_history/1.root.json (root v1; its chain from v1 verified here)" in out
    assert f"    {base.hex()}" in out and "compare it with the published root" in out
    from mnemonic import Mnemonic

    assert f"    as words: {Mnemonic('english').to_mnemonic(base)}" in out


def test_a_pinned_base_must_be_the_event_base(tmp_path: Path, keyring: dict[str, Path], root_event: Path) -> None:
    from ceremony.core import keys as core_keys
    from ceremony.core import tuf_on_ci as core_toc
    from ceremony.errors import VerificationError

    checkout = tmp_path / "checkout"
    shutil.copytree(root_event, checkout)
    published = (checkout / "metadata" / "root_history" / "1.root.json").read_bytes()
    identity = core_keys.OwnKeyFile(keyring["alice"], PASSPHRASE).identity
    event = core_toc.find_awaiting(core_toc.open_checkout(checkout), identity, base=published)
    assert [item.file.role for item in event.awaiting] == ["root"]
    with pytest.raises(VerificationError, match="differs from the pinned base"):
        core_toc.find_awaiting(core_toc.open_checkout(checkout), identity, base=published + b" ")


def test_sign_with_base_from_the_command_line(
    cli: CliRunner, tmp_path: Path, keyring: dict[str, Path], root_event: Path, passphrase_file: Path
) -> None:
    """``ceremony sign --tuf-on-ci CHECKOUT --base FILE``: a base other than the published one is refused, the
    published one lets the keyholder sign; ``--base`` without ``--tuf-on-ci`` is a usage error."""
    checkout = tmp_path / "checkout"
    shutil.copytree(root_event, checkout)
    published = tmp_path / "published-root.json"
    published.write_bytes((checkout / "metadata" / "root_history" / "1.root.json").read_bytes())
    other = tmp_path / "other-root.json"
    other.write_bytes(published.read_bytes() + b" ")
    before = (checkout / "metadata" / "root.json").read_bytes()
    args = ["--key", keyring["alice"], "--passphrase-file", passphrase_file, "--yes"]
    line = one_line_error(cli("sign", "--tuf-on-ci", checkout, "--base", other, *args))
    assert "differs from the pinned base" in line
    assert (checkout / "metadata" / "root.json").read_bytes() == before
    ok(cli("sign", "--tuf-on-ci", checkout, "--base", published, *args))
    assert (checkout / "metadata" / "root.json").read_bytes() != before
    assert "--base is for --tuf-on-ci" in one_line_error(cli("sign", published, "--base", published, *args))


def test_a_key_changed_under_its_id_is_shown() -> None:
    """A base whose key id is not its key's hash (tuf-on-ci's CI refuses it in the event, not in old roots)."""
    from ceremony.core import tuf_on_ci as core_toc

    key = {
        "keytype": "ecdsa",
        "scheme": "ecdsa-sha2-nistp256",
        "keyval": {"public": "A"},
        "x-tuf-on-ci-keyowner": "@bob",
    }
    old = {"keys": {"ab" * 32: key}, "roles": {}}
    new = {"keys": {"ab" * 32: {**key, "keyval": {"public": "B"}, "x-tuf-on-ci-keyowner": "@eve"}}, "roles": {}}
    lines = core_toc._field_lines(old, new)
    assert lines[0].startswith("  key abababababab CHANGED under the same key id (keyval, x-tuf-on-ci-keyowner)")
    assert "  key abababababab x-tuf-on-ci-keyowner: @bob -> @eve" in lines


def test_sigstore_v12_kept_its_online_key_under_a_new_id(vectors: Path) -> None:
    """tuf-on-ci's own v11 -> v12 changed the online key ids (same key): shown as that, not as a new online signer."""
    from ceremony.core import tuf_on_ci as core_toc

    v11, v12 = (json.loads((vectors / SIGSTORE / f"{v}.root.json").read_bytes())["signed"] for v in (11, 12))
    lines = core_toc._field_lines(v11, v12)
    assert "  the online signer keeps its key, under a new key id" in lines
    assert not any("ONLINE SIGNER CHANGES" in line for line in lines)


def test_a_refused_root_leaves_no_new_key_file(
    tmp_path: Path, passphrase_file: Path, keyring: dict[str, Path], root_event: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review item 6: root.json changes while the new root is prepared; the new keyholder's key file is not written."""
    from click.testing import CliRunner as ClickRunner

    from ceremony.cli import tuf_on_ci as cli_toc
    from ceremony.core import tuf_on_ci as core_toc
    from ceremony.errors import UsageError

    checkout = tmp_path / "checkout"
    md_dir = checkout / "metadata"
    make_repository(md_dir, keyring)
    propose = core_toc.propose_root

    def raced(*args: Any, **kwargs: Any) -> Any:
        proposal = propose(*args, **kwargs)
        (md_dir / "root.json").write_bytes((md_dir / "root.json").read_bytes() + b" ")  # someone else's change
        return proposal

    monkeypatch.setattr(core_toc, "propose_root", raced)
    handover = tmp_path / "handover"
    handover.mkdir()
    args = [str(checkout), "--add", "ecdsa-p256", "--owner", "@erin", "--key-dir", str(handover)]
    result = ClickRunner().invoke(cli_toc.root_cmd, [*args, "--passphrase-file", str(passphrase_file), "--yes"])
    assert isinstance(result.exception, UsageError), result.output
    assert "changed while the new root was prepared" in str(result.exception)
    assert list(handover.iterdir()) == []
    assert not (md_dir / "root_history" / "2.root.json").exists()


def test_bins_fit_and_the_total_read_is_bounded(
    tmp_path: Path, keyring: dict[str, Path], root_event: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review item 7: PEP 458's 16,384 bins are more entries than the old bound; the bytes read in all are bounded."""
    from ceremony.core import tuf_on_ci as core_toc
    from ceremony.errors import InputFileError

    checkout = tmp_path / "checkout"
    shutil.copytree(root_event, checkout)
    md_dir = checkout / "metadata"
    for n in range(16_385):
        (md_dir / f"bin-{n:04x}.txt").touch()  # entries only: what is counted before anything is parsed
    assert core_toc.open_checkout(checkout).root.version == 2
    total = sum(len((md_dir / f"{r}.json").read_bytes()) for r in ("root", "targets", "snapshot", "timestamp"))
    monkeypatch.setattr(core_toc, "MAX_TOTAL_BYTES", total - 1)
    with pytest.raises(InputFileError, match="bytes of metadata"):
        core_toc.open_checkout(checkout)


def test_a_root_whose_online_periods_ci_refuses_is_not_proposed(
    cli: CliRunner, tmp_path: Path, keyring: dict[str, Path]
) -> None:
    """The current root's online periods are kept in the next root: one tuf-on-ci's CI refuses is not written."""
    checkout = tmp_path / "checkout"
    md_dir = checkout / "metadata"
    keys = make_repository(md_dir, keyring)
    v1 = Metadata.from_bytes((md_dir / "root.json").read_bytes())
    v1.signed.roles["timestamp"].unrecognized_fields["x-tuf-on-ci-signing-period"] = 7  # = its expiry period
    v1.signatures.clear()
    for name in ("alice", "bob"):
        v1.sign(p12_signer(keyring[name], keys[name]), append=True)
    write_role(md_dir, "root", v1)
    line = one_line_error(cli("tuf-on-ci", "root", checkout, "--no-spare-root-key", "--yes"))
    assert "role timestamp: x-tuf-on-ci-signing-period 7 and x-tuf-on-ci-expiry-period 7 are not whole days" in line
    assert not (md_dir / "root_history" / "2.root.json").exists()
