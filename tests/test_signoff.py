"""Witnessed sign-offs of the transcript head: made with a software key and with a SoftHSM token key through the
CLI, checked by ``ceremony transcript verify``, and refused when the transcript, the signature, the head or the
key is changed afterwards, when a file is hostile, or when the plan says otherwise.

The sign-offs the pure checks read are built here with securesystemslib (its canonical JSON and its signer), not
with ceremony's own code, so the file format is held to the design, not to itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from securesystemslib.formats import encode_canonical
from securesystemslib.signer import CryptoSigner, Signature, SSlibKey

from ceremony.core import plan as plan_module
from ceremony.core import signoff
from ceremony.core import transcript as tr
from ceremony.core.diff import digest_words
from ceremony.core.workspace import Workspace
from ceremony.errors import SignoffError, TranscriptError
from tests.conftest import PASSPHRASE, CliRunner, one_line_error
from tests.softhsm import USER_PIN, keygen, new_softhsm

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
WITNESS = "Wendy Witness"


# --------------------------------------------------------------------------- helpers


def _canonical(value: Any) -> bytes:
    """securesystemslib's canonical JSON, as python-tuf signs ``signed``."""
    text = encode_canonical(value)
    assert text is not None
    return text.encode()


def _key_file(ws: Path, label: str) -> Path:
    config = json.loads((ws / "ceremony.json").read_bytes())
    (keyid,) = [k for k, v in config["keys"].items() if v["label"] == label]
    return ws / "keys" / f"{keyid}.p12"


def _sign(
    cli: CliRunner,
    ws: Path,
    key: str | Path,
    secret: tuple[str, Path],
    *,
    name: str = WITNESS,
    role: str = "witness",
    env: dict[str, str] | None = None,
    yes: bool = True,
) -> Any:
    args = ["transcript", "sign", ws, "--key", key, "--name", name, "--role", role, *secret]
    return cli(*args, *(["--yes"] if yes else []), env=env)


def _head(cli: CliRunner, ws: Path) -> str:
    result = cli("transcript", "verify", ws)
    assert result.returncode == 0, result.stderr
    return result.stdout.split("transcript head: ")[1].split()[0]


def _only_signoff(ws: Path) -> Path:
    (path,) = sorted((ws / "signoffs").iterdir())
    return path


def _generated_key(
    cli: CliRunner, tmp_path: Path, passphrase_file: Path, name: str = "witness.p12"
) -> tuple[Path, str]:
    out = tmp_path / name
    result = cli("key", "generate", out, "--key-type", "ecdsa-p256", "--passphrase-file", passphrase_file)
    assert result.returncode == 0, result.stderr
    return out, result.stdout.split("keyid: ")[1].split()[0]


def _independent_check(document: dict[str, Any]) -> None:
    """The sign-off verified as any TUF tool verifies ``signed``: securesystemslib's own key and canonical JSON."""
    key = document["key"]
    assert document["keyid"] == hashlib.sha256(_canonical(key)).hexdigest()
    public = SSlibKey.from_dict(document["keyid"], dict(key))
    public.verify_signature(Signature(document["keyid"], document["sig"]), _canonical(document["signoff"]))


def _plan_step(ws: Path, participants: str) -> str:
    """What a command run with --plan leaves: plans/<SHA-256>.toml and a transcript entry naming it."""
    text = f"""plan_format = 1

[ceremony]
name = "Test root ceremony"
kind = "new-root"
workspace = "ws"

{participants}

[[keys]]
name = "root-1"
roles = ["root"]
store = "software"
type = "ed25519"
"""
    data = text.encode()
    sha = hashlib.sha256(data).hexdigest()
    plan_module.load_plan(data, "plan.toml")  # a plan the lead's loader accepts
    (ws / "plans").mkdir(mode=0o700, exist_ok=True)
    (ws / "plans" / f"{sha}.toml").write_bytes(data)
    details = {"plan": {"sha256": sha, "name": "Test root ceremony", "kind": "new-root", "step": "S9"}}
    tr.append(ws, "plan step", ["ran step S9"], {f"plans/{sha}.toml": sha}, [], NOW, details)
    return sha


# --------------------------------------------------------------------------- signing and verifying


