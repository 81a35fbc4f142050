"""Crafted and corrupted files, through the CLI as an operator runs it, and through the core they reach.

Every case must end in exactly one ``error:`` line, no traceback, and exit 1
(a refusal) or 2 (a usage error): exit 3 is the CLI's one line for a bug, and
counts as a failure here. Text from a file that reaches the terminal must
arrive with its control characters escaped.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed448, ed25519
from securesystemslib.signer import SSlibKey

from ceremony.core import diff, hsm, keys
from ceremony.core import guided as session
from ceremony.core import metadata as md
from ceremony.core._json import dumps_pretty
from ceremony.core.workspace import Workspace
from ceremony.errors import CeremonyError, HsmError, InputFileError, MetadataError, SigningKeyError, UsageError
from tests.conftest import PASSPHRASE, _run, one_line_error

HUGE = "9" * 4300
HOSTILE = "[bold red]x[/] [@click=app.quit] \x1b[8m hidden \u202e reversed"
Mutation = Callable[[Any], Any]


def refused(result: Any) -> str:
    """One ``error:`` line, no traceback, and a refusal or usage exit code (never the internal-error 3)."""
    line = one_line_error(result)
    assert result.returncode in (1, 2), (result.returncode, result.stderr)
    assert "internal error" not in line, line
    return line


def _first_key(config: dict[str, Any], label: str = "root-1") -> str:
    return next(k for k, v in config["keys"].items() if v["label"] == label)


def _corrupt(path: Path, how: Mutation | bytes | str) -> None:
    """Replace a JSON file: a mutation of its parsed content, raw bytes, or "directory" / "fifo"."""
    if how == "directory":
        path.unlink()
        path.mkdir()
    elif how == "fifo":
        path.unlink()
        os.mkfifo(path)
    elif isinstance(how, bytes):
        path.write_bytes(how)
    else:
        obj = json.loads(path.read_text())
        result = how(obj)  # type: ignore[operator]
        path.write_text(json.dumps(obj if result is None else result))


def _set(*keys_and_value: Any) -> Mutation:
    """A mutation that sets obj[k1][k2]... = value (a callable key is called with the object)."""
    *path, value = keys_and_value

    def mutate(obj: Any) -> None:
        target = obj
        for key in path[:-1]:
            target = target[key(obj) if callable(key) else key]
        last = path[-1]
        target[last(obj) if callable(last) else last] = value

    return mutate


def _pop(*path: str) -> Mutation:
    def mutate(obj: Any) -> None:
        target = obj
        for key in path[:-1]:
            target = target[key]
        target.pop(path[-1])

    return mutate


# --------------------------------------------------------------------------- ceremony.json


def _root1(obj: Any) -> str:
    return _first_key(obj)


CONFIG_VARIANTS: dict[str, Mutation | bytes | str] = {
    "not JSON": b"{ this is not json",
    "huge integer": f'{{"format": {HUGE}, "keys": {{}}, "roles": {{}}}}'.encode(),
    "a list": lambda _c: [1, 2, 3],
    "no keys": _pop("keys"),
    "roles a list": _set("roles", []),
    "key entry a string": _set("keys", _root1, "root-1"),
    "key roles a number": _set("keys", _root1, "roles", 5),
    "uri a number": _set("keys", _root1, "uri", 5),
    "role a string": _set("roles", "root", "root"),
    "threshold a string": _set("roles", "root", "threshold", "two"),
    "signing period a string": _set("roles", "targets", "signing_period_days", "soon"),
    "signing period out of range": _set("roles", "targets", "signing_period_days", 10**30),
    "a directory": "directory",
    "a FIFO": "fifo",
}


@pytest.mark.parametrize("how", CONFIG_VARIANTS.values(), ids=CONFIG_VARIANTS.keys())
def test_status_refuses_a_corrupted_config(workspace: Path, cli, how: Mutation | bytes | str) -> None:
    _corrupt(workspace / "ceremony.json", how)
    line = refused(cli("status", workspace))
    assert "ceremony.json" in line or "config" in line, line


URI_VARIANTS: dict[str, Mutation] = {
    "uri outside keys/": _set("keys", _root1, "uri", "file:../../../etc/passwd"),
    "absolute uri": _set("keys", _root1, "uri", "file:/etc/passwd"),
    "unparsable pkcs11 uri": _set("keys", _root1, "uri", "pkcs11:foo=bar;token=x"),
}


@pytest.mark.parametrize("how", URI_VARIANTS.values(), ids=URI_VARIANTS.keys())
def test_key_check_refuses_a_key_reference_it_never_writes(
    workspace: Path, cli, passphrase_file: Path, how: Mutation
) -> None:
    _corrupt(workspace / "ceremony.json", how)
    refused(cli("key", "check", workspace, "root-1", "--passphrase-file", passphrase_file))


def test_key_check_refuses_a_key_file_that_is_a_directory(workspace: Path, cli, passphrase_file: Path) -> None:
    config = json.loads((workspace / "ceremony.json").read_text())
    key_file = workspace / "keys" / f"{_first_key(config)}.p12"
    key_file.unlink()
    key_file.mkdir()
    refused(cli("key", "check", workspace, "root-1", "--passphrase-file", passphrase_file))


@pytest.mark.parametrize("command", [("transcript", "verify"), ("diff",)], ids=["transcript verify", "diff"])
@pytest.mark.parametrize("variant", ["key entry a string", "a FIFO"])
def test_other_commands_refuse_a_corrupted_config(workspace: Path, cli, command: tuple[str, ...], variant: str) -> None:
    _corrupt(workspace / "ceremony.json", CONFIG_VARIANTS[variant])
    refused(cli(*command, workspace))


# --------------------------------------------------------------------------- session.json


def test_status_of_a_draft_with_a_corrupted_session(tmp_path: Path, cli) -> None:
    draft = tmp_path / "draft"
    draft.mkdir()
    (draft / "session.json").write_text("{not json")
    assert "in progress" in refused(cli("status", draft))
    (draft / "session.json").unlink()
    (draft / "session.json").mkdir()
    refused(cli("status", draft))
    refused(cli("transcript", "verify", draft))


# --------------------------------------------------------------------------- pending/*.json and merge


@pytest.fixture(scope="module")
def _requested(base_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A workspace with a pending root extension, and its sign request."""
    top = tmp_path_factory.mktemp("requested")
    ws = top / "ws"
    shutil.copytree(base_workspace, ws)
    request = top / "request.json"
    made = _run("extend", ws, "--role", "root", "--days", "200", "--request", request, "--yes")
    assert made.returncode == 0, made.stderr
    return ws, request


