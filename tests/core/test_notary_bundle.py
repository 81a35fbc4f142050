"""notary_bundle: the real samples round-trip byte for byte; every hostile bundle is one sentence, one line per case."""

from __future__ import annotations

import base64
import copy
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ceremony.core import notary
from ceremony.core.notary_bundle import (
    FORMAT,
    MAX_BUNDLE_BYTES,
    Bundle,
    from_bytes,
    read_bundle,
    role_of,
    server_url_problem,
    to_bytes,
    write_bundle,
)
from ceremony.errors import InputFileError, UsageError

VECTOR = Path(__file__).resolve().parents[1] / "vectors" / "notary-v1"
FOLDERS = sorted(p for p in VECTOR.iterdir() if p.is_dir() and p.name != "keys")
SERVER = VECTOR / "server"


def _gun(folder: Path) -> str:
    lines = (folder / "SOURCE.txt").read_text().splitlines()
    return next(line.split(": ", 1)[1] for line in lines if line.startswith("gun: "))


def _files(folder: Path) -> dict[str, bytes]:
    """A sample's files under their bundle names (targets_releases.json is targets/releases.json)."""
    names = {p.name.replace("targets_", "targets/", 1): p for p in folder.glob("*.json")}
    return {name: path.read_bytes() for name, path in names.items() if role_of(name)}


def _server_keys(files: dict[str, bytes]) -> dict[str, dict[str, Any]]:
    root = notary.parse(files["root.json"], "root.json", "root").signed
    return {role: root["keys"][root["roles"][role]["keyids"][0]] for role in ("snapshot", "timestamp")}


def _fetched(folder: Path) -> Bundle:
    files = _files(folder)
    return Bundle(
        "fetched",
        _gun(folder),
        files,
        server="https://127.0.0.1:4443",
        fetched_at="2026-12-01T14:50:00Z",
        server_keys=_server_keys(files),
    )


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
@pytest.mark.parametrize("kind", ["fetched", "publish"])
def test_every_sample_round_trips_byte_for_byte(folder: Path, kind: str) -> None:
    bundle = _fetched(folder)
    if kind == "publish":
        bundle = Bundle("publish", bundle.gun, bundle.files, note="targets: add v2")
    data = to_bytes(bundle)
    assert data.endswith(b"}\n") and json.loads(data)["format"] == FORMAT
    again = from_bytes(data, "bundle.json")
    assert again == bundle
    assert again.files == _files(folder)  # the exact bytes, <>& escapes and all
    assert to_bytes(again) == data


def test_a_new_gun_is_its_keys_and_no_files() -> None:
    bundle = Bundle("fetched", "docker.io/org/new", {}, "https://notary.example", "2026-12-01T00:00:00Z", _base_keys())
    assert from_bytes(to_bytes(bundle), "b").files == {}


def test_write_and_read(tmp_path: Path) -> None:
    bundle = _fetched(SERVER)
    path = tmp_path / "bundle.json"
    write_bundle(path, bundle)
    assert (path.stat().st_mode & 0o777) == 0o600
    assert read_bundle(path) == bundle
    with pytest.raises(UsageError, match="already exists; refusing to overwrite"):
        write_bundle(path, bundle)
    write_bundle(path, Bundle("publish", bundle.gun, {"root.json": bundle.files["root.json"]}), overwrite=True)
    assert read_bundle(path).kind == "publish"


def test_read_refuses_links_and_other_files(tmp_path: Path) -> None:
    target = tmp_path / "real.json"
    target.write_bytes(to_bytes(_fetched(SERVER)))
    (tmp_path / "link.json").symlink_to(target)
    with pytest.raises(InputFileError, match="is a symbolic link"):
        read_bundle(tmp_path / "link.json")
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(InputFileError, match="not a regular file"):
        read_bundle(tmp_path / "fifo")
    big = tmp_path / "big.json"
    with big.open("wb") as handle:
        handle.truncate(MAX_BUNDLE_BYTES + 1)
    with pytest.raises(InputFileError, match="larger than 33,554,432 bytes"):
        read_bundle(big)