def test_signoff_with_a_workspace_key_file(cli: CliRunner, workspace: Path, passphrase_file: Path) -> None:
    head = _head(cli, workspace)
    result = _sign(cli, workspace, _key_file(workspace, "root-1"), ("--passphrase-file", passphrase_file))
    assert result.returncode == 0, result.stderr
    assert f"transcript head after 1 entry: {head}" in result.stdout
    assert f"as words (BIP-39): {digest_words(bytes.fromhex(head))}" in result.stdout
    assert len(digest_words(bytes.fromhex(head)).split()) == 24
    path = _only_signoff(workspace)
    document = json.loads(path.read_bytes())
    keyid = _key_file(workspace, "root-1").stem
    assert path.name == f"1-{keyid[:16]}.json" and f"wrote {path}" in result.stdout
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert document["keyid"] == keyid
    assert document["signoff"] == {
        "_type": "ceremony-transcript-signoff",
        "version": 1,
        "workspace": "ws",
        "entries": 1,
        "head": head,
        "signer": WITNESS,
        "role": "witness",
        "time": document["signoff"]["time"],
        "plan_sha256": None,
    }
    _independent_check(document)
    assert PASSPHRASE not in result.stdout + result.stderr + path.read_text()
    verified = cli("transcript", "verify", workspace)
    assert verified.returncode == 0, verified.stderr
    first, *rest = verified.stdout.splitlines()
    assert first.startswith("transcript ok: 1 entry; ") and first.endswith(
        "each matches the last SHA-256 recorded for it"
    )
    assert rest == [
        f"transcript head: {head}",
        f"  as words (BIP-39): {digest_words(bytes.fromhex(head))}",
        f"signed off: {WITNESS} (witness) at entry 1, key {keyid[:16]}, root key 'root-1'",
    ]


def test_no_signoffs_said_so(cli: CliRunner, workspace: Path) -> None:
    result = cli("transcript", "verify", workspace)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "no sign-offs"


def test_signoff_with_a_generated_key_holds_as_the_transcript_grows(
    cli: CliRunner, workspace: Path, passphrase_file: Path, tmp_path: Path
) -> None:
    key, keyid = _generated_key(cli, tmp_path, passphrase_file)
    secret = ("--passphrase-file", passphrase_file)
    assert _sign(cli, workspace, f"file:{key}", secret, name="Otto Auditor", role="auditor").returncode == 0
    assert cli("key", "check", workspace, "root-2", *secret).returncode == 0
    assert _sign(cli, workspace, key, secret, name="Otto Auditor", role="auditor").returncode == 0
    verified = cli("transcript", "verify", workspace)
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.splitlines()[3:] == [
        f"signed off: Otto Auditor (auditor) at entry 1, key {keyid[:16]}, not named in the plan or the metadata",
        f"signed off: Otto Auditor (auditor) at entry 2, key {keyid[:16]}, not named in the plan or the metadata",
    ]
    for path in (workspace / "signoffs").iterdir():
        _independent_check(json.loads(path.read_bytes()))
    # The key check wrote no file, so the chain alone cannot tell that its line was cut off; the sign-off can.
    lines = (workspace / "transcript.jsonl").read_bytes().splitlines(keepends=True)
    (workspace / "transcript.jsonl").write_bytes(lines[0])
    error = one_line_error(cli("transcript", "verify", workspace))
    assert error.startswith(f"error: signoffs/2-{keyid[:16]}.json: signs entry 2, but the transcript has 1")


def test_signoff_with_a_softhsm_token_key(cli: CliRunner, workspace: Path, tmp_path: Path) -> None:
    hsm = new_softhsm(tmp_path / "softhsm")
    hsm.make_token("witness")
    record = keygen(cli, hsm, "witness", "signoff-key")
    uri = hsm.uri("witness", key="signoff-key", pin=False)
    head = _head(cli, workspace)
    result = _sign(cli, workspace, uri, ("--pin-file", hsm.pin_file), env=hsm.env)
    assert result.returncode == 0, result.stderr
    assert f"transcript head after 1 entry: {head}" in result.stdout
    document = json.loads(_only_signoff(workspace).read_bytes())
    assert document["keyid"] == record["keyid"]
    assert document["key"]["keyval"] == record["public_key"]["keyval"]
    assert document["key"]["scheme"] == "ecdsa-sha2-nistp256"
    _independent_check(document)
    assert USER_PIN not in result.stdout + result.stderr + _only_signoff(workspace).read_text()
    verified = cli("transcript", "verify", workspace, env=hsm.env)
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.splitlines()[-1] == (
        f"signed off: {WITNESS} (witness) at entry 1, key {record['keyid'][:16]}, not named in the plan or the metadata"
    )