@pytest.fixture
def requested(_requested: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    ws, request = _requested
    shutil.copytree(ws, tmp_path / "ws")
    shutil.copy(request, tmp_path / "request.json")
    return tmp_path / "ws", tmp_path / "request.json"


PENDING_VARIANTS: dict[str, Mutation | bytes | str] = {
    "not JSON": b"[",
    "huge integer": f'{{"base_root_version": {HUGE}}}'.encode(),
    "a list": lambda _p: [],
    "no base root version": _pop("base_root_version"),
    "metadata a list": _set("metadata", []),
    "config a list": _set("config", []),
    "new key file not base64": _set("new_key_files", {"a" * 64: "%%% not base64"}),
    "a directory": "directory",
}


@pytest.mark.parametrize("how", PENDING_VARIANTS.values(), ids=PENDING_VARIANTS.keys())
def test_merge_refuses_a_corrupted_pending_record(requested: tuple[Path, Path], cli, how: Any) -> None:
    ws, request = requested
    (pending,) = (ws / "pending").glob("*.json")
    _corrupt(pending, how)
    line = refused(cli("merge", ws, request))
    assert "pending" in line or pending.name in line, line


# --------------------------------------------------------------------------- transcript.jsonl


def _transcript_lines(ws: Path) -> list[str]:
    return (ws / "transcript.jsonl").read_text().splitlines(keepends=True)


def _edit_last_entry(edit: Mutation) -> Callable[[Path], None]:
    def apply(ws: Path) -> None:
        lines = _transcript_lines(ws)
        entry = json.loads(lines[-1])
        result = edit(entry)
        lines[-1] = json.dumps(entry if result is None else result) + "\n"
        (ws / "transcript.jsonl").write_text("".join(lines))

    return apply


def _replace_transcript(data: bytes | str) -> Callable[[Path], None]:
    def apply(ws: Path) -> None:
        path = ws / "transcript.jsonl"
        if data == "directory":
            path.unlink()
            path.mkdir()
        elif data == "fifo":
            path.unlink()
            os.mkfifo(path)
        else:
            path.write_bytes(data)  # type: ignore[arg-type]

    return apply


TRANSCRIPT_VARIANTS: dict[str, Callable[[Path], None]] = {
    "truncated last line": lambda ws: (ws / "transcript.jsonl").write_text("".join(_transcript_lines(ws))[:-40]),
    "a line not JSON": lambda ws: (ws / "transcript.jsonl").write_text("".join(_transcript_lines(ws)) + "{oops\n"),
    "files a list": _edit_last_entry(_set("files", ["ceremony.json"])),
    "huge integer": lambda ws: (ws / "transcript.jsonl").write_text(
        "".join(_transcript_lines(ws)) + f'{{"seq": {HUGE}}}\n'
    ),
    "names an absolute path": _edit_last_entry(lambda e: e["files"].__setitem__("/etc/passwd", "0" * 64)),
    "names a file with a NUL": _edit_last_entry(lambda e: e["files"].__setitem__("keys/a\x00b", "0" * 64)),
    "digest a number": _edit_last_entry(lambda e: e["files"].__setitem__("ceremony.json", 5)),
    "a directory": _replace_transcript("directory"),
    "a FIFO": _replace_transcript("fifo"),
}


@pytest.mark.parametrize("corrupt", TRANSCRIPT_VARIANTS.values(), ids=TRANSCRIPT_VARIANTS.keys())
def test_transcript_verify_refuses_a_corrupted_transcript(
    workspace: Path, cli, corrupt: Callable[[Path], None]
) -> None:
    corrupt(workspace)
    line = refused(cli("transcript", "verify", workspace))
    assert "transcript" in line or "line" in line, line


def test_transcript_line_naming_a_fifo_is_refused_not_waited_on(workspace: Path, cli) -> None:
    os.mkfifo(workspace / "keys" / "fifo.p12")
    _edit_last_entry(lambda e: e["files"].__setitem__("keys/fifo.p12", "0" * 64))(workspace)
    refused(cli("transcript", "verify", workspace))


# --------------------------------------------------------------------------- sign requests


def _redigest(request: dict[str, Any]) -> dict[str, Any]:
    """The request's digest made again over its (changed) metadata, as a forger would."""
    payloads = {role: md.signed_bytes(md.from_dict(obj, role)) for role, obj in request["metadata"].items()}
    request["digest"] = diff.payload_digest(payloads).hex()
    return request


def _targets_of(ws: Path) -> dict[str, Any]:
    return json.loads((ws / "metadata" / "targets.json").read_text())


def _hostile_request(request: dict[str, Any]) -> dict[str, Any]:
    """The genuine request with hostile strings where a keyholder reads them: its summary, and a key it adds."""
    request["summary"] = [HOSTILE, "\x1b[2J\x1b[Hall clear", "custom \x07\x08\r fields"]
    public = SSlibKey.from_crypto(ed25519.Ed25519PrivateKey.generate().public_key())
    key = public.to_dict()
    key["x-tuf-on-ci-keyowner"] = HOSTILE
    signed = request["metadata"]["root"]["signed"]
    signed["keys"][public.keyid] = key
    signed["roles"]["root"]["keyids"].append(public.keyid)
    signed["x-ceremony-note"] = HOSTILE
    return _redigest(request)


REQUEST_VARIANTS: dict[str, Callable[[dict[str, Any], Path], Any]] = {
    "previous root is a targets file": lambda r, ws: r.__setitem__("previous_root", _targets_of(ws)),
    "metadata is a list": lambda r, _ws: r.__setitem__("metadata", [r["metadata"]["root"]]),
    "proposed root is a targets file": lambda r, ws: _redigest({**r, "metadata": {"root": _targets_of(ws)}}),
    "a signature keyid is a number": lambda r, _ws: r["metadata"]["root"]["signatures"].append(
        {"keyid": 5, "sig": "0"}
    ),
    "summary holds a lone surrogate": lambda r, _ws: r.__setitem__("summary", ["\ud800"]),
    "huge integer": lambda _r, _ws: f'{{"type": "ceremony-sign-request", "format": {HUGE}}}'.encode(),
}


@pytest.mark.parametrize("craft", REQUEST_VARIANTS.values(), ids=REQUEST_VARIANTS.keys())
def test_sign_refuses_a_crafted_request(requested: tuple[Path, Path], cli, passphrase_file: Path, craft: Any) -> None:
    ws, request = requested
    obj = json.loads(request.read_text())
    result = craft(obj, ws)
    if isinstance(result, bytes):
        request.write_bytes(result)
    else:
        request.write_text(json.dumps(result if isinstance(result, dict) else obj))
    key_file = ws / "keys" / f"{_first_key(json.loads((ws / 'ceremony.json').read_text()))}.p12"
    refused(cli("sign", request, "--key", key_file, "--passphrase-file", passphrase_file, "--yes"))


def test_sign_shows_a_crafted_request_as_data(requested: tuple[Path, Path], cli, passphrase_file: Path) -> None:
    """Escape sequences in a request's strings reach the terminal escaped: nothing is hidden, moved or cleared."""
    ws, request = requested
    request.write_text(json.dumps(_hostile_request(json.loads(request.read_text()))))
    key_file = ws / "keys" / f"{_first_key(json.loads((ws / 'ceremony.json').read_text()))}.p12"
    result = cli("sign", request, "--key", key_file, "--passphrase-file", passphrase_file)  # no --yes, no terminal
    assert "no terminal" in refused(result)
    shown = result.stdout + result.stderr
    for raw in ("\x1b", "\u202e", "\x07", "\x08", "\r"):
        assert raw not in shown, repr(raw)
    assert "\\x1b[8m" in shown and "\\u202e" in shown
    assert "[bold red]x[/]" in shown and "[@click=app.quit]" in shown


def test_merge_refuses_a_request_whose_previous_root_is_a_targets_file(requested: tuple[Path, Path], cli) -> None:
    ws, request = requested
    obj = json.loads(request.read_text())
    obj["previous_root"] = _targets_of(ws)
    request.write_text(json.dumps(obj))
    refused(cli("merge", ws, request))


# --------------------------------------------------------------------------- metadata: diff and verify


DIFF_VARIANTS: dict[str, Any] = {
    "not JSON": b"{",
    "huge integer": f'{{"signed": {{"version": {HUGE}}}, "signatures": []}}'.encode(),
    "a targets file": "targets",
    "roles a list": lambda r: r["signed"].__setitem__("roles", []),
    "keyids a string": lambda r: r["signed"]["roles"]["root"].__setitem__("keyids", "abc"),
    "a directory": "directory",
}


@pytest.mark.parametrize("how", DIFF_VARIANTS.values(), ids=DIFF_VARIANTS.keys())
def test_diff_refuses_or_describes_a_crafted_root(workspace: Path, cli, how: Any) -> None:
    """A second root version that is not a root: diff says so in one line (it never signs anything)."""
    target = workspace / "metadata" / "2.root.json"
    if how == "directory":
        target.mkdir()
    elif how == "targets":
        shutil.copy(workspace / "metadata" / "targets.json", target)
    elif isinstance(how, bytes):
        target.write_bytes(how)
    else:
        obj = json.loads((workspace / "metadata" / "1.root.json").read_text())
        how(obj)
        obj["signed"]["version"] = 2
        target.write_text(json.dumps(obj))
    result = cli("diff", workspace, "1", "2")
    if result.returncode == 0:  # a loose root is described, never crashed on
        assert "Traceback" not in result.stderr and "\x1b" not in result.stdout
    else:
        refused(result)


def _timestamp_hashes(name: str) -> Callable[[Path], None]:
    def apply(metadata: Path) -> None:
        obj = json.loads((metadata / "timestamp.json").read_text())
        obj["signed"]["meta"]["snapshot.json"]["hashes"] = {name: "00" * 32}
        (metadata / "timestamp.json").write_text(json.dumps(obj))

    return apply


VERIFY_VARIANTS: dict[str, Callable[[Path], None]] = {
    "shake_128 hash": _timestamp_hashes("shake_128"),
    "huge integer": lambda m: (m / "snapshot.json").write_text(f'{{"signed": {{"version": {HUGE}}}}}'),
    "root is a targets file": lambda m: shutil.copy(m / "targets.json", m / "2.root.json"),
    "a FIFO": lambda m: ((m / "timestamp.json").unlink(), os.mkfifo(m / "timestamp.json")),
    "a directory": lambda m: (m / "2.root.json").mkdir(),
}


@pytest.mark.parametrize("corrupt", VERIFY_VARIANTS.values(), ids=VERIFY_VARIANTS.keys())
def test_verify_refuses_crafted_metadata(workspace: Path, cli, corrupt: Callable[[Path], None]) -> None:
    corrupt(workspace / "metadata")
    refused(cli("verify", workspace / "metadata"))


STATUS_METADATA: dict[str, tuple[str, Mutation]] = {
    "root roles a list": ("root.json", _set("signed", "roles", [])),
    "a delegation's keyids a number": (
        "targets.json",
        _set("signed", "delegations", {"keys": {}, "roles": [{"name": "x", "keyids": 5, "threshold": "a"}]}),
    ),
}


@pytest.mark.parametrize(("name", "how"), STATUS_METADATA.values(), ids=STATUS_METADATA.keys())
def test_status_refuses_crafted_metadata(workspace: Path, cli, name: str, how: Mutation) -> None:
    _corrupt(workspace / "metadata" / name, how)
    refused(cli("status", workspace))


def test_tui_without_a_terminal_refuses_in_one_line(workspace: Path, cli) -> None:
    _corrupt(workspace / "ceremony.json", b"{")
    assert "terminal" in refused(cli("tui", workspace))


# --------------------------------------------------------------------------- keys from hostile files


def test_sign_with_a_key_of_a_type_tuf_cannot_name(requested: tuple[Path, Path], cli, tmp_path: Path) -> None:
    _ws, request = requested
    key_file = tmp_path / "ed448.p12"
    key_file.write_bytes(keys.encrypt_private_key(ed448.Ed448PrivateKey.generate(), PASSPHRASE, "ed448"))
    (tmp_path / "pp").write_text(PASSPHRASE + "\n")
    line = refused(cli("sign", request, "--key", key_file, "--passphrase-file", tmp_path / "pp", "--yes"))
    assert "Ed448" in line or "cannot" in line, line


def test_public_key_identity_and_names_never_raise_on_odd_keys() -> None:
    odd = SSlibKey("a" * 64, "ed25519", "ed25519", {"public": "zz"})
    odd.keyval = {"public": 5}  # as a loose parser could leave it
    assert keys.public_key_identity(odd).startswith(b"unparsed:")
    for key_dict in (
        {"keytype": "ed25519", "scheme": "ed25519", "keyval": {"public": "not hex"}},
        {"keytype": "ecdsa", "scheme": "ecdsa-sha2-nistp256", "keyval": {"public": "04zz"}},
        {"keytype": "quantum", "scheme": "magic", "keyval": {"public": "ab"}},
        {"keytype": 5, "scheme": [], "keyval": "x"},
        {"keytype": "rsa", "scheme": "rsassa-pss-sha256", "keyval": {"public": "-----BEGIN PUBLIC KEY-----\n!!\n"}},
    ):
        try:
            key = keys.public_key_from_metadata("b" * 64, key_dict)
        except SigningKeyError as err:
            assert "\n" not in str(err)
            continue
        keys.key_type_name(key)
        keys.public_key_identity(key)
        assert not keys.signature_is_valid(key, "zz" * 40, b"payload")
    with pytest.raises(SigningKeyError):
        keys.public_identity_of_private(ed448.Ed448PrivateKey.generate())


def test_pkcs11_uris_and_modules_from_files() -> None:
    for text in (5, None, "pkcs11:token=a%00b", "pkcs11:" + "x" * 5000, "pkcs11:bogus=1", "pkcs11:?pin-value=1234"):
        with pytest.raises(UsageError):
            hsm.Pkcs11Uri.parse(text)  # type: ignore[arg-type]
    with pytest.raises(HsmError):
        hsm.list_tokens("/usr/lib/softhsm/libsofthsm2.so\x00/tmp/evil.so")
    # A token label is quoted into a URI, never able to add attributes (a module path, another key).
    uri = hsm.Pkcs11Uri(token="lab;object=x?module-path=/tmp/evil.so", serial="1").to_string()
    assert hsm.Pkcs11Uri.parse(uri).module_path is None


def test_metadata_of_the_wrong_type_or_shape_is_a_typed_error(workspace: Path) -> None:
    targets = _targets_of(workspace)
    parsed = md.from_dict(targets, "targets.json")
    for call in (
        lambda: md.root_role(parsed, "root"),
        lambda: md.consistent_snapshot(parsed),
        lambda: md.timestamp_snapshot_version(parsed),
        lambda: md.snapshot_meta_version(parsed, "targets.json"),
        lambda: md.edit_root_role(parsed, "root", [], [], 1),
    ):
        with pytest.raises(MetadataError):
            call()
    root = md.from_dict(json.loads((workspace / "metadata" / "1.root.json").read_text()), "root")
    assert md.delegation(root, "releases") is None and md.delegated_roles(root) == []
    for bad in (
        _set("signatures", [{"keyid": 5, "sig": "00"}]),
        _set("signed", "roles", "root", "threshold", "1"),
        _set("signed", "roles", "root", "keyids", [1, 2]),
        _set("signed", "x-surrogate", "\ud800"),
        _set("signed", "version", True),
    ):
        obj = json.loads((workspace / "metadata" / "1.root.json").read_text())
        bad(obj)
        with pytest.raises(InputFileError):
            md.from_dict(obj, "crafted root")
    with pytest.raises(InputFileError):
        md.from_dict([], "a list")  # type: ignore[arg-type]


def test_describe_change_quotes_every_value_as_data() -> None:
    old = {"_type": "root", "version": 1, "roles": {"root": {"keyids": ["a" * 64], "threshold": 1}}, "keys": {}}
    new = {
        "_type": "root",
        "version": "\x1b[2J",
        "expires": HOSTILE,
        "roles": {"root": {"keyids": ["a" * 64, "\x1b[8m" + "b" * 60, 5, {"x": 1}], "threshold": [1]}, "x": "y"},
        "keys": {"\x1b[8m" + "b" * 60: {"scheme": "\u202e", "x-tuf-on-ci-keyowner": HOSTILE}},
        "meta": ["not", "an", "object"],
    }
    lines = diff.describe_change("2.root.json", old, new)
    text = "\n".join(lines)
    assert "\x1b" not in text and "\u202e" not in text
    assert "\\x1b[8m" in text and "[@click=app.quit]" in text
    for old_shape, new_shape in ((None, []), ("x", {"delegations": {"roles": [5, {"name": 7}]}}), ({}, {"meta": 5})):
        diff.describe_change("f.json", old_shape, new_shape)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- session files, read by the core


def _session_of(ws: Path) -> Path:
    return ws / "session.json"


@pytest.fixture(scope="module")
def _change_in_progress(base_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from datetime import UTC, datetime

    from ceremony.core import changes

    ws_path = tmp_path_factory.mktemp("change") / "ws"
    shutil.copytree(base_workspace, ws_path)
    session.ChangeSession.start(
        Workspace.load(ws_path),
        "extend",
        "extend timestamp",
        lambda ctx: changes.plan_extension(ctx, "timestamp", 2),
        lambda _l: "",
        None,
        datetime.now(UTC),
    )
    return ws_path


@pytest.fixture
def change_in_progress(_change_in_progress: Path, tmp_path: Path) -> Path:
    shutil.copytree(_change_in_progress, tmp_path / "ws")
    return tmp_path / "ws"


SESSION_VARIANTS: dict[str, Mutation | bytes | str] = {
    "not JSON": b"{",
    "huge integer": f'{{"format": {HUGE}}}'.encode(),
    "a list": lambda _s: [],
    "no flow": _pop("flow"),
    "unknown flow": _set("flow", "exfiltrate"),
    "unknown step": _set("step", "publish-now"),
    "step a list": _set("step", ["sign"]),
    "request outside the workspace": _set("request", "../../etc/passwd.json"),
    "request absolute": _set("request", "/tmp/request.json"),
    "request in another directory": _set("request", "pending/x.json"),
    "request a number": _set("request", 5),
    "request id not hex": _set("request_id", "../../../etc/pass"),
    "request id upper case": _set("request_id", "ABCDEF0123456789"),
    "reviewed a string": _set("reviewed", "yes"),
    "title a list": _set("title", ["x"]),
    "a directory": "directory",
    "a FIFO": "fifo",
}


@pytest.mark.parametrize("how", SESSION_VARIANTS.values(), ids=SESSION_VARIANTS.keys())
def test_a_corrupted_change_session_is_one_sentence_naming_the_file(change_in_progress: Path, how: Any) -> None:
    _corrupt(_session_of(change_in_progress), how)
    with pytest.raises(CeremonyError) as caught:
        session.ChangeSession.open(Workspace.load(change_in_progress))
    assert "session.json" in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(CeremonyError):
        session.overview(change_in_progress, _now())


def test_a_request_linked_outside_the_workspace_is_refused(change_in_progress: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.json"
    shutil.copy(session.ChangeSession.open(Workspace.load(change_in_progress)).request_path, outside)
    (change_in_progress / "requests" / "link.json").symlink_to(outside)
    _corrupt(_session_of(change_in_progress), _set("request", "requests/link.json"))
    with pytest.raises(InputFileError, match="outside"):
        session.read_session(change_in_progress)


def test_a_request_swapped_for_another_is_refused(change_in_progress: Path, _requested: tuple[Path, Path]) -> None:
    change = session.ChangeSession.open(Workspace.load(change_in_progress))
    shutil.copy(_requested[1], change.request_path)  # a genuine request, but not this session's
    with pytest.raises(CeremonyError, match="not "):
        change.request()


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


@pytest.fixture(scope="module")
def _draft_at_review(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("draft") / "repo"
    now = _now()
    ceremony = session.NewRootCeremony.start(path, now)
    checks = [session.Check("network", True, "none"), session.Check("swap", True, "off")]
    ceremony.record_preflight(checks, True, {}, now)
    people = [session.Participant("Ada", "administrator"), session.Participant("Wes", "witness")]
    people += [session.Participant(name, "keyholder") for name in ("Kim", "Lee")]
    ceremony.set_participants(people, now)
    ceremony.set_plan([session.KeyPlan(n, "software", "ed25519") for n in ("Kim", "Lee")], 1, 365, now)
    for label in ("root-1", "root-2"):
        ceremony.generate_root_key(label, "keyholder passphrase", now)
    ceremony.set_online_keys(dict.fromkeys(session.ONLINE_ROLES, "ed25519"), lambda _l: "online passphrase", now)
    ceremony.build_root(now)
    return path


@pytest.fixture
def draft(_draft_at_review: Path, tmp_path: Path) -> Path:
    shutil.copytree(_draft_at_review, tmp_path / "repo")
    return tmp_path / "repo"


def _key0(field: str, value: Any) -> Mutation:
    return lambda s: s["root_keys"][0].__setitem__(field, value)


DRAFT_VARIANTS: dict[str, Mutation | bytes | str] = {
    "participants a dict": _set("participants", {"Ada": "administrator"}),
    "a participant without a role": lambda s: s["participants"][0].pop("role"),
    "threshold a string": _set("threshold", "1"),
    "threshold above the keys": _set("threshold", 9),
    "expiry days missing a role": lambda s: s["expiry_days"].pop("timestamp"),
    "root keys a dict": _set("root_keys", {"root-1": {}}),
    "root key entry a string": lambda s: s["root_keys"].__setitem__(0, "root-1"),
    "label not root-N": _key0("label", "../../keys"),
    "holder not a keyholder": _key0("holder", "Mallory"),
    "unknown backend": _key0("backend", "cloud"),
    "keyid not hex": _key0("keyid", "k" * 64),
    "keyid a number": _key0("keyid", 7),
    "key file outside keys/": _key0("uri", "file:../../secret.p12"),
    "public key a string": _key0("public", "ed25519"),
    "public key of an unknown scheme": lambda s: s["root_keys"][0]["public"].__setitem__("scheme", "rot13"),
    "token label in a software key": _key0("token_label", "x;module-path=/tmp/evil.so"),
    "online missing a role": lambda s: s["online"].pop("snapshot"),
    "online label with markup": lambda s: s["online"]["targets"].__setitem__("label", "[@click=app.quit]"),
    "online uri a number": lambda s: s["online"]["targets"].__setitem__("uri", 5),
    "root a targets file": lambda s: s["root"]["signed"].__setitem__("_type", "targets"),
    "root with other keys": lambda s: s["root"]["signed"]["roles"]["root"].__setitem__("keyids", ["c" * 64]),
    "module a number": _set("module", 5),
    "digest before review": _set("digest", "not hex"),
}


@pytest.mark.parametrize("how", DRAFT_VARIANTS.values(), ids=DRAFT_VARIANTS.keys())
def test_a_corrupted_draft_session_is_one_sentence_naming_the_file(draft: Path, how: Any) -> None:
    _corrupt(_session_of(draft), how)
    with pytest.raises(InputFileError) as caught:
        session.NewRootCeremony.open(draft)
    assert "session.json" in str(caught.value) and "\n" not in str(caught.value)


def test_a_draft_at_review_reads_back_and_builds_the_same_root(draft: Path) -> None:
    ceremony = session.NewRootCeremony.open(draft)
    lines, digest_hex, _words = ceremony.build_root(_now())
    assert session.NewRootCeremony.open(draft).build_root(_now())[1] == digest_hex
    assert all("\x1b" not in line for line in lines)
    assert session.overview(draft, _now()).info is not None


def test_a_pending_record_of_the_wrong_shape_is_refused_by_the_session(change_in_progress: Path) -> None:
    (pending,) = (change_in_progress / "pending").glob("*.json")
    for how in (_set("config", []), _set("revoked", "all"), _set("request_id", "0" * 16), b"[]"):
        backup = pending.read_bytes()
        _corrupt(pending, how)
        with pytest.raises(CeremonyError) as caught:
            session.ChangeSession.open(Workspace.load(change_in_progress)).progress()
        assert "pending" in str(caught.value) or pending.name in str(caught.value)
        pending.write_bytes(backup)


def test_session_file_json_is_written_back_unchanged(change_in_progress: Path) -> None:
    """What read_session accepts is exactly what the session wrote (no normalising on the way in)."""
    before = _session_of(change_in_progress).read_bytes()
    data = session.read_session(change_in_progress)
    assert dumps_pretty(data) == before
    assert copy.deepcopy(data) == json.loads(before)
