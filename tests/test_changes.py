"""Changing a live repository with the CLI: rotation, extension, delegation, and the refusals.

Every chain is checked by independent clients (python-tuf's ngclient and
tuf-js) that trust only metadata/1.root.json, by `ceremony verify` and by the
transcript. Refusals must name the rule, exit non-zero and leave every file of
the workspace as it was.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import json
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from mnemonic import Mnemonic

from ceremony.core import changes, targets
from ceremony.core.proposal import ChangeContext, describe_proposal
from ceremony.core.workspace import Workspace
from tests.clients import TUFJS_DIR, python_tuf_refresh, tufjs_refresh
from tests.conftest import PASSPHRASE, CliRunner, one_line_error
from tests.softhsm import SoftHsm, keygen, new_softhsm

BIP39 = Mnemonic("english")
DIGEST_LINE = re.compile(r"^SHA-256 of what will be signed: ([0-9a-f]{64})$", re.M)
WORDS_LINE = re.compile(r"^  as words \(BIP-39\): (.+)$", re.M)


# --------------------------------------------------------------------------- helpers


def tree(path: Path) -> dict[str, bytes]:
    """Every file under ``path`` (relative name -> bytes)."""
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def canonical(value: Any) -> bytes:
    """OLPC canonical JSON (what TUF signs), written here independently of the code under test."""

    def enc(v: Any) -> str:
        if isinstance(v, dict):
            return "{" + ",".join(f"{enc(k)}:{enc(v[k])}" for k in sorted(v)) + "}"
        if isinstance(v, list):
            return "[" + ",".join(enc(x) for x in v) + "]"
        if isinstance(v, bool):
            return "true" if v else "false"
        if v is None:
            return "null"
        if isinstance(v, int):
            return str(v)
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        raise TypeError(f"not canonical JSON: {v!r}")

    return enc(value).encode()


def signed_of(path: Path) -> dict[str, Any]:
    return json.loads(path.read_bytes())["signed"]


def shown_digest(stdout: str) -> tuple[str, list[str]]:
    """The digest a signing command showed, checked to be 24 BIP-39 words that encode it."""
    (digest,) = DIGEST_LINE.findall(stdout)
    (words_text,) = WORDS_LINE.findall(stdout)
    words = words_text.split()
    assert len(words) == 24, words
    assert all(w in BIP39.wordlist for w in words), words
    assert BIP39.check(words_text)  # the last word carries the checksum
    assert bytes(BIP39.to_entropy(words)) == bytes.fromhex(digest)
    return digest, words


def public_pem(path: Path, kind: str = "ecdsa-p256") -> Path:
    """A public key file of a key held elsewhere (its private half is thrown away)."""
    private = ec.generate_private_key(ec.SECP256R1()) if kind == "ecdsa-p256" else ed25519.Ed25519PrivateKey.generate()
    path.write_bytes(
        private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return path


def keyids(ws: Path, role: str, version: int | None = None) -> list[str]:
    name = f"{version}.root.json" if version else "root.json"
    return signed_of(ws / "metadata" / name)["roles"][role]["keyids"]


def label_of(ws: Path, label: str) -> str:
    """The keyid the workspace config gives a label."""
    config = json.loads((ws / "ceremony.json").read_bytes())
    (keyid,) = [k for k, entry in config["keys"].items() if entry["label"] == label]
    return keyid


def both_clients(metadata: Path, targets: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    return [refresh(metadata, metadata / "1.root.json", targets) for refresh in (python_tuf_refresh, tufjs_refresh)]


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


# --------------------------------------------------------------------------- 1. a chain v1 -> v5


def _token_key(cli: CliRunner, hsm: SoftHsm, token: str, label: str, key_type: str) -> dict[str, Any]:
    hsm.make_token(token)
    return keygen(cli, hsm, token, label, key_type)


@pytest.mark.slow
def test_chain_v1_to_v5_with_token_keys(cli: CliRunner, tmp_path: Path, passphrase_file: Path) -> None:
    hsm = new_softhsm(tmp_path / "softhsm")
    tok_a = _token_key(cli, hsm, "tok-a", "root-a", "ecdsa-p256")
    tok_b = _token_key(cli, hsm, "tok-b", "root-b", "ed25519")
    ws = tmp_path / "ws"
    pf = ["--passphrase-file", passphrase_file]
    run = functools.partial(cli, env=hsm.env)
    ok(run("init", ws, "--root-keys", "3", "--threshold", "2", "--key-type", "ed25519", *pf, "--yes"))
    root_1 = label_of(ws, "root-1")

    # v2: root-1 replaced by a key on a token (PIN from the URI's pin-source).
    ok(run("rotate", ws, "--role", "root", "--revoke", "root-1", "--add", hsm.uri("tok-a", key="root-a"), *pf, "--yes"))
    v2 = keyids(ws, "root", 2)
    assert root_1 not in v2 and tok_a["keyid"] in v2 and len(v2) == 3
    # The workspace records the token key by URI, without the PIN source.
    config = json.loads((ws / "ceremony.json").read_bytes())
    assert (
        config["keys"][tok_a["keyid"]]["uri"].startswith("pkcs11:")
        and "pin" not in config["keys"][tok_a["keyid"]]["uri"]
    )

    # v3: 2 of 3 -> 3 of 5, adding a software key and a second token key; the first token key signs (PIN file).
    ok(
        run(
            "rotate",
            ws,
            "--role",
            "root",
            "--add",
            "ed25519",
            "--add",
            hsm.uri("tok-b", key="root-b"),
            "--threshold",
            "3",
            *pf,
            "--pin-file",
            hsm.pin_file,
            "--yes",
        )
    )
    v3 = signed_of(ws / "metadata" / "3.root.json")
    assert v3["roles"]["root"]["threshold"] == 3 and len(v3["roles"]["root"]["keyids"]) == 5
    root_5 = label_of(ws, "root-5")
    assert root_5 in v3["roles"]["root"]["keyids"] and tok_b["keyid"] in v3["roles"]["root"]["keyids"]
    v3_sigs = {s["keyid"] for s in json.loads((ws / "metadata" / "3.root.json").read_bytes())["signatures"]}
    assert tok_a["keyid"] in v3_sigs, "the token key of v2 should have signed v3 as an old and new root key"
    assert v3_sigs & {label_of(ws, "root-2"), label_of(ws, "root-3")}, "software keys sign beside the token keys"

    # v4: the timestamp key rotated; timestamp.json re-signed with the new key.
    old_timestamp = label_of(ws, "timestamp")
    ok(
        run(
            "rotate",
            ws,
            "--role",
            "timestamp",
            "--revoke",
            "timestamp",
            "--add",
            "ecdsa-p256",
            *pf,
            "--pin-file",
            hsm.pin_file,
            "--yes",
        )
    )
    new_timestamp = label_of(ws, "timestamp-1")
    assert keyids(ws, "timestamp", 4) == [new_timestamp] and new_timestamp != old_timestamp
    timestamp = json.loads((ws / "metadata" / "timestamp.json").read_bytes())
    assert timestamp["signed"]["version"] == 2
    assert [s["keyid"] for s in timestamp["signatures"]] == [new_timestamp]

    # v5: the root's expiry extended.
    before = datetime.now(UTC)
    ok(run("extend", ws, "--role", "root", "--days", "500", *pf, "--pin-file", hsm.pin_file, "--yes"))
    expires = datetime.strptime(signed_of(ws / "metadata" / "5.root.json")["expires"], "%Y-%m-%dT%H:%M:%SZ")
    assert abs(expires.replace(tzinfo=UTC) - (before + timedelta(days=500))) < timedelta(minutes=5)
    assert signed_of(ws / "metadata" / "root.json")["version"] == 5

    for result in both_clients(ws / "metadata"):
        assert (result["root_version"], result["timestamp_version"], result["snapshot_version"]) == (5, 2, 1)

    verify = ok(cli("verify", ws / "metadata"))
    assert "valid: root chain to version 5" in verify.stdout
    transcript = ok(cli("transcript", "verify", ws))
    assert transcript.stdout.startswith("transcript ok: 5 entries")

    diff = ok(cli("diff", ws, "2", "3")).stdout
    assert "role root: threshold 2 -> 3, 5 keys" in diff
    assert f"+ key {root_5[:12]}" in diff and f"+ key {tok_b['keyid'][:12]}" in diff
    assert "- key" not in diff


# --------------------------------------------------------------------------- 2. delegation


class _RecordingHandler(http.server.SimpleHTTPRequestHandler):
    requests: list[str]

    def do_GET(self) -> None:
        self.requests.append(self.path)
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def recording_server(directory: Path) -> Iterator[tuple[str, list[str]]]:
    """Serve ``directory`` on 127.0.0.1 and record every path asked for."""
    seen: list[str] = []
    handler = type("Handler", (_RecordingHandler,), {"requests": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def python_tuf_lookup(metadata: Path, target: str) -> tuple[bool, list[str], list[str]]:
    """python-tuf looks ``target`` up: (found, files in its verified cache, paths it asked the server for)."""
    from tuf.ngclient import Updater

    with recording_server(metadata) as (url, seen), tempfile.TemporaryDirectory() as cache:
        updater = Updater(
            metadata_dir=cache,
            metadata_base_url=url,
            target_base_url=url + "targets/",
            bootstrap=(metadata / "1.root.json").read_bytes(),
        )
        updater.refresh()
        found = updater.get_targetinfo(target) is not None
        return found, sorted(p.name for p in Path(cache).iterdir()), list(seen)


def tufjs_lookup(metadata: Path, target: str) -> tuple[bool, list[str]]:
    """tuf-js looks ``target`` up: (found, paths it asked the server for)."""
    node = shutil.which("node")
    assert node, "node is required for the tuf-js client"
    with recording_server(metadata) as (url, seen):
        proc = subprocess.run(
            [
                node,
                str(TUFJS_DIR / "refresh.mjs"),
                "--metadata-url",
                url,
                "--root",
                str(metadata / "1.root.json"),
                "--target",
                target,
            ],
            cwd=TUFJS_DIR,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert proc.returncode == 0 and result["ok"], result
    return result["targets"][target], list(seen)


def fetched(paths: list[str], role: str) -> bool:
    return any(re.fullmatch(rf"/(\d+\.)?{re.escape(role)}\.json", p) for p in paths)


def test_delegation_walked_by_both_clients_then_removed(cli: CliRunner, workspace: Path, passphrase_file: Path) -> None:
    result = ok(
        cli(
            "delegate",
            workspace,
            "releases",
            "--paths",
            "releases/*",
            "--keys",
            "2",
            "--threshold",
            "2",
            "--key-type",
            "ed25519",
            "--passphrase-file",
            passphrase_file,
            "--yes",
        )
    )
    assert "role releases: ADDED, paths ['releases/*']" in result.stdout
    metadata = workspace / "metadata"
    targets = signed_of(metadata / "targets.json")
    (role,) = targets["delegations"]["roles"]
    assert (role["name"], role["paths"], role["threshold"], len(role["keyids"])) == ("releases", ["releases/*"], 2, 2)
    releases = json.loads((metadata / "releases.json").read_bytes())
    assert sorted(s["keyid"] for s in releases["signatures"]) == sorted(role["keyids"])
    assert signed_of(metadata / "snapshot.json")["meta"]["releases.json"]["version"] == 1

    # Both clients walk the delegation for a path under releases/ (the role is empty, so nothing is found) ...
    found, cache, asked = python_tuf_lookup(metadata, "releases/a.tgz")
    assert found is False and "releases.json" in cache and fetched(asked, "releases")
    found, asked = tufjs_lookup(metadata, "releases/a.tgz")
    assert found is False and fetched(asked, "releases")
    # ... and do not fetch it for a path it does not cover (so the checks above can fail).
    found, cache, asked = python_tuf_lookup(metadata, "other/a.tgz")
    assert "releases.json" not in cache and not fetched(asked, "releases")
    found, asked = tufjs_lookup(metadata, "other/a.tgz")
    assert not fetched(asked, "releases")
    for client in both_clients(metadata, ("releases/a.tgz",)):
        assert (client["targets_version"], client["snapshot_version"], client["timestamp_version"]) == (2, 2, 2)

    result = ok(cli("delegate", workspace, "releases", "--remove", "--passphrase-file", passphrase_file, "--yes"))
    assert "releases.json: REMOVED" in result.stdout
    assert not (metadata / "releases.json").exists()
    assert (
        "delegations" not in signed_of(metadata / "targets.json")
        or not signed_of(metadata / "targets.json")["delegations"]["roles"]
    )
    assert "releases.json" not in signed_of(metadata / "snapshot.json")["meta"]
    for client in both_clients(metadata, ("releases/a.tgz",)):
        assert (client["targets_version"], client["snapshot_version"], client["timestamp_version"]) == (3, 3, 3)
        assert client["targets"] == {"releases/a.tgz": False}
    _found, cache, asked = python_tuf_lookup(metadata, "releases/a.tgz")
    assert "releases.json" not in cache and not fetched(asked, "releases")
    ok(cli("verify", metadata))
    ok(cli("transcript", "verify", workspace))


# --------------------------------------------------------------------------- 5. refusals


def _refused(cli: CliRunner, workspace: Path, *args: Any) -> str:
    """Run a change that must be refused; return its one error line after checking nothing changed."""
    before = tree(workspace)
    line = one_line_error(cli(*args))
    assert tree(workspace) == before, f"the workspace changed although {args[0]} was refused"
    return line


def test_threshold_above_the_keys(cli: CliRunner, workspace: Path, passphrase_file: Path) -> None:
    pf = ("--passphrase-file", passphrase_file, "--yes")
    line = _refused(cli, workspace, "rotate", workspace, "--role", "root", "--threshold", "9", *pf)
    assert "root: threshold 9 is above its 3 keys; the role could never be signed" in line
    line = _refused(cli, workspace, "rotate", workspace, "--role", "targets", "--threshold", "2", *pf)
    assert "targets: threshold 2 is above its 1 key;" in line
    line = _refused(cli, workspace, "rotate", workspace, "--role", "root", "--threshold", "0", *pf)
    assert "threshold 0 is not allowed; it must be at least 1" in line


def test_root_threshold_needing_keys_held_elsewhere_is_not_published(
    cli: CliRunner, workspace: Path, passphrase_file: Path, tmp_path: Path
) -> None:
    held = [public_pem(tmp_path / f"held-{i}.pem") for i in (1, 2)]
    pf = ("--passphrase-file", passphrase_file, "--yes")
    # New root 3 of 4 (root-2, root-3 and two keys held elsewhere): only 2 of its signatures can be made here.
    line = _refused(
        cli, workspace, "rotate", workspace, "--role", "root", "--revoke", "root-1",
        "--add", held[0], "--add", held[1], "--threshold", "3", *pf,
    )  # fmt: skip
    assert line.startswith("error: not published:")
    assert "new root (version 2): 2 of 3" in line and "old root (version 1): 2 of 2" in line
    assert "new root (version 2) needs 1 more of: root-4" in line and "root-5" in line
    # Revoking two of three root keys for keys held elsewhere: neither threshold can be met here.
    line = _refused(
        cli, workspace, "rotate", workspace, "--role", "root", "--revoke", "root-1", "--revoke", "root-2",
        "--add", held[0], "--add", held[1], *pf,
    )  # fmt: skip
    assert line.startswith("error: not published:") and "new root (version 2): 1 of 2" in line
    assert not (workspace / "metadata" / "2.root.json").exists()


def test_extend_by_zero_days(cli: CliRunner, workspace: Path, passphrase_file: Path) -> None:
    for role in ("root", "timestamp"):
        line = _refused(
            cli,
            workspace,
            "extend",
            workspace,
            "--role",
            role,
            "--days",
            "0",
            "--passphrase-file",
            passphrase_file,
            "--yes",
        )
        assert f"{role}: an expiry of 0 days is not in the future" in line


def test_key_added_twice(cli: CliRunner, workspace: Path, passphrase_file: Path, tmp_path: Path) -> None:
    pem = public_pem(tmp_path / "k.pem")
    pf = ("--passphrase-file", passphrase_file, "--yes")
    line = _refused(cli, workspace, "rotate", workspace, "--role", "root", "--add", pem, "--add", pem, *pf)
    assert "is listed twice" in line
    # A key the role already has, given again as a public key file.
    root_2 = label_of(workspace, "root-2")
    public_hex = signed_of(workspace / "metadata" / "root.json")["keys"][root_2]["keyval"]["public"]
    again = tmp_path / "root-2.pem"
    again.write_bytes(
        ed25519.Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex)).public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    line = _refused(cli, workspace, "rotate", workspace, "--role", "root", "--add", again, *pf)
    assert f"root: key {root_2[:12]} is listed twice" in line


def test_root_threshold_without_spare_key(cli: CliRunner, workspace: Path, passphrase_file: Path) -> None:
    pf = ("--passphrase-file", passphrase_file, "--yes")
    line = _refused(cli, workspace, "rotate", workspace, "--role", "root", "--threshold", "3", *pf)
    assert "root threshold 3 of 3 keys leaves no spare key" in line and "--no-spare-root-key" in line
    # Accepted when the operator says so explicitly: the check refuses only what it names.
    ok(cli("rotate", workspace, "--role", "root", "--threshold", "3", "--no-spare-root-key", *pf))
    assert signed_of(workspace / "metadata" / "2.root.json")["roles"]["root"]["threshold"] == 3


def test_revoking_a_key_not_in_the_role(cli: CliRunner, workspace: Path, passphrase_file: Path) -> None:
    pf = ("--passphrase-file", passphrase_file, "--yes")
    line = _refused(cli, workspace, "rotate", workspace, "--role", "root", "--revoke", "timestamp", *pf)
    assert "--revoke timestamp: no key of role root matches" in line
    line = _refused(cli, workspace, "rotate", workspace, "--role", "root", "--revoke", "ffffffff", *pf)
    assert "--revoke ffffffff: no key of role root matches" in line


# --------------------------------------------------------------------------- 6. digest shown before signing


def test_every_signing_command_shows_diff_and_words(
    cli: CliRunner, workspace: Path, passphrase_file: Path, tmp_path: Path
) -> None:
    pf = ("--passphrase-file", passphrase_file, "--yes")
    metadata = workspace / "metadata"

    out = ok(cli("extend", workspace, "--role", "root", "--days", "400", *pf)).stdout
    assert "What will change:" in out and "2.root.json (root)" in out and "version: 1 -> 2" in out
    digest, _ = shown_digest(out)
    # One file: the digest is the SHA-256 of exactly the canonical bytes the keys signed.
    assert digest == hashlib.sha256(canonical(signed_of(metadata / "2.root.json"))).hexdigest()

    out = ok(cli("rotate", workspace, "--role", "root", "--revoke", "root-1", "--add", "ed25519", *pf)).stdout
    assert "- key" in out and "+ key" in out
    assert "rotate root: revoke 1 key, add 1, threshold 2 (unchanged)" in out
    digest, _ = shown_digest(out)
    assert digest == hashlib.sha256(canonical(signed_of(metadata / "3.root.json"))).hexdigest()

    out = ok(cli("extend", workspace, "--role", "timestamp", "--days", "2", *pf)).stdout
    digest, _ = shown_digest(out)
    assert "timestamp.json (timestamp)" in out
    assert digest == hashlib.sha256(canonical(signed_of(metadata / "timestamp.json"))).hexdigest()

    out = ok(
        cli("delegate", workspace, "releases", "--paths", "releases/*", "--keys", "1", "--key-type", "ed25519", *pf)
    ).stdout
    assert "role releases: ADDED" in out and "releases.json (targets)" in out
    shown_digest(out)
    out = ok(cli("delegate", workspace, "releases", "--remove", *pf)).stdout
    assert "role releases: REMOVED" in out
    shown_digest(out)

    # A sign request: the words the administrator reads are the words each keyholder sees.
    held = public_pem(tmp_path / "held.pem")
    out = ok(cli("rotate", workspace, "--role", "root", "--add", held, "--request", tmp_path / "req.json", *pf)).stdout
    request_digest, request_words = shown_digest(out)
    assert json.loads((tmp_path / "req.json").read_bytes())["digest"] == request_digest
    keyid = label_of(workspace, "root-2")
    out = ok(cli("sign", tmp_path / "req.json", "--key", workspace / "keys" / f"{keyid}.p12", *pf)).stdout
    assert "What will change:" in out and "+ key" in out
    assert shown_digest(out) == (request_digest, request_words)


# --------------------------------------------------------------------------- 7. a change keeps the expiry it is not about


def test_a_change_keeps_an_extension_published_before(workspace: Path) -> None:
    """Delegating minutes after ``extend --role targets --days 180`` set targets back to its 90-day policy (issue 14).

    Every planner that re-signs targets without being about its expiry keeps the published one; the delegation is
    applied and the published metadata checked, the other planners' proposals are checked unsigned (what
    keyholders would be asked to sign).
    """
    metadata = workspace / "metadata"
    before = signed_of(metadata / "targets.json")["expires"]
    with contextlib.ExitStack() as stack:
        ctx = ChangeContext(Workspace.load(workspace), lambda _label: PASSPHRASE, None, stack, datetime.now(UTC))
        changes.apply(ctx, *changes.plan_extension(ctx, "targets", 180))
        extended = signed_of(metadata / "targets.json")["expires"]
        assert extended > before  # the 180 days are published (the default policy is 90)

        ctx = ChangeContext(Workspace.load(workspace), lambda _label: PASSPHRASE, None, stack, datetime.now(UTC))
        planned = {
            "targets add": targets.plan_targets(ctx, "targets", add=[targets.NewTarget("a.txt", b"a")]),
            "rotation re-signing targets": changes.plan_rotation(ctx, "targets", [], ["ed25519"], None),
            "hash bins": changes.plan_succinct_delegation(ctx, "bins", 4, [], 1, "ed25519", 1, None),
        }
        for what, (_state, proposal) in planned.items():
            assert proposal.metadata["targets"].signed.expires.strftime("%Y-%m-%dT%H:%M:%SZ") == extended, what

        state, proposal = changes.plan_delegation(ctx, "releases", ["releases/*"], [], 1, "ed25519", 1, False, None)
        lines, _hex, _words = describe_proposal(state, proposal)
        changes.apply(ctx, state, proposal)
    published = signed_of(metadata / "targets.json")
    assert (published["version"], published["expires"]) == (3, extended)
    assert "  expires: " + extended + " (unchanged)" in lines
    (new_role,) = [line for line in lines if line.startswith("  new role releases: ")]
    assert re.fullmatch(
        r"  new role releases: version 1, expires \S+Z, keys [0-9a-f]{12} \(ed25519\), threshold 1", new_role
    )
    assert "  lists releases.json (new): version 1" in lines
    assert not [line for line in lines if "None" in line], lines

    with contextlib.ExitStack() as stack:
        ctx = ChangeContext(Workspace.load(workspace), lambda _label: PASSPHRASE, None, stack, datetime.now(UTC))
        _state, proposal = changes.plan_undelegation(ctx, "releases")
    assert proposal.metadata["targets"].signed.expires.strftime("%Y-%m-%dT%H:%M:%SZ") == extended


# --------------------------------------------------------------------------- an online role handed to a key held elsewhere


def test_timestamp_key_handed_to_the_online_service(cli: CliRunner, workspace: Path, passphrase_file: Path) -> None:
    """rotate --role timestamp --add PEM: root N+1 is published; the online service, holding the key, re-signs."""
    from securesystemslib.signer import CryptoSigner
    from tuf.api.metadata import Metadata

    online = ec.generate_private_key(ec.SECP256R1())
    pem = workspace.parent / "online.pem"
    pem.write_bytes(
        online.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    result = ok(
        cli(
            "rotate",
            workspace,
            "--role",
            "timestamp",
            "--revoke",
            "timestamp",
            "--add",
            pem,
            "--passphrase-file",
            passphrase_file,
            "--yes",
        )
    )
    assert "timestamp.json must be re-signed by the online service with the new key" in result.stdout
    assert "timestamp.json: signed by 0 of the 1 required keys" in result.stderr  # warned, not hidden
    metadata = workspace / "metadata"
    (new_keyid,) = keyids(workspace, "timestamp", 2)
    assert signed_of(metadata / "timestamp.json")["version"] == 1  # untouched: the workspace cannot sign it

    # Until the online service re-signs, clients refuse the timestamp (the repository says so too).
    assert "timestamp.json" in one_line_error(cli("verify", metadata))
    with pytest.raises(Exception, match="timestamp"):
        python_tuf_refresh(metadata, metadata / "1.root.json")

    # The online service re-signs timestamp.json with its key, outside ceremony.
    timestamp = Metadata.from_bytes((metadata / "timestamp.json").read_bytes())
    timestamp.signed.version += 1
    timestamp.signatures.clear()
    signer = CryptoSigner(online)
    assert signer.public_key.keyid == new_keyid
    timestamp.sign(signer)
    (metadata / "timestamp.json").write_bytes(timestamp.to_bytes())
    for client in both_clients(metadata):
        assert (client["root_version"], client["timestamp_version"]) == (2, 2)


def test_replace_every_root_key_at_once_in_the_workspace(cli: CliRunner, tmp_path: Path, passphrase_file: Path) -> None:
    from tests.clients import python_tuf_refresh

    ws = tmp_path / "ws"
    assert cli("init", ws, "--passphrase-file", passphrase_file, "--yes").returncode == 0
    result = cli(
        "rotate",
        ws,
        "--role",
        "root",
        "--revoke",
        "root-1",
        "--revoke",
        "root-2",
        "--revoke",
        "root-3",
        "--add",
        "ed25519",
        "--add",
        "ed25519",
        "--add",
        "ed25519",
        "--passphrase-file",
        passphrase_file,
        "--yes",
    )
    assert result.returncode == 0, result.stderr
    assert "old root (version 1): 2 of 2" in result.stdout and "new root (version 2): 2 of 2" in result.stdout
    root = json.loads((ws / "metadata" / "2.root.json").read_bytes())["signed"]
    old = json.loads((ws / "metadata" / "1.root.json").read_bytes())["signed"]
    assert not set(root["roles"]["root"]["keyids"]) & set(old["roles"]["root"]["keyids"])
    assert python_tuf_refresh(ws / "metadata", ws / "metadata" / "1.root.json")["root_version"] == 2
    config = json.loads((ws / "ceremony.json").read_bytes())
    revoked = [e["label"] for e in config["keys"].values() if e.get("revoked")]
    assert sorted(revoked) == ["root-1", "root-2", "root-3"]