# --------------------------------------------------------------------------- tampering, through the CLI


@pytest.fixture
def signed(cli: CliRunner, workspace: Path, passphrase_file: Path) -> Path:
    """The workspace after a key check (2 entries), signed off at entry 2 with root-1's key file."""
    assert cli("key", "check", workspace, "root-2", "--passphrase-file", passphrase_file).returncode == 0
    result = _sign(cli, workspace, _key_file(workspace, "root-1"), ("--passphrase-file", passphrase_file))
    assert result.returncode == 0, result.stderr
    return workspace


def test_edited_transcript_line_refused(cli: CliRunner, signed: Path) -> None:
    lines = (signed / "transcript.jsonl").read_bytes().splitlines(keepends=True)
    # The last line: no line follows it, so the chain still holds and only the sign-off can tell.
    lines[1] = lines[1].replace(b'"key check"', b'"key chock"')
    (signed / "transcript.jsonl").write_bytes(b"".join(lines))
    error = one_line_error(cli("transcript", "verify", signed))
    assert error.startswith(f"error: signoffs/{_only_signoff(signed).name}: signs head ")
    assert "the transcript was changed after the sign-off" in error


def test_edited_earlier_line_refused_by_the_chain(cli: CliRunner, signed: Path) -> None:
    lines = (signed / "transcript.jsonl").read_bytes().splitlines(keepends=True)
    lines[0] = lines[0].replace(b'"init"', b'"inot"')
    (signed / "transcript.jsonl").write_bytes(b"".join(lines))
    assert "line 2 does not follow line 1" in one_line_error(cli("transcript", "verify", signed))


def test_altered_signature_refused(cli: CliRunner, signed: Path) -> None:
    path = _only_signoff(signed)
    document = json.loads(path.read_bytes())
    document["sig"] = ("1" if document["sig"][0] != "1" else "2") + document["sig"][1:]
    path.write_text(json.dumps(document))
    error = one_line_error(cli("transcript", "verify", signed))
    assert error.startswith(f"error: signoffs/{path.name}: the signature does not verify")


def _rename(path: Path, document: dict[str, Any]) -> Path:
    new = path.with_name(f"{document['signoff']['entries']}-{document['keyid'][:16]}.json")
    path.unlink()
    new.write_text(json.dumps(document))
    return new


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("head of line 1", "the signature does not verify"),
        ("entries 1, renamed", "the signature does not verify"),
        ("entries 1, same name", "not what its name says"),
        ("head zeros", "the signature does not verify"),
    ],
)
def test_changed_head_or_entries_refused(cli: CliRunner, signed: Path, change: str, expected: str) -> None:
    path = _only_signoff(signed)
    document = json.loads(path.read_bytes())
    first = hashlib.sha256((signed / "transcript.jsonl").read_bytes().splitlines(keepends=True)[0]).hexdigest()
    if change == "head of line 1":
        document["signoff"].update(entries=1, head=first)
        path = _rename(path, document)
    elif change.startswith("entries 1"):
        document["signoff"]["entries"] = 1
        path = _rename(path, document) if change.endswith("renamed") else path
        path.write_text(json.dumps(document))
    else:
        document["signoff"]["head"] = "0" * 64
        path.write_text(json.dumps(document))
    error = one_line_error(cli("transcript", "verify", signed))
    assert error.startswith(f"error: signoffs/{path.name}: ") and expected in error


@pytest.mark.parametrize("keyid", ["kept", "recomputed"])
def test_swapped_key_refused(cli: CliRunner, signed: Path, tmp_path: Path, passphrase_file: Path, keyid: str) -> None:
    other, other_keyid = _generated_key(cli, tmp_path, passphrase_file)
    elsewhere = tmp_path / "elsewhere"
    result = cli(
        "init", elsewhere, "--root-keys", "2", "--threshold", "1", "--passphrase-file", passphrase_file, "--yes"
    )
    assert result.returncode == 0, result.stderr
    assert _sign(cli, elsewhere, other, ("--passphrase-file", passphrase_file)).returncode == 0
    other_document = json.loads(_only_signoff(elsewhere).read_bytes())
    path = _only_signoff(signed)
    document = json.loads(path.read_bytes())
    document["key"] = other_document["key"]
    if keyid == "recomputed":
        document["keyid"] = other_keyid
        path = _rename(path, document)
        expected = "the signature does not verify"
    else:
        path.write_text(json.dumps(document))
        expected = f"does not match the key the file carries (its id is {other_keyid[:16]})"
    error = one_line_error(cli("transcript", "verify", signed))
    assert error.startswith(f"error: signoffs/{path.name}: ") and expected in error


