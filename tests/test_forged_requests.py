"""Forged sign requests and signed copies: merge must never let a returned file take over the workspace.

Every variant the red team used (issue 10): a request whose id names a file
outside pending/ (absolute, ``../``) so that it becomes its own pending record;
a request carrying a config, key files outside keys/, removed roles or a
PKCS#11 module path; and a request whose strings carry terminal escapes. Each
must be refused in one line (or have its extra fields ignored), leave the
workspace byte for byte as it was, and write nothing anywhere else.
"""

# ruff: noqa: F811 (pytest injects the imported `rotation` fixture by parameter name)
from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from ceremony.core import diff as _diff
from tests.conftest import PASSPHRASE, CliRunner, one_line_error
from tests.test_changes import ok, signed_of, tree
from tests.test_sign_requests import copy_for, rotation, sign_as  # noqa: F401 (the rotation fixture)

ESC = "\x1b"


def _forged(ws: Path, request_id: str, **extra: Any) -> dict[str, Any]:
    """A request naming ``request_id``, proposing nothing, with the public root as its self-signed previous root."""
    return {
        "type": "ceremony-sign-request",
        "format": 1,
        "id": request_id,
        "created": "2026-12-01T00:00:00Z",
        "command": "rotate",
        "summary": ["routine rotation"],
        "previous_root": json.loads((ws / "metadata" / "root.json").read_bytes()),
        "context": {},
        "parents": {},
        "current": {},
        "metadata": {},
        "digest": _diff.payload_digest({}).hex(),
        **extra,
    }


def _evil_pending_fields(tmp_path: Path) -> dict[str, Any]:
    planted = tmp_path / "planted.so"
    planted.write_bytes(b"not a module")
    return {
        "base_root_version": 1,
        "config": {
            "format": 1,
            "roles": {},
            "keys": {
                "a" * 64: {
                    "label": "root-1",
                    "roles": ["root"],
                    "key_type": "ed25519",
                    "uri": f"pkcs11:token=x;object=y?module-path={planted}",
                }
            },
        },
        "new_key_files": {
            "../../x": base64.b64encode(b"overwritten").decode(),
            str(tmp_path / "abs"): base64.b64encode(b"overwritten").decode(),
        },
        "removed_roles": ["targets", "../metadata/root"],
        "revoked": [],
        "parents": {},
        "notes": [],
        "details": {},
    }


@pytest.mark.parametrize("style", ["absolute", "dotdot", "dotdot-pending"])
def test_request_naming_itself_as_the_pending_record_is_refused(
    cli: CliRunner, workspace: Path, tmp_path: Path, style: str
) -> None:
    before = tree(workspace)
    outside = tree(tmp_path)
    request = tmp_path / "returned" / "req.json"
    request.parent.mkdir()
    stem = str(request.with_suffix(""))
    request_id = {
        "absolute": stem,
        "dotdot": "../../" + str(request.relative_to(tmp_path).with_suffix("")),
        "dotdot-pending": "../pending/../../returned/req",
    }[style]
    body = _forged(workspace, request_id, **_evil_pending_fields(tmp_path))
    request.write_text(json.dumps(body))
    result = cli("merge", workspace, request)
    line = one_line_error(result)
    assert result.returncode == 1
    assert "id" in line and "16 hex digits" in line
    assert tree(workspace) == before
    assert not (tmp_path / "x.p12").exists() and not (tmp_path / "abs.p12").exists()
    assert set(tree(tmp_path)) - set(outside) == {"returned/req.json", "planted.so"}
    # The workspace still verifies, and its config never named the planted module.
    ok(cli("verify", workspace / "metadata"))
    ok(cli("transcript", "verify", workspace))
    assert "planted" not in (workspace / "ceremony.json").read_text()


def test_request_with_an_unknown_id_or_nothing_to_sign(cli: CliRunner, workspace: Path, tmp_path: Path) -> None:
    before = tree(workspace)
    request = tmp_path / "req.json"
    request.write_text(json.dumps(_forged(workspace, "0123456789abcdef", **_evil_pending_fields(tmp_path))))
    line = one_line_error(cli("merge", workspace, request))
    assert "proposes no metadata" in line
    assert tree(workspace) == before


def test_extra_fields_of_a_real_signed_copy_are_ignored(
    cli: CliRunner, rotation: dict, passphrase_file: Path, tmp_path: Path
) -> None:
    """A keyholder's copy of a real request, with a config, key files and removals added: merge uses only its pending record."""
    ws, request = rotation["ws"], rotation["request"]
    for name in ("kh1", "kh2"):
        kh = rotation["keyholders"][name]
        copy = copy_for(request, kh["home"])
        ok(sign_as(cli, copy, kh["home"] / "key.p12", kh["home"] / "pf"))
        body = json.loads(copy.read_text())
        body.update(_evil_pending_fields(tmp_path))
        copy.write_text(json.dumps(body))
    config_keys_before = set(json.loads((ws / "ceremony.json").read_text())["keys"])
    keys_before = tree(ws / "keys")
    result = cli(
        "merge",
        ws,
        rotation["keyholders"]["kh1"]["home"] / "req.json",
        rotation["keyholders"]["kh2"]["home"] / "req.json",
    )
    # Root 2 still needs the old keys' threshold: nothing is published, and nothing the copies carried is taken.
    one_line_error(result)
    assert tree(ws / "keys") == keys_before
    config = json.loads((ws / "ceremony.json").read_text())
    assert set(config["keys"]) == config_keys_before
    assert "planted" not in json.dumps(config)
    assert (ws / "metadata" / "targets.json").exists()
    assert not (tmp_path / "x.p12").exists()


