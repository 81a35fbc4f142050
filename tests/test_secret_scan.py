"""No secret leaves the keyholder's head: a whole ceremony with marker secrets, then a scan of everything.

Each keyholder's passphrase, the new key's passphrase, a wrong passphrase and the
token PIN are distinct random markers (``mk-<hex>``). They are given to the CLI
only the ways an operator gives them: passphrase and PIN files (kept in
``secrets/``, the one directory not scanned) and, once, typed on a terminal.
After init (software keys and a SoftHSM token key), key checks, a root rotation
through a sign request signed by a software and a token key and merged, a key
backup, an export and a refused wrong passphrase, every file under the test's
directory, every captured stdout and stderr, the terminal's screen, and the
command line and environment of a ceremony process waiting at a passphrase or
PIN prompt (read from /proc) are searched for each marker: as UTF-8, UTF-16-LE,
hex, and base64 at each of the three byte alignments.
"""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
from pathlib import Path

import pytest

from tests.conftest import CliRunner, one_line_error
from tests.softhsm import MODULE, new_softhsm
from tests.test_interactive import Terminal


def marker() -> str:
    return f"mk-{secrets.token_hex(12)}"


def encodings(secret: str) -> dict[str, bytes]:
    """How a secret could look in a file: raw, UTF-16-LE, hex, and base64 wherever it starts."""
    raw = secret.encode()
    forms = {"utf-8": raw, "utf-16-le": secret.encode("utf-16-le"), "hex": raw.hex().encode()}
    forms["HEX"] = forms["hex"].upper()
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw).rstrip(b"=")
        # Only the characters made from the secret's own bits, whatever came before it.
        first = -(-8 * shift // 6)
        last = (8 * (shift + len(raw)) - 6) // 6
        core = encoded[first : last + 1]
        forms[f"base64+{shift}"] = core
        forms[f"base64url+{shift}"] = core.replace(b"+", b"-").replace(b"/", b"_")
    return forms


def test_encodings_find_a_secret_inside_base64() -> None:
    secret = marker()
    for prefix in (b"", b"a", b"ab", b"abc", b"abcd"):
        blob = base64.b64encode(prefix + secret.encode() + b"tail")
        assert any(form in blob for name, form in encodings(secret).items() if name.startswith("base64+")), prefix


def _proc(pid: int, name: str) -> bytes:
    return Path(f"/proc/{pid}/{name}").read_bytes()


def test_no_secret_anywhere(tmp_path: Path, cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    hsm = new_softhsm(tmp_path / "softhsm")
    monkeypatch.setenv("SOFTHSM2_CONF", str(hsm.conf))  # for the terminal runs, which inherit the environment
    env = hsm.env
    vault = tmp_path / "secrets"  # the only place a secret is written, by the keyholders themselves
    vault.mkdir()
    names = ["root-1", "root-3", "targets", "snapshot", "timestamp", "root-4", "wrong", "pin"]
    marks = {name: marker() for name in names}
    files = {}
    for name, value in marks.items():
        files[name] = vault / name
        files[name].write_text(value + "\n")
    hsm.make_token("tok", pin=marks["pin"])
    outputs: list[tuple[str, str]] = []

    def run(*args, expect: int = 0, **kwargs) -> subprocess.CompletedProcess[str]:
        result = cli(*args, env=env, **kwargs)
        outputs.append((" ".join(map(str, args)), result.stdout + "\n" + result.stderr))
        if expect == 0:
            assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
        else:
            one_line_error(result)
        return result

    token = f"pkcs11:token=tok;serial={hsm.tokens['tok']}"
    keygen = json.loads(
        run(
            "hsm", "keygen", "--token", token, "--label", "root-key", "--key-type", "ecdsa-p256",
            "--pin-file", files["pin"], "--json",
        ).stdout
    )  # fmt: skip
    token_key = f"{token};object=root-key?module-path={MODULE}&pin-source=file:{files['pin']}"
    ws = tmp_path / "ws"
    run(
        "init", ws, "--root-key", "ed25519", "--root-key", token_key, "--root-key", "ed25519", "--threshold", "2",
        *[a for n in ("root-1", "root-3", "targets", "snapshot", "timestamp") for a in ("--passphrase-file", files[n])],
        "--yes",
    )  # fmt: skip
    config = json.loads((ws / "ceremony.json").read_bytes())
    keyid = {entry["label"]: k for k, entry in config["keys"].items()}
    assert keyid["root-2"] == keygen["keyid"]

    run("key", "check", ws, "root-1", "--passphrase-file", files["root-1"])
    run("key", "check", ws, "root-2", "--pin-file", files["pin"])
    line = one_line_error(run("key", "check", ws, "root-3", "--passphrase-file", files["wrong"], expect=1))
    assert marks["wrong"] not in line and marks["root-3"] not in line

    # Root rotation by sign request: root-3 out, a new software key in; root-1 and the token key sign.
    request = tmp_path / "req.json"
    run(
        "rotate", ws, "--role", "root", "--revoke", "root-3", "--add", "ed25519", "--request", request,
        "--passphrase-file", files["root-4"], "--yes",
    )  # fmt: skip
    run("sign", request, "--key", ws / "keys" / f"{keyid['root-1']}.p12", "--passphrase-file", files["root-1"], "--yes")
    run("sign", request, "--key", token_key.split("&pin-source")[0], "--pin-file", files["pin"], "--yes")
    assert "published" in run("merge", ws, request).stdout

    backups = tmp_path / "backups"
    run(
        "backup-key", ws, "root-1", "--shares", "3", "--threshold", "2", "--out", backups / "key",
        "--passphrase-file", files["root-1"],
    )  # fmt: skip
    run("export", ws, "--out", backups / "metadata")

    # Interactive: a passphrase and a PIN typed on a terminal; /proc read while each prompt waits.
    seen: list[tuple[str, bytes]] = []
    for label, prompt, secret in (
        ("root-4", "Passphrase for root-4:", marks["root-4"]),
        ("root-2", "PIN for token 'tok'", marks["pin"]),
    ):
        term = Terminal("key", "check", ws, label)
        term.expect(prompt)
        if prompt.startswith("PIN"):
            term.expect("]:")  # the prompt goes on with the serial and the token's PIN flags
        cmdline, environ = _proc(term.proc.pid, "cmdline"), _proc(term.proc.pid, "environ")
        assert b"\0key\0check\0" in cmdline and b"SOFTHSM2_CONF=" in environ  # the process at the prompt
        seen += [(f"/proc/<key check {label}>/cmdline", cmdline), (f"/proc/<key check {label}>/environ", environ)]
        term.type(secret)
        code, screen = term.finish()
        assert code == 0, screen
        seen.append((f"terminal of key check {label}", screen.encode()))
    assert (tmp_path / "backups" / "key").is_dir() and any((tmp_path / "backups" / "metadata").iterdir())

    # The scan.
    corpus = [(name, text.encode()) for name, text in outputs] + seen
    scanned = 0
    for path in sorted(tmp_path.rglob("*")):
        if vault in path.parents or not path.is_file() or path.is_symlink():
            continue
        corpus.append((str(path.relative_to(tmp_path)), path.read_bytes()))
        scanned += 1
    assert scanned > 40, "the ceremony should have written dozens of files"
    hits = [
        f"{where}: {secret_name} as {form_name}"
        for secret_name, secret in marks.items()
        for form_name, form in encodings(secret).items()
        for where, data in corpus
        if form in data
    ]
    assert not hits, "secrets found:\n" + "\n".join(hits)