# --------------------------------------------------------------------------- the command line's own refusals


def test_sign_asks_first_and_takes_secrets_from_files_only(
    cli: CliRunner, workspace: Path, passphrase_file: Path
) -> None:
    key = _key_file(workspace, "root-1")
    result = _sign(cli, workspace, key, ("--passphrase-file", passphrase_file), yes=False)
    assert "no terminal to confirm on; pass --yes" in one_line_error(result)
    assert result.returncode == 2 and not (workspace / "signoffs").exists()
    result = _sign(cli, workspace, key, ("--pin-file", passphrase_file))
    assert "--pin-file is for a token key" in one_line_error(result)
    result = _sign(cli, workspace, "pkcs11:token=x;object=y", ("--passphrase-file", passphrase_file))
    assert "--passphrase-file is for a software key" in one_line_error(result)
    result = _sign(cli, workspace, key, ("--passphrase-file", passphrase_file), name="Wendy\x1b[2J")
    assert "holds control, format or surrounding space characters" in one_line_error(result)
    assert not (workspace / "signoffs").exists()
    assert _sign(cli, workspace, key, ("--passphrase-file", passphrase_file)).returncode == 0
    again = _sign(cli, workspace, key, ("--passphrase-file", passphrase_file))
    assert "has already signed off entry 1; nothing was written" in one_line_error(again)


def test_unverified_transcript_is_not_signed(cli: CliRunner, workspace: Path, passphrase_file: Path) -> None:
    target = workspace / "metadata" / "targets.json"
    target.write_bytes(target.read_bytes().replace(b'"version": 1', b'"version": 2'))
    result = _sign(cli, workspace, _key_file(workspace, "root-1"), ("--passphrase-file", passphrase_file))
    assert "metadata/targets.json: differs" in one_line_error(result)
    assert not (workspace / "signoffs").exists()


def test_signoff_directory_read_as_hostile(cli: CliRunner, signed: Path, tmp_path: Path) -> None:
    ws = Workspace.load(signed)
    (check,) = signoff.verify_workspace_signoffs(ws)
    good = _only_signoff(signed)
    outside = tmp_path / "outside.json"
    outside.write_bytes(good.read_bytes())
    link = signed / "signoffs" / f"3-{'a' * 16}.json"
    link.symlink_to(outside)
    with pytest.raises(SignoffError, match=rf"^signoffs/{link.name}: is a symbolic link"):
        signoff.verify_workspace_signoffs(ws)
    link.unlink()
    (signed / "signoffs" / "notes.txt").write_text("hello")
    error = one_line_error(cli("transcript", "verify", signed))
    assert error.startswith("error: signoffs/notes.txt: not a sign-off file name")
    (signed / "signoffs" / "notes.txt").unlink()
    (signed / "signoffs" / f"4-{'b' * 16}.json").mkdir()
    with pytest.raises(SignoffError, match=rf"^signoffs/4-{'b' * 16}.json: is a directory"):
        signoff.verify_workspace_signoffs(ws)
    (signed / "signoffs" / f"4-{'b' * 16}.json").rmdir()
    os.rename(signed / "signoffs", tmp_path / "moved")
    (signed / "signoffs").symlink_to(tmp_path / "moved")
    with pytest.raises(SignoffError, match=r"^signoffs: is a symbolic link"):
        signoff.verify_workspace_signoffs(ws)
    (signed / "signoffs").unlink()
    (signed / "signoffs").mkdir(mode=0o700)
    for number in range(signoff.MAX_SIGNOFF_FILES + 1):
        (signed / "signoffs" / f"{number + 1}-{'c' * 16}.json").write_bytes(b"")
    with pytest.raises(SignoffError, match=r"^signoffs: more than 1,000 files; refused"):
        signoff.verify_workspace_signoffs(ws)
    assert check.who == "root key 'root-1'"


# --------------------------------------------------------------------------- the plan


