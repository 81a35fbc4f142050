"""A private Sigstore instance's root made by ceremony, as Sigstore's own clients load it.

The root is 2 of 3 ecdsa-p256 keys, one on a SoftHSM token (``ceremony init --profile sigstore``); the instance's
trust root (Sigstore's public trusted_root.json and signing config) is published as two targets. The workspace
is served by a plain HTTP server on 127.0.0.1 as a mirror (metadata at the root, targets under targets/), and:

* sigstore-python 4.5.1 (``sigstore --instance URL trust-instance 1.root.json``, then ``ClientTrustConfig.from_tuf``
  with its own checks of the trust root and signing config) and sigstore-js (``@sigstore/tuf`` getTrustedRoot)
  load it;
* after a root rotation and after a new trusted root is signed, the same clients, from their caches, follow;
* a target altered after signing is refused by both.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

from tests.clients import serve_repository, sigstore_js_trust, sigstore_python_trust
from tests.conftest import CliRunner, one_line_error
from tests.softhsm import new_softhsm
from tests.test_changes import ok

VECTORS = Path(__file__).resolve().parent / "vectors" / "sigstore-trust"


def logs_of(trusted_root: Path) -> tuple[list[str], list[str]]:
    data = json.loads(trusted_root.read_bytes())
    return [t["baseUrl"] for t in data["tlogs"]], [t["baseUrl"] for t in data["ctlogs"]]


def set_trust(run: functools.partial, ws: Path, instance: str, *extra: object) -> None:
    """Publish INSTANCE's trusted root and signing config as the workspace's two Sigstore targets."""
    trusted, signing = VECTORS / instance / "trusted_root.json", VECTORS / instance / "signing_config.v0.2.json"
    ok(run("sigstore", "set-trust", ws, "--trusted-root", trusted, "--signing-config", signing, *extra, "--yes"))


def test_private_instance_followed_by_sigstore_python_and_sigstore_js(
    cli: CliRunner, tmp_path: Path, passphrase_file: Path
) -> None:
    hsm = new_softhsm(tmp_path / "hsm")
    serial = hsm.make_token("sigstore-root-3")
    run = functools.partial(cli, env=hsm.env)
    ws = tmp_path / "ws"
    pf = ["--passphrase-file", passphrase_file]
    init = ["--root-key", "ecdsa-p256", "--root-key", "ecdsa-p256", "--root-key", f"token:{serial}"]
    ok(run("init", ws, "--profile", "sigstore", *init, "--threshold", "2", *pf, "--pin-file", hsm.pin_file, "--yes"))
    root = json.loads((ws / "metadata" / "1.root.json").read_bytes())["signed"]
    assert root["consistent_snapshot"] is True and root["roles"]["root"]["threshold"] == 2
    assert {k["keytype"] + "/" + k["scheme"] for k in root["keys"].values()} == {"ecdsa/ecdsa-sha2-nistp256"}
    config = json.loads((ws / "ceremony.json").read_bytes())
    assert config["profile"] == "sigstore"
    assert sorted(k["uri"].split(":")[0] for k in config["keys"].values() if "root" in k["roles"]) == [
        "file",
        "file",
        "pkcs11",
    ]
    set_trust(run, ws, "public", *pf)
    bootstrap = ws / "metadata" / "1.root.json"
    public_tlogs, public_ctlogs = logs_of(VECTORS / "public" / "trusted_root.json")
    staging_tlogs, _ = logs_of(VECTORS / "staging" / "trusted_root.json")
    assert public_tlogs != staging_tlogs

    with serve_repository(ws) as url:
        py = sigstore_python_trust(url, tmp_path / "py", bootstrap=bootstrap)
        js = sigstore_js_trust(url, bootstrap, tmp_path / "js")
        assert (py["root_version"], py["tlogs"], py["ctlogs"]) == (1, public_tlogs, public_ctlogs)
        assert py["fulcio"] == "https://fulcio.sigstore.dev"
        assert (js["root_version"], js["tlogs"], js["ctlogs"]) == (1, public_tlogs, public_ctlogs)
        assert js["media_type"] == "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
        assert js["signing_config"] == "application/vnd.dev.sigstore.signingconfig.v0.2+json"

        # A root rotation: root-1 is replaced; root-2 and the token key sign for the old and the new root.
        ok(
            run(
                "rotate",
                ws,
                "--role",
                "root",
                "--revoke",
                "root-1",
                "--add",
                "ecdsa-p256",
                *pf,
                "--pin-file",
                hsm.pin_file,
                "--yes",
            )
        )
        py = sigstore_python_trust(url, tmp_path / "py")
        js = sigstore_js_trust(url, bootstrap, tmp_path / "js")
        assert (py["root_version"], js["root_version"]) == (2, 2)
        assert py["tlogs"] == js["tlogs"] == public_tlogs

        # A new trusted root is signed (another instance's logs): the cached clients load it.
        set_trust(run, ws, "staging", *pf)
        py = sigstore_python_trust(url, tmp_path / "py")
        js = sigstore_js_trust(url, bootstrap, tmp_path / "js")
        assert py["tlogs"] == js["tlogs"] == staging_tlogs
        assert py["fulcio"] == "https://fulcio.sigstage.dev"

        # The served trusted root altered after signing (same length): fresh clients of both refuse it.
        listed = json.loads((ws / "metadata" / "targets.json").read_bytes())["signed"]["targets"]
        served = ws / "targets" / f"{listed['trusted_root.json']['hashes']['sha256']}.trusted_root.json"
        data = served.read_bytes()
        served.write_bytes(data.replace(b"sigstage.dev", b"sigstagE.dev", 1))
        assert served.read_bytes() != data and len(served.read_bytes()) == len(data)
        with pytest.raises(AssertionError, match=r"trust-instance refused: .*Failed to download trusted key bundle"):
            sigstore_python_trust(url, tmp_path / "py-fresh", bootstrap=bootstrap)
        with pytest.raises(AssertionError, match=r"error downloading target .* Expected hash"):
            sigstore_js_trust(url, bootstrap, tmp_path / "js-fresh")


def test_a_key_sigstore_js_cannot_verify_is_refused_in_every_change(
    cli: CliRunner, tmp_path: Path, passphrase_file: Path
) -> None:
    """The profile's key rule holds after init too: rotate and delegate refuse an ecdsa-p384 key before making it."""
    ws = tmp_path / "ws"
    pf = ["--passphrase-file", passphrase_file]
    ok(cli("init", ws, "--profile", "sigstore", *pf, "--yes"))
    before = sorted(p.name for p in (ws / "keys").iterdir())
    for args in (
        ("rotate", ws, "--role", "root", "--add", "ecdsa-p384"),
        ("rotate", ws, "--role", "targets", "--revoke", "targets", "--add", "ecdsa-p384"),
        ("delegate", ws, "releases", "--paths", "releases/*", "--keys", "1", "--key-type", "ecdsa-p384"),
    ):
        line = one_line_error(cli(*args, *pf, "--yes"))
        assert "sigstore-js cannot verify ecdsa-sha2-nistp384 signatures" in line, line
    assert sorted(p.name for p in (ws / "keys").iterdir()) == before  # no key was made
    ok(cli("rotate", ws, "--role", "root", "--add", "ed25519", *pf, "--yes"))  # a key every client verifies