def test_writing_refuses_what_reading_would() -> None:
    bundle = Bundle("publish", "docker.io/org/app", {"../root.json": b"{}"})
    with pytest.raises(
        UsageError, match=re.escape("the bundle to write: '../root.json' is not a Notary metadata file")
    ):
        to_bytes(bundle)
    leaked = Bundle("publish", "docker.io/org/app", _files(SERVER), server="https://notary.example")
    with pytest.raises(UsageError, match="a publish bundle has no field 'server'"):
        to_bytes(leaked)


# --------------------------------------------------------------------------- hostile bundles, one line each

ROOT = _files(SERVER)["root.json"]
TARGETS = _files(SERVER)["targets.json"]


def _base_keys() -> dict[str, dict[str, Any]]:
    return _server_keys(_files(SERVER))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _base() -> dict[str, Any]:
    return json.loads(to_bytes(_fetched(SERVER)))


def _set(**fields: Any) -> Callable[[dict[str, Any]], None]:
    return lambda d: d.update(fields)


def _drop(field: str) -> Callable[[dict[str, Any]], None]:
    return lambda d: d.pop(field)


def _file(name: str, data: bytes | str) -> Callable[[dict[str, Any]], None]:
    return lambda d: d["files"].update({name: data if isinstance(data, str) else _b64(data)})