def test_the_plan_in_effect_holds_signers_to_their_role_and_key(
    cli: CliRunner, workspace: Path, passphrase_file: Path, tmp_path: Path
) -> None:
    key, keyid = _generated_key(cli, tmp_path, passphrase_file)
    other, _other_keyid = _generated_key(cli, tmp_path, passphrase_file, "other.p12")
    sha = _plan_step(
        workspace,
        f"""[[participants]]
name = "Alice Admin"
role = "administrator"

[[participants]]
name = "{WITNESS}"
role = "witness"
signoff_keyid = "{keyid}"
""",
    )
    secret = ("--passphrase-file", passphrase_file)
    error = one_line_error(_sign(cli, workspace, key, secret, role="auditor"))
    assert error == (
        f"error: plans/{sha}.toml: signed by '{WITNESS}' as auditor, but the plan names '{WITNESS}' as witness; "
        "nothing was signed"
    )
    error = one_line_error(_sign(cli, workspace, other, secret))
    assert error.startswith(f"error: plans/{sha}.toml: signed by '{WITNESS}' with key ")
    assert f"but the plan names key {keyid[:16]} for '{WITNESS}'" in error
    error = one_line_error(_sign(cli, workspace, key, secret, name="Alice Admin", role="administrator"))
    assert f"but the plan names key {keyid[:16]} as '{WITNESS}''s" in error
    assert not (workspace / "signoffs").exists()
    result = _sign(cli, workspace, key, secret)
    assert result.returncode == 0, result.stderr
    assert f"(SHA-256 {sha})" in result.stdout
    assert json.loads(_only_signoff(workspace).read_bytes())["signoff"]["plan_sha256"] == sha
    verified = cli("transcript", "verify", workspace)
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.splitlines()[-1] == (
        f"signed off: {WITNESS} (witness) at entry 2, key {keyid[:16]}, named in the plan for {WITNESS}"
    )


# --------------------------------------------------------------------------- the pure check, file by file

_SIGNER = CryptoSigner.generate_ed25519()
_OTHER = CryptoSigner.generate_ed25519()


def _transcript(count: int = 2) -> list[bytes]:
    lines: list[bytes] = []
    for number in range(count):
        lines.append(tr.build_entry(lines, "key check", [f"check {number}"], {}, [], NOW))
    return lines


def _document(lines: list[bytes], by: CryptoSigner = _SIGNER, **changes: Any) -> dict[str, Any]:
    """A sign-off made as the design says, by securesystemslib: ``changes`` are made before signing."""
    entries = changes.pop("entries", len(lines))
    body: dict[str, Any] = {
        "_type": "ceremony-transcript-signoff",
        "version": 1,
        "workspace": "ws",
        "entries": entries,
        "head": hashlib.sha256(lines[min(entries, len(lines)) - 1]).hexdigest(),
        "signer": WITNESS,
        "role": "witness",
        "time": "2026-01-02T03:04:05Z",
        "plan_sha256": None,
        **changes,
    }
    key = {k: v for k, v in by.public_key.to_dict().items() if k in ("keytype", "scheme", "keyval")}
    keyid = hashlib.sha256(_canonical(key)).hexdigest()
    sig = by.sign(_canonical(body)).signature
    return {"signoff": body, "keyid": keyid, "key": key, "sig": sig}


def _named(document: dict[str, Any]) -> str:
    return f"signoffs/{document['signoff']['entries']}-{document['keyid'][:16]}.json"


def test_a_sign_off_made_as_designed_verifies() -> None:
    lines = _transcript()
    document = _document(lines)
    (check,) = signoff.verify_signoff_files(lines, {_named(document): json.dumps(document).encode()}, None, {})
    assert check == signoff.SignoffCheck(
        _named(document), WITNESS, "witness", 2, document["signoff"]["head"], document["keyid"], signoff.NOT_NAMED
    )
    known = {document["keyid"]: "root key 'root-1'"}
    (check,) = signoff.verify_signoff_files(lines, {_named(document): json.dumps(document).encode()}, None, known)
    assert check.who == "root key 'root-1'"
    assert signoff.verify_signoff_files(lines, {}, None, {}) == []