def test_pending_record_damaged_after_a_crash_is_refused(cli: CliRunner, rotation: dict, tmp_path: Path) -> None:
    """The workspace's own pending record is read as hostile: key files outside keys/, removals, a foreign config."""
    ws, request = rotation["ws"], rotation["request"]
    request_id = json.loads(request.read_text())["id"]
    pending = ws / "pending" / f"{request_id}.json"
    record = json.loads(pending.read_text())
    evil = _evil_pending_fields(tmp_path)
    for field in ("new_key_files", "removed_roles"):
        pending.write_text(json.dumps(dict(record, **{field: evil[field]})))
        before = tree(ws)
        line = one_line_error(cli("merge", ws, request))
        assert str(pending) in line, line
        assert tree(ws) == before
    for damage in ({"config": "not an object"}, {"metadata": {"root": {"signed": 1}}}, {"request_id": "x"}):
        pending.write_text(json.dumps(dict(record, **damage)))
        line = one_line_error(cli("merge", ws, request))
        assert str(pending) in line, line
    assert not (tmp_path / "x.p12").exists()


def test_previous_root_that_is_a_targets_file(cli: CliRunner, workspace: Path, tmp_path: Path) -> None:
    body = _forged(workspace, "0123456789abcdef")
    body["previous_root"] = json.loads((workspace / "metadata" / "targets.json").read_bytes())
    request = tmp_path / "req.json"
    request.write_text(json.dumps(body))
    for command in (("merge", workspace, request), ("sign", request, "--key", tmp_path / "k.p12", "--yes")):
        line = one_line_error(cli(*command))
        assert "previous_root" in line or "root" in line


def _hostile_strings() -> list[str]:
    return [
        f"{ESC}[8m",
        f"{ESC}[2J{ESC}[H",
        "\r  root: 2 of 3 keys (unchanged)",
        "\u202e",
        f"{ESC}]0;title\a",
        "[bold red]markup[/]",
    ]


def test_sign_shows_a_crafted_summary_as_data_and_the_real_diff_last(
    cli: CliRunner, rotation: dict, tmp_path: Path
) -> None:
    kh = rotation["keyholders"]["kh1"]
    copy = copy_for(rotation["request"], kh["home"])
    body = json.loads(copy.read_text())
    fake_words = " ".join(["abandon"] * 24)
    body["summary"] = [
        "rotate root: nothing changes",
        f"SHA-256 of what will be signed: {'0' * 64}",
        f"  as words (BIP-39): {fake_words}",
        f"Type 'yes' to sign: yes{ESC}[8m",
        *_hostile_strings(),
    ]
    copy.write_text(json.dumps(body))
    result = sign_as(cli, copy, kh["home"] / "key.p12", kh["home"] / "pf")
    ok(result)
    out = result.stdout
    assert ESC not in out and "\r" not in out and "\u202e" not in out and "\a" not in out
    assert "\\x1b[8m" in out and "\\u202e" in out
    # The request's own words come first, marked as unsigned; the computed digest and words come last.
    unsigned_at = out.index("NOT signed")
    real_at = out.rindex(f"SHA-256 of what will be signed: {rotation['digest']}")
    assert unsigned_at < out.index("  | rotate root: nothing changes") < real_at
    assert out.index("What will change:") > unsigned_at
    assert " ".join(rotation["words"]) in out[real_at:]
    assert all(line.startswith("  | ") for line in out[unsigned_at:].splitlines()[1:9])


def test_crafted_metadata_strings_are_shown_escaped(cli: CliRunner, workspace: Path, tmp_path: Path) -> None:
    """A whole new request (digest recomputed, as anyone can) whose metadata carries escapes in its own fields."""
    root = json.loads((workspace / "metadata" / "root.json").read_bytes())
    new = json.loads(json.dumps(root))
    new["signatures"] = []
    new["signed"]["version"] = 2
    keyid = next(iter(new["signed"]["keys"]))
    added = dict(new["signed"]["keys"][keyid], **{"x-tuf-on-ci-keyowner": "@kh".join(_hostile_strings())})
    new["signed"]["keys"]["f" * 64] = added
    new["signed"]["roles"]["root"]["keyids"].append("f" * 64)
    from ceremony.core import metadata as _md

    md = _md.from_dict(new, "crafted")
    body = _forged(
        workspace,
        "0123456789abcdef",
        metadata={"root": new},
        digest=_diff.payload_digest({"root": _md.signed_bytes(md)}).hex(),
    )
    request = tmp_path / "req.json"
    request.write_text(json.dumps(body))
    key = tmp_path / "k.p12"
    pf = tmp_path / "pf"
    pf.write_text(PASSPHRASE + "\n")
    ok(cli("key", "generate", key, "--passphrase-file", pf))
    result = cli("sign", request, "--key", key, "--passphrase-file", pf, "--yes")
    assert ESC not in result.stdout + result.stderr
    assert "\\x1b[8m" in result.stdout
    assert "\\u202e" in result.stdout
    line = one_line_error(result)  # the key is not one the request needs
    assert "not one of the keys" in line


def test_merge_of_a_copy_of_another_workspaces_request(
    cli: CliRunner, rotation: dict, base_workspace: Path, tmp_path: Path
) -> None:
    """A real request id that this workspace never made: refused, nothing written."""
    other = tmp_path / "other"
    shutil.copytree(base_workspace, other)
    before = tree(other)
    line = one_line_error(cli("merge", other, rotation["request"]))
    assert "was not made by this workspace" in line
    assert tree(other) == before
    assert signed_of(other / "metadata" / "root.json")["version"] == 1
