"""Docker Content Trust workspaces end to end: ceremony's CLI, the real notary server, the stock notary client,
Docker 20.10's CLI, and dockerd with a registry for signed pushes and verified pulls.

Every scenario runs as docs/dct.md tells an operator to: ``ceremony notary fetch`` on the connected host, the
ceremony offline (``init --profile notary``, ``notary rotate-key``, ``rotate-root``, ``take-over``), then
``ceremony notary publish``; the publisher and consumers use only docker and notary.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from ceremony.core import dct
from tests.conftest import _run, one_line_error
from tests.docker_lab import DockerLab, docker_lab
from tests.notary import PASSPHRASES, NotaryServer, _clean_env, notary_server, running_notary
from tests.softhsm import SoftHsm, new_softhsm

__all__ = ["docker_lab", "notary_server"]  # the fixtures, imported for pytest

#: The publisher's passphrase for the targets key file: the one the Docker runners give docker trust.
PUBLISHER = PASSPHRASES["repository"]


def ok(result: CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"rc {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@dataclass
class Site:
    """One organisation's DCT setup in a test: the offline workspace, its keyholders' passphrase files, and
    the connected host's view of the notary server."""

    server: NotaryServer
    top: Path
    gun: str
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    bundles: int = 0

    @property
    def ws(self) -> Path:
        return self.top / "ws"

    def secret(self, name: str, value: str | None = None) -> Path:
        """A passphrase file of a keyholder (or of the publisher)."""
        path = self.top / f"{name}.pass"
        path.write_text((value or f"passphrase of {name}") + "\n")
        return path

    def bundle(self, what: str) -> Path:
        self.bundles += 1
        return self.top / f"{self.bundles:02d}-{what}.bundle"

    def ceremony(self, *args: str | Path, offline: bool = False) -> CompletedProcess[str]:
        """``ceremony ARGS``; ``offline`` runs it in a network namespace with no interface up (the air gap)."""
        if not offline:
            return _run(*args, env=self.env)
        return subprocess.run(
            ["unshare", "--net", sys.executable, "-m", "ceremony", *map(str, args)],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=300,
            check=False,
        )

    def fetch(self) -> Path:
        out = self.bundle("fetched")
        ok(
            self.ceremony(
                "notary", "fetch", "--server", self.server.url, "--gun", self.gun, "--ca", self.server.ca, "--out", out
            )
        )
        return out

    def publish(self, bundle: Path) -> str:
        return ok(self.ceremony("notary", "publish", bundle, "--server", self.server.url, "--ca", self.server.ca))

    def passphrases(self, *names: str) -> list[str | Path]:
        return [
            arg
            for name in names
            for arg in ("--passphrase-file", self.secret(name, PUBLISHER if name == "publisher" else None))
        ]

    def init(self, *extra: str | Path, keys: tuple[str, ...] = ("root-1", "root-2", "root-3")) -> dict:
        """A new DCT repository, published; returns ``ceremony status --json``."""
        fetched, out = self.fetch(), self.bundle("v1")
        ok(
            self.ceremony(
                "init",
                self.ws,
                "--profile",
                "notary",
                "--gun",
                self.gun,
                "--server-keys",
                fetched,
                "--out",
                out,
                "--targets-key-out",
                self.top / "targets.key",
                *extra,
                *self.passphrases(*keys, "publisher"),
                "--yes",
                offline=True,
            )
        )
        self.publish(out)
        return self.status()

    def rotate_root(self, *args: str, keys: tuple[str, ...]) -> CompletedProcess[str]:
        """``ceremony notary rotate-root WS ARGS`` offline, then publish its bundle; ``keys`` in the order asked."""
        fetched, out = self.fetch(), self.bundle("rotated")
        rotated = self.ceremony(
            "notary",
            "rotate-root",
            self.ws,
            "--from",
            fetched,
            *args,
            "--out",
            out,
            *self.passphrases(*keys),
            "--yes",
            offline=True,
        )
        ok(rotated)
        self.publish(out)
        return rotated

    def rotate_targets_key(self, *, offline: bool = True) -> tuple[str, Path]:
        """``ceremony notary rotate-key WS`` from a fresh fetch, the publisher's new key in targets2.key; returns its
        output and the publish bundle (not yet published)."""
        fetched, out = self.fetch(), self.bundle("new-targets-key")
        rotated = self.ceremony(
            "notary",
            "rotate-key",
            self.ws,
            "--from",
            fetched,
            "--out",
            out,
            "--targets-key-out",
            self.top / "targets2.key",
            *self.passphrases("root-1", "root-2", "publisher"),
            "--yes",
            offline=offline,
        )
        return ok(rotated), out

    def take_over(self, trusted: Path, fetched: Path, key: Path, key_passphrase: Path) -> CompletedProcess[str]:
        """``ceremony notary take-over WS`` offline: the laptop's key file and its passphrase, root-1's new one."""
        return self.ceremony(
            "notary",
            "take-over",
            self.ws,
            "--gun",
            self.gun,
            "--trusted-root",
            trusted,
            "--yes",
            "--from",
            fetched,
            "--key",
            key,
            "--key-passphrase-file",
            key_passphrase,
            *self.passphrases("root-1"),
            offline=True,
        )

    def status(self) -> dict:
        return json.loads(ok(self.ceremony("status", self.ws, "--json", offline=True)))

    def notary(self, trust: Path, *args: str | Path, config: Path | None = None) -> CompletedProcess[str]:
        """The stock client with its own trust dir (a consumer), optionally another client config (pinning)."""
        if config is None:
            return self.server.notary(trust, *args)
        return subprocess.run(
            ["notary", "-c", str(config), "-d", str(trust), *map(str, args)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=_clean_env({"HOME": str(self.top)}),
        )

    def pinned_config(self, name: str, pinning: dict) -> Path:
        config = json.loads(self.server.client_config.read_text())
        config["trust_pinning"] = pinning
        path = self.top / f"{name}.json"
        path.write_text(json.dumps(config))
        return path


def new_site(server: NotaryServer, tmp_path: Path, gun: str | None = None, hsm: SoftHsm | None = None) -> Site:
    site = Site(server, tmp_path, gun or server.new_gun("dct"))
    if hsm is not None:
        site.env.update(hsm.env)
    return site


def root_ids(status: dict) -> list[str]:
    return sorted(k["certificate_id"] for k in status["root_keys"])


def load_targets_key(server: NotaryServer, docker_config: Path, key_file: Path, name: str) -> None:
    """The publisher's step: docker trust key load (the file must be 0600; ceremony wrote it so)."""
    assert key_file.stat().st_mode & 0o777 == 0o600
    loaded = ok(server.docker(docker_config, "trust", "key", "load", key_file, "--name", name))
    assert f"Successfully imported key from {key_file}" in loaded


# --------------------------------------------------------------------------------------------------- scenarios


def test_new_repository_with_a_token_root_key_is_pushed_to_and_pulled_from(
    notary_server: NotaryServer, docker_lab: DockerLab, tmp_path: Path
) -> None:
    """2-of-3 root, one key on a SoftHSM token; docker trust signer add, inspect, a signed push, a verified pull."""
    hsm = new_softhsm(tmp_path / "hsm")
    serial = hsm.make_token("dct-root-3")
    site = new_site(notary_server, tmp_path, docker_lab.new_repository("dct"), hsm)
    status = site.init(
        "--root-key",
        "ecdsa-p256",
        "--root-key",
        "ecdsa-p256",
        "--root-key",
        f"token:{serial}",
        "--threshold",
        "2",
        "--pin-file",
        hsm.pin_file,
        keys=("root-1", "root-2"),
    )
    assert status["roles"][0]["role"] == "root" and status["roles"][0]["threshold"] == 2
    assert [k["location"].split(":")[0] for k in status["root_keys"]] == ["file", "file", "pkcs11"]

    # What the server serves is byte for byte what the ceremony signed.
    for name in ("root.json", "targets.json"):
        code, served = notary_server.get(f"/v2/{site.gun}/_trust/tuf/{name}")
        assert code == 200 and served == (site.ws / "metadata" / name).read_bytes(), name

    publisher, consumer = tmp_path / "publisher", tmp_path / "consumer"
    trust = docker_lab.content_trust(notary_server, publisher)
    load_targets_key(notary_server, publisher, site.top / "targets.key", "targets")
    ok(notary_server.docker(publisher, "trust", "key", "generate", "alice", "--dir", tmp_path))
    added = ok(
        notary_server.docker(publisher, "trust", "signer", "add", "--key", tmp_path / "alice.pub", "alice", site.gun)
    )
    assert "Successfully added signer: alice" in added and "Successfully initialized" not in added
    (inspected,) = json.loads(ok(notary_server.docker(publisher, "trust", "inspect", site.gun)))
    admin = {a["Name"]: sorted(k["ID"] for k in a["Keys"]) for a in inspected["AdministrativeKeys"]}
    assert admin["Root"] == root_ids(status)  # docker shows the certificate ids root.json lists

    docker_lab.make_image(f"{site.gun}:v1", {"hello.txt": b"signed under an offline root\n"})
    pushed = ok(docker_lab.docker(["push", f"{site.gun}:v1"], publisher, env=trust))
    assert f"Successfully signed {site.gun}:v1" in pushed
    ok(docker_lab.docker(["rmi", f"{site.gun}:v1"], publisher))
    ok(docker_lab.docker(["pull", f"{site.gun}:v1"], consumer, env=docker_lab.content_trust(notary_server, consumer)))

    # The stock client agrees, and ceremony verify of the consumer's cache too.
    assert "v1" in ok(site.notary(tmp_path / "stock", "list", site.gun))
    cache = consumer / "trust" / "tuf" / site.gun / "metadata"
    assert "valid: root chain to version 1" in ok(site.ceremony("verify", cache, "--gun", site.gun, offline=True))


def test_targets_key_compromise(notary_server: NotaryServer, tmp_path: Path) -> None:
    """Root v2 with a new targets key and targets v2 re-signed by it, uploaded together: cached clients follow,
    the old key can no longer sign, the new key file works."""
    site = new_site(notary_server, tmp_path)
    site.init()
    publisher = tmp_path / "publisher"
    load_targets_key(notary_server, publisher, site.top / "targets.key", "targets")
    ok(notary_server.docker(publisher, "trust", "key", "generate", "alice", "--dir", tmp_path))
    ok(notary_server.docker(publisher, "trust", "signer", "add", "--key", tmp_path / "alice.pub", "alice", site.gun))
    cached = tmp_path / "cached"
    ok(site.notary(cached, "list", site.gun))  # a consumer that trusts root v1 from now on

    rotated, out = site.rotate_targets_key()
    assert "root.json (root)" in rotated and "role targets: threshold 1 (unchanged), 1 key" in rotated
    assert "re-signed by the new key AS IT IS" in rotated and "signer role targets/alice" in rotated
    site.publish(out)

    ok(site.notary(cached, "list", site.gun))  # the cached consumer follows root v2
    served = notary_server.get_json(f"/v2/{site.gun}/_trust/tuf/targets.json")
    assert served["signed"]["version"] == 3 and "targets/alice" in json.dumps(served["signed"]["delegations"])

    # The old key alone can no longer change targets; the new key file can.
    ok(notary_server.docker(publisher, "trust", "key", "generate", "bob", "--dir", tmp_path))
    refused = notary_server.docker(publisher, "trust", "signer", "add", "--key", tmp_path / "bob.pub", "bob", site.gun)
    assert refused.returncode != 0 and "Failed to add signer" in refused.stderr + refused.stdout
    load_targets_key(notary_server, publisher, site.top / "targets2.key", "targets2")
    added = notary_server.docker(publisher, "trust", "signer", "add", "--key", tmp_path / "bob.pub", "bob", site.gun)
    assert "Successfully added signer: bob" in ok(added)


def test_root_rotations_with_pinned_and_cached_clients(notary_server: NotaryServer, tmp_path: Path) -> None:
    site = new_site(notary_server, tmp_path)
    first = site.init()
    revoked = next(k for k in first["root_keys"] if k["label"] == "root-3")
    kept = next(k for k in first["root_keys"] if k["label"] == "root-1")
    cached = tmp_path / "cached"
    ok(site.notary(cached, "list", site.gun))

    # Rotation 1: root-3 replaced by a new key; rotation 2: every certificate renewed, threshold 2 of 3 kept.
    site.rotate_root("--add", "ecdsa-p256", "--revoke", "root-3", keys=("root-4", "root-1", "root-2"))
    once = tmp_path / "cached-once"
    shutil.copytree(cached, once)
    ok(site.notary(once, "list", site.gun))  # this client now trusts root v2
    site.rotate_root("--renew-certificates", keys=("root-1", "root-2", "root-4"))
    newest = site.status()
    assert newest["root_versions"] == [1, 2, 3] and kept["certificate_id"] not in root_ids(newest)

    # Cached clients follow one (v2 -> v3) and two (v1 -> v3) rotations; a fresh client trusts on first use.
    for client in (once, cached):
        ok(site.notary(client, "list", site.gun))
        trusted = json.loads((client / "tuf" / site.gun / "metadata" / "root.json").read_text())
        assert trusted["signed"]["version"] == 3
    ok(site.notary(tmp_path / "tofu", "list", site.gun))

    pins = json.loads(ok(site.ceremony("notary", "pin", site.ws, offline=True)))["trust_pinning"]["certs"][site.gun]
    assert sorted(pins) == root_ids(newest)
    by_id = site.pinned_config("pin-new", {"certs": {site.gun: pins}})
    ok(site.notary(tmp_path / "pinned-new", "list", site.gun, config=by_id))
    prefix = site.gun.rsplit("/", 1)[0] + "/*"
    ok(
        site.notary(
            tmp_path / "pinned-prefix",
            "list",
            site.gun,
            config=site.pinned_config("pin-prefix", {"certs": {prefix: pins}}),
        )
    )
    old = site.pinned_config("pin-old", {"certs": {site.gun: [revoked["certificate_id"]]}})
    refused = site.notary(tmp_path / "pinned-old", "list", site.gun, config=old)
    assert (
        refused.returncode != 0
        and "unable to match any certificates to trust_pinning" in refused.stdout + refused.stderr
    )


def test_root_certificates_issued_by_a_workspace_ca_are_pinned_by_the_ca(
    notary_server: NotaryServer, tmp_path: Path
) -> None:
    site = new_site(notary_server, tmp_path)
    site.init("--root-ca", "ecdsa-p256", keys=("ca", "root-1", "root-2", "root-3"))
    ca = site.top / "ws-ca.pem"
    snippet = json.loads(ok(site.ceremony("notary", "pin", site.ws, "--ca-out", ca, offline=True)))
    assert snippet["trust_pinning"]["ca"] == {site.gun: str(ca)}
    pinned = site.pinned_config("pin-ca", {"ca": {site.gun: str(ca)}})
    ok(site.notary(tmp_path / "pinned-ca", "list", site.gun, config=pinned))
    other = site.pinned_config("pin-other-ca", {"ca": {site.gun: str(notary_server.ca)}})
    refused = site.notary(tmp_path / "pinned-other", "list", site.gun, config=other)
    assert (
        refused.returncode != 0
        and "unable to match any certificates to trust_pinning" in refused.stdout + refused.stderr
    )

    # A new key's certificate comes from the same CA: CA-pinned clients accept the rotated root.
    site.rotate_root("--add", "ecdsa-p256", "--revoke", "root-3", keys=("ca", "root-4", "root-1", "root-2"))
    ok(site.notary(tmp_path / "pinned-ca-2", "list", site.gun, config=pinned))


def test_take_over_a_repository_the_docker_cli_made(notary_server: NotaryServer, tmp_path: Path) -> None:
    """The root key on a publisher's laptop becomes one key of a 2-of-3 root, then is revoked."""
    laptop = tmp_path / "laptop"
    gun = notary_server.new_gun("laptop")
    ok(notary_server.docker(laptop, "trust", "key", "generate", "alice", "--dir", tmp_path))
    ok(notary_server.docker(laptop, "trust", "signer", "add", "--key", tmp_path / "alice.pub", "alice", gun))
    root_files = [p for p in (laptop / "trust" / "private").iterdir() if "role: root" in p.read_text()]
    assert len(root_files) == 1

    site = new_site(notary_server, tmp_path / "site", gun)
    site.top.mkdir()
    fetched = site.fetch()
    laptop_pass = site.secret("laptop", PASSPHRASES["root"])
    # A key file that is not the repository's root key, and a wrong passphrase: one line each, nothing made.
    other = tmp_path / "other.key"
    shutil.copyfile(next(p for p in (laptop / "trust" / "private").iterdir() if p not in root_files), other)
    refused = site.take_over(
        laptop / "trust" / "tuf" / gun / "metadata" / "root.json",
        fetched,
        other,
        site.secret("repo", PASSPHRASES["repository"]),
    )
    assert "is not a root key of" in one_line_error(refused) and not site.ws.exists()
    refused = site.take_over(
        laptop / "trust" / "tuf" / gun / "metadata" / "root.json",
        fetched,
        root_files[0],
        site.secret("wrong", "not the passphrase"),
    )
    assert "the passphrase is wrong" in one_line_error(refused) and not site.ws.exists()

    ok(site.take_over(laptop / "trust" / "tuf" / gun / "metadata" / "root.json", fetched, root_files[0], laptop_pass))
    site.rotate_root(
        "--add",
        "ecdsa-p256",
        "--add",
        "ecdsa-p256",
        "--add",
        "ecdsa-p256",
        "--revoke",
        "root-1",
        "--threshold",
        "2",
        keys=("root-2", "root-3", "root-4", "root-1"),
    )
    status = site.status()
    assert [k["label"] for k in status["root_keys"]] == ["root-2", "root-3", "root-4"]
    assert status["roles"][0]["threshold"] == 2

    # The laptop (a cached docker client) follows; its root key no longer counts.
    (inspected,) = json.loads(ok(notary_server.docker(laptop, "trust", "inspect", gun)))
    admin = {a["Name"]: sorted(k["ID"] for k in a["Keys"]) for a in inspected["AdministrativeKeys"]}
    assert admin["Root"] == root_ids(status)


def test_offline_commands_need_no_network_and_fetch_does(notary_server: NotaryServer, tmp_path: Path) -> None:
    """The air gap: in a network namespace with no interface up, fetch fails and the offline commands work
    (the other scenarios run every offline command that way)."""
    site = new_site(notary_server, tmp_path)
    site.init()
    failed = site.ceremony(
        "notary",
        "fetch",
        "--server",
        notary_server.url,
        "--gun",
        site.gun,
        "--ca",
        notary_server.ca,
        "--out",
        tmp_path / "x.bundle",
        offline=True,
    )
    assert failed.returncode == 1 and not (tmp_path / "x.bundle").exists(), failed
    for args in (
        ("status", site.ws),
        ("notary", "pin", site.ws),
        ("transcript", "verify", site.ws),
        ("verify", site.ws / "metadata", "--gun", site.gun),
    ):
        ok(site.ceremony(*args, offline=True))
    # A keyholder proves their key as in a TUF workspace; TUF-only changes are refused in one line.
    checked = site.ceremony("key", "check", site.ws, "root-2", "--passphrase-file", site.secret("root-2"), offline=True)
    assert "unlocked and test-signed" in ok(checked)
    refused = site.ceremony("rotate", site.ws, "--role", "root", "--add", "ecdsa-p256", "--yes", offline=True)
    assert "a Docker Content Trust workspace" in one_line_error(refused)


def test_paper_backup_of_a_dct_root_restores_byte_for_byte(notary_server: NotaryServer, tmp_path: Path) -> None:
    site = new_site(notary_server, tmp_path)
    site.init()
    ok(site.ceremony("export", site.ws, "--out", tmp_path / "paper", "--formats", "png,pdf", offline=True))
    pages = sorted((tmp_path / "paper").glob("*-a4.pdf"))
    ok(site.ceremony("restore", "--out", tmp_path / "restored", *pages, offline=True))
    assert (tmp_path / "restored" / "1.root.json").read_bytes() == (site.ws / "metadata" / "1.root.json").read_bytes()
    verified = ok(site.ceremony("verify", tmp_path / "restored", "--gun", site.gun, offline=True))
    assert "valid: root chain to version 1" in verified


def test_root_rotation_through_sign_requests_of_three_keyholders(notary_server: NotaryServer, tmp_path: Path) -> None:
    """Each keyholder signs their own copy of the request, elsewhere, with their own key file; merge takes only
    signatures that verify against the workspace's pending root, and publishes once both thresholds are met."""
    site = new_site(notary_server, tmp_path)
    first = site.init()
    cached = tmp_path / "cached"
    ok(site.notary(cached, "list", site.gun))
    keyholders = {}
    for key in first["root_keys"]:  # each keyholder leaves with their own (encrypted) key file
        own = tmp_path / key["label"] / "my-root-key.p12"
        own.parent.mkdir()
        shutil.copyfile(site.ws / key["location"].removeprefix("file:"), own)
        keyholders[key["label"]] = own

    request = tmp_path / "request.json"
    made = site.ceremony(
        "notary",
        "rotate-root",
        site.ws,
        "--from",
        site.fetch(),
        "--add",
        "ecdsa-p256",
        "--revoke",
        "root-3",
        "--request",
        request,
        *site.passphrases("root-4"),
        "--yes",
        offline=True,
    )
    assert "sign request" in ok(made) and request.stat().st_mode & 0o777 == 0o600
    assert site.status()["root_versions"] == [1]  # nothing is published before the merge

    copies = []
    for label, own in keyholders.items():
        copy = tmp_path / label / "request.json"
        shutil.copyfile(request, copy)
        signed = site.ceremony(
            "sign", copy, "--key", own, "--passphrase-file", site.secret(label), "--yes", offline=True
        )
        assert "signed root.json under" in ok(signed) and "as words (BIP-39)" in signed.stdout
        copies.append(copy)

    # One copy is short of the old threshold: refused, nothing published, the signature kept.
    out = site.bundle("merged")
    short = site.ceremony("merge", site.ws, copies[0], "--out", out, offline=True)
    assert "root version 1" in one_line_error(short) and not out.exists()
    # A copy whose proposed root was edited is refused as tampered.
    tampered = json.loads(copies[1].read_text())
    tampered["root"]["expires"] = "2099-01-01T00:00:00Z"
    bad = tmp_path / "tampered.json"
    bad.write_text(json.dumps(tampered))
    assert "proposes another root" in one_line_error(site.ceremony("merge", site.ws, bad, "--out", out, offline=True))

    ok(site.ceremony("merge", site.ws, *copies[1:], "--out", out, offline=True))
    site.publish(out)
    assert site.status()["root_versions"] == [1, 2]
    ok(site.notary(cached, "list", site.gun))
    root = notary_server.get_json(f"/v2/{site.gun}/_trust/tuf/root.json")
    assert root["signed"]["version"] == 2 and len(root["signatures"]) >= 3


def test_publish_refusals_are_one_line_and_change_nothing(notary_server: NotaryServer, tmp_path: Path) -> None:
    """The bundle rules and the server's own rules, each one sentence naming the file and the rule."""
    site = new_site(notary_server, tmp_path)
    site.init()
    _rotated, out = site.rotate_targets_key(offline=False)
    before = notary_server.get(f"/v2/{site.gun}/_trust/tuf/root.json")

    # A root that changes the targets key without the re-signed targets.json: refused before the upload.
    bundle = json.loads(out.read_text())
    del bundle["files"]["targets.json"]
    alone = tmp_path / "root-alone.bundle"
    alone.write_text(json.dumps(bundle))
    line = one_line_error(
        site.ceremony("notary", "publish", alone, "--server", notary_server.url, "--ca", notary_server.ca)
    )
    assert "targets" in line and notary_server.get(f"/v2/{site.gun}/_trust/tuf/root.json") == before

    # A tampered upload: one byte of the signed root changed; nothing reaches clients.
    tampered = json.loads(out.read_text())
    root = base64.b64decode(tampered["files"]["root.json"])
    tampered["files"]["root.json"] = base64.b64encode(root.replace(b'"version":2', b'"version":3')).decode()
    bad = tmp_path / "tampered.bundle"
    bad.write_text(json.dumps(tampered))
    line = one_line_error(
        site.ceremony("notary", "publish", bad, "--server", notary_server.url, "--ca", notary_server.ca)
    )
    assert "root.json" in line and notary_server.get(f"/v2/{site.gun}/_trust/tuf/root.json") == before

    site.publish(out)
    # A version the server already has newer of (the v1 bundle again, after v2): the server's rule, in one line.
    replay = one_line_error(
        site.ceremony(
            "notary", "publish", site.top / "02-v1.bundle", "--server", notary_server.url, "--ca", notary_server.ca
        )
    )
    assert "root.json" in replay and "version" in replay
    # A bundle that is not one: one line naming the file.
    junk = tmp_path / "junk.bundle"
    junk.write_text("{}")
    assert str(junk) in one_line_error(site.ceremony("notary", "publish", junk, "--server", notary_server.url))


def test_targets_key_compromise_with_docker_push_and_pull(
    notary_server: NotaryServer, docker_lab: DockerLab, tmp_path: Path
) -> None:
    """The publisher pushes with the targets key itself (no signers): after the rotation a cached consumer still
    pulls, a push with the old key is refused, and after loading the new key file pushing works again."""
    site = new_site(notary_server, tmp_path, docker_lab.new_repository("compromised"))
    site.init()
    publisher, consumer = tmp_path / "publisher", tmp_path / "consumer"
    trust = docker_lab.content_trust(notary_server, publisher)
    consumer_trust = docker_lab.content_trust(notary_server, consumer)
    load_targets_key(notary_server, publisher, site.top / "targets.key", "targets")
    docker_lab.make_image(f"{site.gun}:v1", {"v": b"1\n"})
    assert f"Successfully signed {site.gun}:v1" in ok(
        docker_lab.docker(["push", f"{site.gun}:v1"], publisher, env=trust)
    )
    ok(docker_lab.docker(["rmi", f"{site.gun}:v1"], publisher))
    ok(docker_lab.docker(["pull", f"{site.gun}:v1"], consumer, env=consumer_trust))

    _rotated, out = site.rotate_targets_key()
    site.publish(out)

    ok(docker_lab.docker(["rmi", f"{site.gun}:v1"], consumer))
    ok(docker_lab.docker(["pull", f"{site.gun}:v1"], consumer, env=consumer_trust))  # cached root v1 -> v2
    docker_lab.make_image(f"{site.gun}:v2", {"v": b"2\n"})
    refused = docker_lab.docker(["push", f"{site.gun}:v2"], publisher, env=trust)
    assert refused.returncode != 0 and "Successfully signed" not in refused.stdout, refused
    load_targets_key(notary_server, publisher, site.top / "targets2.key", "targets2")
    assert f"Successfully signed {site.gun}:v2" in ok(
        docker_lab.docker(["push", f"{site.gun}:v2"], publisher, env=trust)
    )
    ok(docker_lab.docker(["pull", f"{site.gun}:v2"], consumer, env=consumer_trust))


def test_status_warns_before_a_root_certificate_expires(notary_server: NotaryServer, tmp_path: Path) -> None:
    site = new_site(notary_server, tmp_path)
    status = site.init("--expires", "root=30", "--certificate-days", "30")
    assert any("the certificate of root key root-1 expires on" in w for w in status["warnings"]), status["warnings"]
    shown = ok(site.ceremony("status", site.ws, offline=True))
    assert "certificate until" in shown and "renew it with a root rotation" in shown
    refused = site.ceremony(
        "notary",
        "rotate-root",
        site.ws,
        "--from",
        site.fetch(),
        "--threshold",
        "2",
        "--root-days",
        "60",
        "--out",
        site.bundle("x"),
        *site.passphrases("root-1", "root-2"),
        "--yes",
        offline=True,
    )
    assert "after the certificates of its kept keys" in one_line_error(refused)


@pytest.mark.parametrize("role", ["snapshot", "timestamp"])
def test_server_key_rotation(notary_server: NotaryServer, tmp_path: Path, role: str) -> None:
    """After the server's snapshot or timestamp key leaked: the server makes a new key (fetch --new-server-key),
    root v2 names it, and clients holding root v1 follow while the server signs with the new key."""
    site = new_site(notary_server, tmp_path)
    site.init()
    cached = tmp_path / "cached"
    ok(site.notary(cached, "list", site.gun))
    out, fetched = site.bundle("v2"), site.bundle("fetched-new-key")
    fetch = ["notary", "fetch", "--server", notary_server.url, "--gun", site.gun, "--ca", notary_server.ca]
    assert f"new server {role} key" in ok(site.ceremony(*fetch, "--new-server-key", role, "--out", fetched))
    rotated = site.ceremony(
        "notary",
        "rotate-key",
        site.ws,
        "--role",
        role,
        "--from",
        fetched,
        "--out",
        out,
        *site.passphrases("root-1", "root-2"),
        "--yes",
        offline=True,
    )
    assert f"role {role}: threshold 1 (unchanged), 1 key" in ok(rotated)
    site.publish(out)
    ok(site.notary(cached, "list", site.gun))
    root = notary_server.get_json(f"/v2/{site.gun}/_trust/tuf/root.json")["signed"]
    signed_by = notary_server.get_json(f"/v2/{site.gun}/_trust/tuf/{role}.json")["signatures"][0]["keyid"]
    assert root["roles"][role]["keyids"] == [signed_by] and root["version"] == 2
    again = site.ceremony(
        "notary",
        "rotate-key",
        site.ws,
        "--role",
        role,
        "--from",
        site.fetch(),
        "--out",
        site.bundle("v3"),
        *site.passphrases("root-1", "root-2"),
        "--yes",
        offline=True,
    )
    assert "is the root's already" in one_line_error(again)


def test_a_server_with_a_local_signer_and_ed25519_timestamp_keys(tmp_path: Path) -> None:
    """notary-server with trust_service local signs timestamps with ed25519 keys: the first root names one."""
    with running_notary(tmp_path / "lab", signer="local") as server:
        site = new_site(server, tmp_path / "site")
        site.top.mkdir()
        status = site.init()
        root = server.get_json(f"/v2/{site.gun}/_trust/tuf/root.json")["signed"]
        (timestamp_id,) = root["roles"]["timestamp"]["keyids"]
        assert root["keys"][timestamp_id]["keytype"] == "ed25519"
        assert status["roles"][0]["version"] == 1
        ok(site.notary(tmp_path / "consumer", "list", site.gun))
        timestamp = server.get_json(f"/v2/{site.gun}/_trust/tuf/timestamp.json")
        assert timestamp["signatures"][0]["method"] == "eddsa"


def test_an_expired_targets_file_does_not_block_a_root_rotation(notary_server: NotaryServer, tmp_path: Path) -> None:
    """targets.json is the publisher's: the workspace's old copy and an expired one on the server (a publisher who
    lost the targets key) must not stop the root keyholders from rotating, nor from starting targets afresh."""
    from ceremony.core import dct_changes

    site = new_site(notary_server, tmp_path)
    site.init("--expires", "targets=1")
    later = datetime.now(UTC) + timedelta(days=2)  # targets.json (1 day) has expired, here and on the server

    def passphrase(label: str) -> str:
        return PUBLISHER if label == dct.PUBLISHER_LABEL else f"passphrase of {label}"

    rotated = dct_changes.rotate_root(
        site.ws,
        dct_changes.RootRotation(threshold=1, no_spare_root_key=False),
        site.bundle("v2"),
        passphrase,
        now=later,
        fetched_path=site.fetch(),
    )
    assert rotated.root_version == 2
    site.publish(rotated.bundle)
    fresh = dct_changes.rotate_targets_key(
        site.ws,
        site.fetch(),
        site.bundle("v3"),
        site.top / "targets2.key",
        passphrase,
        now=later,
        empty_targets=True,
    )
    assert fresh.root_version == 3


def test_take_over_after_the_laptop_rotated_its_root(notary_server: NotaryServer, tmp_path: Path) -> None:
    """The laptop's client trusts root v2 (notary key rotate GUN root): the workspace starts its chain there,
    and its first rotation builds on it (v3)."""
    laptop, gun = tmp_path / "laptop", notary_server.new_gun("rotated")
    ok(notary_server.docker(laptop, "trust", "key", "generate", "alice", "--dir", tmp_path))
    ok(notary_server.docker(laptop, "trust", "signer", "add", "--key", tmp_path / "alice.pub", "alice", gun))
    before = {p.name for p in (laptop / "trust" / "private").iterdir()}
    rotated = notary_server.notary(
        laptop / "trust", "key", "rotate", gun, "root", stdin="yes\n", passphrases={"root": PASSPHRASES["root"]}
    )
    ok(rotated)
    ok(notary_server.notary(laptop / "trust", "publish", gun, passphrases={"targets": PASSPHRASES["repository"]}))
    ok(notary_server.notary(laptop / "trust", "list", gun))  # the laptop's cache now trusts root v2
    new_root = [
        p for p in (laptop / "trust" / "private").iterdir() if p.name not in before and "role: root" in p.read_text()
    ]
    assert len(new_root) == 1
    trusted = laptop / "trust" / "tuf" / gun / "metadata" / "root.json"
    assert json.loads(trusted.read_text())["signed"]["version"] == 2

    site = new_site(notary_server, tmp_path / "site", gun)
    site.top.mkdir()
    ok(site.take_over(trusted, site.fetch(), new_root[0], site.secret("laptop", PASSPHRASES["root"])))
    assert site.status()["root_versions"] == [2]
    site.rotate_root(
        "--add",
        "ecdsa-p256",
        "--add",
        "ecdsa-p256",
        "--revoke",
        "root-1",
        "--threshold",
        "1",
        "--no-spare-root-key",
        keys=("root-2", "root-3", "root-1"),
    )
    assert site.status()["root_versions"] == [2, 3]
    (inspected,) = json.loads(ok(notary_server.docker(laptop, "trust", "inspect", gun)))
    admin = {a["Name"]: sorted(k["ID"] for k in a["Keys"]) for a in inspected["AdministrativeKeys"]}
    assert admin["Root"] == root_ids(site.status())


def test_a_dct_root_ceremony_from_its_plan_offline(notary_server: NotaryServer, tmp_path: Path) -> None:
    """docs/examples/dct-new-root.toml with this server's GUN, run by init --plan in a network namespace: the
    preflight's network check passes there, the plan is kept and its step recorded, and the server accepts the
    published root, byte for byte."""
    site = new_site(notary_server, tmp_path)
    example = Path(__file__).resolve().parents[1] / "docs" / "examples" / "dct-new-root.toml"
    plan_file = tmp_path / "dct-plan.toml"
    text = example.read_text().replace("registry.example.com/org/app", site.gun)
    plan_file.write_text(text.replace('workspace = "example-dct-root"', f'workspace = "{site.ws.name}"'))
    fetched, out = site.fetch(), site.bundle("v1")
    shutil.copyfile(fetched, tmp_path / "server-keys.json")  # where the plan says the fetched bundle is
    done = site.ceremony(
        "init", site.ws, "--plan", plan_file, "--out", out,
        "--targets-key-out", site.top / "targets.key", *site.passphrases("root-1", "root-2", "root-3", "publisher"),
        "--yes", "--exception", "test host: disk and install are a developer's", offline=True,
    )  # fmt: skip
    ok(done)
    assert "ok   network: no interface up besides loopback" in done.stdout, done.stdout
    # What the printed script says the screen shows (the workspace named as it was typed here: in full).
    from ceremony.core import plan as _plan

    (create,) = [s for s in _plan.script_steps(_plan.read_plan(plan_file)[0]) if s.command == "init"]
    for shown in create.shows:
        wanted = ".*".join(map(re.escape, shown.replace(f" {site.ws.name}", f" {site.ws}").split("...")))
        assert any(re.search(wanted, line) for line in done.stdout.splitlines()), (shown, done.stdout)
    entry = json.loads((site.ws / "transcript.jsonl").read_text().splitlines()[-1])
    sha = __import__("hashlib").sha256(plan_file.read_bytes()).hexdigest()
    assert entry["details"]["plan"]["sha256"] == sha and entry["details"]["plan"]["kind"] == "dct-new-root"
    assert (site.ws / "plans" / f"{sha}.toml").read_bytes() == plan_file.read_bytes()
    site.publish(out)
    code, served = notary_server.get(f"/v2/{site.gun}/_trust/tuf/root.json")
    assert code == 200 and served == (site.ws / "metadata" / "root.json").read_bytes()
    status = site.status()
    assert status["roles"][0]["threshold"] == 2 and len(status["root_keys"]) == 3