def _hostile(case: str) -> tuple[str, bytes, str]:
    """name, bytes and the words the one-line refusal must hold, for each kind of hostile file."""
    lines = _transcript()
    doc = _document(lines)
    name = _named(doc)

    def dumped(value: Any) -> bytes:
        return json.dumps(value).encode()

    if case == "not JSON":
        return name, b"{not json", "not valid JSON"
    if case == "not UTF-8":
        return name, b'{"signoff": "\xff"}', "not UTF-8"
    if case == "huge":
        return name, dumped(doc) + b" " * signoff.MAX_SIGNOFF_BYTES, "larger than 65,536 bytes"
    if case == "a list":
        return name, b"[]", "the file is not a JSON object"
    if case == "wrong _type":
        return name, dumped(_document(lines, _type="ceremony-sign-request")), "_type is 'ceremony-sign-request'"
    if case == "version true":
        return name, dumped(_document(lines, version=True)), "version True"
    if case == "entries float":
        return name, dumped(doc).replace(b'"entries": 2', b'"entries": 2.0'), "non-integer number"
    if case == "duplicate field":
        return name, dumped(doc).replace(b'"role": "witness"', b'"role": "witness", "role": "auditor"'), "duplicate key"
    if case == "missing field":
        del doc["signoff"]["role"]
        return name, dumped(doc), "its signoff lacks role"
    if case == "extra field":
        doc["signoff"]["comment"] = "trust me"
        return name, dumped(doc), "holds comment, which a sign-off does not define"
    if case == "unknown role":
        return name, dumped(_document(lines, role="notary")), "role 'notary' is not one of"
    if case == "signer with controls":
        return name, dumped(_document(lines, signer="Wendy\u202eWitness")), "holds control, format"
    if case == "bad time":
        return name, dumped(_document(lines, time="2026-13-02T03:04:05Z")), "is not YYYY-MM-DDTHH:MM:SSZ"
    if case == "head not hex":
        return name, dumped(_document(lines, head="G" * 64)), "head is not 64 lower-case hex digits"
    if case == "keyid mismatch":
        doc["keyid"] = hashlib.sha256(b"another key").hexdigest()
        return _named(doc), dumped(doc), "does not match the key the file carries"
    if case == "non-hex sig":
        doc["sig"] = "zz" + doc["sig"][2:]
        return name, dumped(doc), "sig is not a signature in lower-case hex"
    if case == "signed by another key":
        other = _document(lines, _OTHER)
        doc["sig"] = other["sig"]
        return name, dumped(doc), "the signature does not verify"
    if case == "key not a key":
        doc["key"]["keytype"] = "ed448"
        doc["keyid"] = hashlib.sha256(_canonical(doc["key"])).hexdigest()
        return _named(doc), dumped(doc), "the signature does not verify"
    if case == "bad name":
        return "signoffs/witness.json", dumped(doc), "not a sign-off file name"
    if case == "name of another entry":
        return name.replace("/2-", "/1-"), dumped(doc), "not what its name says"
    if case == "entry beyond the transcript":
        beyond = _document(lines, entries=3)
        return _named(beyond), dumped(beyond), "signs entry 3, but the transcript has 2"
    if case == "head of another line":
        other_head = _document(lines, head=hashlib.sha256(lines[0]).hexdigest())
        return _named(other_head), dumped(other_head), "the transcript was changed after the sign-off"
    raise AssertionError(case)


HOSTILE = [
    "not JSON",
    "not UTF-8",
    "huge",
    "a list",
    "wrong _type",
    "version true",
    "entries float",
    "duplicate field",
    "missing field",
    "extra field",
    "unknown role",
    "signer with controls",
    "bad time",
    "head not hex",
    "keyid mismatch",
    "non-hex sig",
    "signed by another key",
    "key not a key",
    "bad name",
    "name of another entry",
    "entry beyond the transcript",
    "head of another line",
]


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_sign_off_file_refused_in_one_line(case: str) -> None:
    name, data, expected = _hostile(case)
    with pytest.raises(SignoffError) as caught:
        signoff.verify_signoff_files(_transcript(), {name: data}, None, {})
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{name}: "), message
    assert expected in message, message


def test_edited_transcript_lines_refused() -> None:
    lines = _transcript()
    document = _document(lines)
    files = {_named(document): json.dumps(document).encode()}
    edited = [lines[0], lines[1].replace(b"check 1", b"check 9")]
    with pytest.raises(SignoffError, match="the transcript was changed after the sign-off"):
        signoff.verify_signoff_files(edited, files, None, {})
    with pytest.raises(TranscriptError, match="line 2 does not follow line 1"):
        signoff.verify_signoff_files([lines[0].replace(b"check 0", b"check 9"), lines[1]], files, None, {})