def _key(role: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda d: d["server_keys"].update({role: value})


def _publish(d: dict[str, Any]) -> None:
    for field in ("server", "fetched_at", "server_keys"):
        d.pop(field)
    d["kind"] = "publish"


_ED = {"keytype": "ed25519", "keyval": {"private": None, "public": _b64(b"k" * 31)}}
_PRIVATE = {"keytype": "ecdsa", "keyval": {"private": _b64(b"p"), "public": _b64(b"k" * 91)}}
_EXTRA = {"keytype": "ecdsa", "keyval": {"private": None, "public": _b64(b"k" * 91)}, "keyid": "x"}
_ROOT_AS_TARGETS = TARGETS  # a targets file under root's name

CASES: list[tuple[str, Callable[[dict[str, Any]], None] | bytes, str]] = [
    # (id, edit of a valid fetched bundle, or raw bytes; the sentence expected)
    ("not json", b'{"format": ', "not valid JSON"),
    ("not utf-8", b"\xff\xfe{}", "not UTF-8 text"),
    ("duplicate key", b'{"kind": "publish", "kind": "fetched"}', "duplicate key 'kind'"),
    ("float", b'{"version": 1.0}', "non-integer number 1.0"),
    ("a list", b"[]", "the top level is not a JSON object"),
    ("no format", _drop("format"), "format is not 'ceremony-notary-bundle'"),
    ("other format", _set(format="tuf-bundle"), "format is not 'ceremony-notary-bundle'"),
    ("version 2", _set(version=2), "bundle format version 2; this tool reads version 1"),
    ("version true", _set(version=True), "bundle format version True"),
    ("wrong kind", _set(kind="signed"), "kind is 'signed', not 'fetched' or 'publish'"),
    ("unknown field", _set(extra=1), "a fetched bundle has no field 'extra'"),
    ("missing field", _drop("fetched_at"), "a fetched bundle needs the field 'fetched_at'"),
    (
        "publish with server",
        lambda d: (_publish(d), d.update(server="https://x")),
        "a publish bundle has no field 'server'",
    ),
    ("publish without files", lambda d: (_publish(d), d.update(files={})), "a publish bundle carries no files"),
    ("gun not text", _set(gun=7), "the GUN is not a string"),
    ("gun empty", _set(gun=""), "the GUN is empty or longer than 255 characters"),
    ("gun too long", _set(gun="a" * 256), "the GUN is empty or longer than 255 characters"),
    ("gun dot-dot", _set(gun="registry.example/../app"), "is not a repository name"),
    ("gun empty segment", _set(gun="registry.example//app"), "is not a repository name"),
    ("gun space", _set(gun="registry example/app"), "is not a repository name"),
    ("gun control", _set(gun="registry.example/a\x1b[2J"), "'registry.example/a\\\\x1b[2J' is not a repository name"),
    ("gun star", _set(gun="registry.example/*"), "is not a repository name"),
    ("gun query", _set(gun="registry.example/app?x=1"), "is not a repository name"),
    ("gun slash end", _set(gun="registry.example/app/"), "is not a repository name"),
    ("name dot-dot", _file("../x.json", ROOT), "'../x.json' is not a Notary metadata file name"),
    ("name through targets", _file("targets/../root.json", ROOT), "'targets/../root.json' is not a Notary"),
    ("name absolute", _file("/abs.json", ROOT), "'/abs.json' is not a Notary metadata file name"),
    ("name NUL", _file("root.json\x00", ROOT), "'root.json\\\\x00' is not a Notary metadata file name"),
    ("name control", _file("targets/a\nb.json", TARGETS), "'targets/a\\\\x0ab.json' is not a Notary metadata"),
    ("name upper-case delegation", _file("targets/Releases.json", TARGETS), "'targets/Releases.json' is not"),
    ("name dotted delegation", _file("targets/.hidden.json", TARGETS), "'targets/.hidden.json' is not"),
    ("name empty segment", _file("targets//x.json", TARGETS), "'targets//x.json' is not"),
    ("name targets/ alone", _file("targets/.json", TARGETS), "'targets/.json' is not"),
    ("name too deep", _file("targets/" + "a/" * 8 + "b.json", TARGETS), "is not a Notary metadata file name"),
    ("name too long", _file("targets/" + "a" * 250 + ".json", TARGETS), "is not a Notary metadata file name"),
    ("name zero root", _file("0.root.json", ROOT), "'0.root.json' is not a Notary metadata file name"),
    ("name leading zero", _file("01.root.json", ROOT), "'01.root.json' is not a Notary metadata file name"),
    ("name versioned targets", _file("2.targets.json", TARGETS), "'2.targets.json' is not a Notary metadata file"),
    ("name backslash", _file("targets\\x.json", TARGETS), "is not a Notary metadata file name"),
    ("name other", _file("root.json.bak", ROOT), "'root.json.bak' is not a Notary metadata file name"),
    (
        "too many files",
        lambda d: d["files"].update({f"targets/t{i}.json": _b64(TARGETS) for i in range(1000)}),
        "it carries 1,006 files; at most 1,000",
    ),
    ("files a list", _set(files=[]), "'files' is not an object"),
    ("file not text", lambda d: d["files"].update({"root.json": 5}), "root.json is not a base64 string"),
    (
        "file oversize",
        _file("targets.json", "A" * (4 * 1024 * 1024 * 4 // 3 + 8)),
        "targets.json is not a base64 string of at most 4,194,304 bytes",
    ),
    (
        "file decoded oversize",
        _file("targets.json", b" " * (4 * 1024 * 1024 + 1)),
        "targets.json is larger than 4,194,304 bytes",
    ),
    (
        "base64 newline",
        _file("root.json", _b64(ROOT)[:40] + "\n" + _b64(ROOT)[40:]),
        "root.json is not standard base64",
    ),
    (
        "base64 urlsafe",
        _file("root.json", _b64(b"\xfb\xff" * 30).replace("+", "-")),
        "root.json is not standard base64",
    ),
    ("base64 unpadded", _file("root.json", _b64(b"ab").rstrip("=")), "root.json is not standard base64"),
    ("base64 not canonical", _file("root.json", "YWJ="), "root.json is not canonical padded base64"),
    ("file not json", _file("targets.json", b"not json"), "targets.json: not valid JSON"),
    (
        "file not notary",
        _file("targets.json", b'{"signed": {}}'),
        "targets.json: not Notary metadata (no 'signatures' field)",
    ),
    (
        "file wrong role",
        _file("root.json", _ROOT_AS_TARGETS),
        "root.json: _type is \"Targets\", but root metadata is 'Root'",
    ),
    (
        "delegation wrong role",
        _file("targets/x.json", ROOT),
        "targets/x.json: _type is \"Root\", but targets/x metadata is 'Targets'",
    ),
    ("versioned root mislabelled", _file("7.root.json", ROOT), "7.root.json holds root version 1"),
    (
        "file control char",
        _file("targets.json", TARGETS.replace(b'"v1"', b'"v\\u00011"')),
        "targets.json: a string holds the control character U+0001",
    ),
    ("server missing", _drop("server"), "a fetched bundle needs the field 'server'"),
    ("server userinfo", _set(server="https://user:secret@notary.example"), "holds a user name or password (user@host)"),
    ("server scheme", _set(server="file:///etc/passwd"), "must start with https://"),
    ("server query", _set(server="https://notary.example/?x"), "holds a query or fragment"),
    ("server control", _set(server="https://notary.example/\x1b"), "must be printable ASCII"),
    (
        "fetched_at form",
        _set(fetched_at="2026-12-01 10:00:00"),
        "'fetched_at' is '2026-12-01 10:00:00', not YYYY-MM-DDTHH:MM:SSZ",
    ),
    ("fetched_at date", _set(fetched_at="2026-02-30T10:00:00Z"), "not YYYY-MM-DDTHH:MM:SSZ"),
    ("server_keys extra role", _key("targets", _base_keys()["snapshot"]), "exactly snapshot and timestamp"),
    ("server_keys missing role", lambda d: d["server_keys"].pop("snapshot"), "exactly snapshot and timestamp"),
    ("server key not object", _key("timestamp", "abc"), "the server's timestamp key is not a key object"),
    (
        "server key extra field",
        _key("timestamp", _EXTRA),
        "the server's timestamp key is not a key object with exactly",
    ),
    (
        "server key private",
        _key("snapshot", _PRIVATE),
        "the server's snapshot key a published ecdsa key holds a private part",
    ),
    (
        "server key type",
        _key("timestamp", {"keytype": "rsa-x509", "keyval": {"private": None, "public": "AA=="}}),
        "is a 'rsa-x509' key",
    ),
    ("server key short", _key("timestamp", _ED), "is not a plausible ed25519 public key (31 bytes)"),
    (
        "server key base64",
        _key("timestamp", {"keytype": "ecdsa", "keyval": {"private": None, "public": "@@"}}),
        "not standard padded base64",
    ),
    ("note not text", _set(note=["x"]), "'note' is not text of at most 4,000 characters"),
    ("note too long", _set(note="x" * 4001), "'note' is not text of at most 4,000 characters"),
]


@pytest.mark.parametrize(("edit", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_hostile_bundle_is_one_sentence(edit: Callable[[dict[str, Any]], None] | bytes, expected: str) -> None:
    if isinstance(edit, bytes):
        data = edit
    else:
        value = copy.deepcopy(_base())
        edit(value)
        data = json.dumps(value).encode()
    with pytest.raises(InputFileError) as err:
        from_bytes(data, "stick/bundle.json")
    message = str(err.value)
    assert message.startswith("stick/bundle.json: "), message
    assert expected in message, message
    assert "\n" not in message and "\x1b" not in message and "\x00" not in message


def test_an_oversized_bundle_is_refused_before_parsing() -> None:
    with pytest.raises(InputFileError, match="a bundle is at most 33,554,432 bytes"):
        from_bytes(b" " * (MAX_BUNDLE_BYTES + 1), "b")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://127.0.0.1:4443", None),
        ("https://notary.example/sub/path/", None),
        ("http://[::1]:4443", None),
        ("https://h:0", "port"),
        ("https://h:65536", "port"),
        ("https://h:", "port"),
        ("https://:4443", "host"),
        ("https://h_x", "host"),
        ("https://h/a b", "whitespace"),
        ("https://h/%2e%2e", "path"),
        ("https://h/a/../b", "path"),
        ("https://h//b", "path"),
        ("https://h#frag", "fragment"),
        ("https://h;x", "query"),
        ("https:/h", "https://"),
        ("HTTPS://h", "https://"),
        ("https://ü.example", "ASCII"),
        ("https://u@h", "user name or password"),
    ],
)
def test_server_urls(url: str, problem: str | None) -> None:
    found = server_url_problem(url)
    assert (found is None) if problem is None else (found is not None and problem in found), found