def test_too_many_files_refused() -> None:
    files = {f"signoffs/{n}-{'d' * 16}.json": b"" for n in range(1, signoff.MAX_SIGNOFF_FILES + 2)}
    with pytest.raises(SignoffError, match=r"^signoffs: 1,001 sign-off files, more than 1,000; refused"):
        signoff.verify_signoff_files(_transcript(), files, None, {})


PLAN = """plan_format = 1

[ceremony]
name = "Pure plan"
kind = "new-root"
workspace = "ws"

[[participants]]
name = "Alice Admin"
role = "administrator"
signoff_keyid = "{admin}"

[[participants]]
name = "{witness}"
role = "witness"
signoff_keyid = "{keyid}"

[[keys]]
name = "root-1"
roles = ["root"]
store = "software"
type = "ed25519"
"""


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"role": "auditor"}, f"signed by '{WITNESS}' as auditor, but the plan names '{WITNESS}' as witness"),
        ({"signer": "Mallory"}, "signed by 'Mallory', whom the plan does not name"),
        ({"plan_sha256": "e" * 64}, "made under another plan (SHA-256 eeeeeeeeeeeeeeee...)"),
        ({"key": "other"}, f"but the plan names key {{keyid16}} for '{WITNESS}'"),
    ],
)
def test_plan_contradictions_refused(changes: dict[str, str], expected: str) -> None:
    lines = _transcript()
    keyid = _document(lines)["keyid"]
    admin = _document(lines, _OTHER)["keyid"] if changes.get("key") != "other" else "f" * 64
    plan = plan_module.load_plan(PLAN.format(admin=admin, witness=WITNESS, keyid=keyid).encode(), "plan.toml")
    signer = _OTHER if changes.pop("key", None) == "other" else _SIGNER
    document = _document(lines, signer, **changes)
    with pytest.raises(SignoffError) as caught:
        signoff.verify_signoff_files(lines, {_named(document): json.dumps(document).encode()}, plan, {})
    message = str(caught.value)
    assert message.startswith(f"{_named(document)}: ") and expected.format(keyid16=keyid[:16]) in message, message
    good = _document(lines, plan_sha256=plan.sha256)
    (check,) = signoff.verify_signoff_files(lines, {_named(good): json.dumps(good).encode()}, plan, {})
    assert check.who == f"named in the plan for {WITNESS}"


def test_each_sign_off_is_held_to_the_plan_in_effect_at_its_entry() -> None:
    keyid = _document(_transcript(1))["keyid"]
    plan = plan_module.load_plan(PLAN.format(admin="f" * 64, witness=WITNESS, keyid=keyid).encode(), "plan.toml")
    lines = [tr.build_entry([], "init", [], {}, [], NOW)]
    lines.append(tr.build_entry(lines, "rotate", [], {}, [], NOW, {"plan": {"sha256": plan.sha256}}))
    records = [json.loads(line) for line in lines]
    before = _document(lines[:1], role="auditor")  # entry 1: no plan yet, any role
    after = _document(lines, plan_sha256=plan.sha256)
    wrong = _document(lines, _OTHER, signer="Mallory", role="auditor")
    files = {_named(d): json.dumps(d).encode() for d in (before, after)}
    checks = signoff.verify_signoffs_by_plan(lines, records, files, {plan.sha256: plan}, {})
    assert [(c.entries, c.role, c.who) for c in checks] == [
        (1, "auditor", signoff.NOT_NAMED),
        (2, "witness", f"named in the plan for {WITNESS}"),
    ]
    with pytest.raises(SignoffError, match=f"^{_named(after)}: signs an entry made under plan {plan.sha256[:16]}"):
        signoff.verify_signoffs_by_plan(lines, records, files, {}, {})
    swapped = {_named(wrong): json.dumps(wrong).encode()}  # someone the plan in effect does not name
    with pytest.raises(SignoffError, match="signed by 'Mallory', whom the plan does not name"):
        signoff.verify_signoffs_by_plan(lines, records, swapped, {plan.sha256: plan}, {})
    role = _document(lines, role="auditor")
    with pytest.raises(SignoffError, match="but the plan names 'Wendy Witness' as witness"):
        signoff.verify_signoffs_by_plan(
            lines, records, {_named(role): json.dumps(role).encode()}, {plan.sha256: plan}, {}
        )
