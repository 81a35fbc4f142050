"""Target files (ceremony targets add/remove/list): written to WS/targets/, listed by their role, fetched and checked
by python-tuf's ngclient from a plain HTTP server of the workspace, and refused when altered after signing."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from tuf.api.exceptions import LengthOrHashMismatchError
from tuf.ngclient import Updater

from tests.clients import serve_directory
from tests.conftest import CliRunner, one_line_error
from tests.test_changes import ok


def download(ws: Path, path: str) -> bytes:
    """python-tuf's ngclient: refresh from WS/metadata (trusting 1.root.json), then download WS/targets/<path>."""
    with serve_directory(ws) as url, tempfile.TemporaryDirectory() as cache:
        updater = Updater(
            metadata_dir=cache,
            metadata_base_url=url + "metadata/",
            target_dir=cache,
            target_base_url=url + "targets/",
            bootstrap=(ws / "metadata" / "1.root.json").read_bytes(),
        )
        updater.refresh()
        info = updater.get_targetinfo(path)
        assert info is not None, path
        return Path(updater.download_target(info, str(Path(cache) / "t"))).read_bytes()


def known(ws: Path, path: str) -> bool:
    with serve_directory(ws) as url, tempfile.TemporaryDirectory() as cache:
        root = (ws / "metadata" / "1.root.json").read_bytes()
        updater = Updater(cache, url + "metadata/", cache, url + "targets/", bootstrap=root)
        updater.refresh()
        return updater.get_targetinfo(path) is not None


def test_targets_added_are_fetched_and_altered_ones_refused(
    cli: CliRunner, workspace: Path, passphrase_file: Path, tmp_path: Path
) -> None:
    (tmp_path / "hello.txt").write_bytes(b"hello target\n")
    (tmp_path / "n.bin").write_bytes(b"\x00nested\xff")
    added = ok(
        cli(
            "targets",
            "add",
            workspace,
            tmp_path / "hello.txt",
            tmp_path / "n.bin",
            "--name",
            "hello.txt",
            "--name",
            "sub/n.bin",
            "--passphrase-file",
            passphrase_file,
            "--yes",
        )
    )
    assert "+ target hello.txt: 13 bytes, sha256" in added.stdout and "wrote    targets/sub/n.bin" in added.stdout
    assert download(workspace, "hello.txt") == b"hello target\n"
    assert download(workspace, "sub/n.bin") == b"\x00nested\xff"
    listed = ok(cli("targets", "list", workspace)).stdout
    assert "hello.txt  13 bytes  sha256:" in listed and "sub/n.bin  8 bytes" in listed
    ok(cli("transcript", "verify", workspace))  # the target files are accounted for

    (workspace / "targets" / "hello.txt").write_bytes(b"hello tarGet\n")  # same length, other bytes
    with pytest.raises(LengthOrHashMismatchError):
        download(workspace, "hello.txt")

    removed = ok(cli("targets", "remove", workspace, "sub/n.bin", "--passphrase-file", passphrase_file, "--yes"))
    assert "- target sub/n.bin" in removed.stdout
    assert not (workspace / "targets" / "sub" / "n.bin").exists() and not known(workspace, "sub/n.bin")


@pytest.mark.parametrize("name", ["../escape", ".hidden", "a//b", "/abs", "a/../b", "sp ace"])
def test_target_paths_that_would_leave_targets_are_refused(
    cli: CliRunner, workspace: Path, passphrase_file: Path, tmp_path: Path, name: str
) -> None:
    (tmp_path / "f").write_bytes(b"x")
    line = one_line_error(
        cli("targets", "add", workspace, tmp_path / "f", "--name", name, "--passphrase-file", passphrase_file, "--yes")
    )
    assert "target path" in line and not (workspace / "targets").exists()


def test_delegated_role_targets_follow_the_delegation(
    cli: CliRunner, workspace: Path, passphrase_file: Path, tmp_path: Path
) -> None:
    pf = ["--passphrase-file", passphrase_file]
    ok(
        cli(
            "delegate",
            workspace,
            "releases",
            "--paths",
            "releases/*",
            "--keys",
            "1",
            "--key-type",
            "ed25519",
            *pf,
            "--yes",
        )
    )
    (tmp_path / "a.txt").write_bytes(b"release a\n")
    ok(
        cli(
            "targets",
            "add",
            workspace,
            tmp_path / "a.txt",
            "--name",
            "releases/a.txt",
            "--role",
            "releases",
            *pf,
            "--yes",
        )
    )
    assert download(workspace, "releases/a.txt") == b"release a\n"
    refused = cli(
        "targets", "add", workspace, tmp_path / "a.txt", "--name", "other/a.txt", "--role", "releases", *pf, "--yes"
    )
    assert "its delegation does not cover 'other/a.txt'" in one_line_error(refused)


def test_targets_through_a_sign_request(cli: CliRunner, workspace: Path, passphrase_file: Path, tmp_path: Path) -> None:
    """The file waits in pending/ with the request and is written when the change is merged."""
    (tmp_path / "r.txt").write_bytes(b"requested\n")
    request = tmp_path / "request.json"
    ok(cli("targets", "add", workspace, tmp_path / "r.txt", "--request", request, "--yes"))
    assert not (workspace / "targets").exists()
    config = json.loads((workspace / "ceremony.json").read_text())
    for role in ("targets", "snapshot", "timestamp"):  # each role's keyholder signs with their own key file
        keyid = next(k for k, v in config["keys"].items() if role in v["roles"])
        own = workspace / "keys" / f"{keyid}.p12"
        ok(cli("sign", request, "--key", own, "--passphrase-file", passphrase_file, "--yes"))
    ok(cli("merge", workspace, request))
    assert download(workspace, "r.txt") == b"requested\n"


def test_a_pending_record_cannot_write_or_remove_files_its_metadata_does_not_name(
    cli: CliRunner, workspace: Path, passphrase_file: Path, tmp_path: Path
) -> None:
    pf = ["--passphrase-file", passphrase_file]
    (tmp_path / "keep.txt").write_bytes(b"keep\n")
    ok(cli("targets", "add", workspace, tmp_path / "keep.txt", *pf, "--yes"))
    (tmp_path / "r.txt").write_bytes(b"requested\n")
    request = tmp_path / "request.json"
    ok(cli("targets", "add", workspace, tmp_path / "r.txt", "--request", request, "--yes"))
    (pending,) = (workspace / "pending").glob("*.json")
    record = json.loads(pending.read_text())
    record["target_files"]["targets/keep.txt"] = None  # an edit after the request was made
    record["target_files"]["targets/evil/index.html"] = "PGgxPmV2aWw8L2gxPg=="
    pending.write_text(json.dumps(record))
    config = json.loads((workspace / "ceremony.json").read_text())
    for role in ("targets", "snapshot", "timestamp"):
        keyid = next(k for k, v in config["keys"].items() if role in v["roles"])
        ok(cli("sign", request, "--key", workspace / "keys" / f"{keyid}.p12", *pf, "--yes"))
    line = one_line_error(cli("merge", workspace, request))
    assert "targets/" in line and "metadata" in line
    assert (workspace / "targets" / "keep.txt").read_bytes() == b"keep\n"
    assert not (workspace / "targets" / "evil").exists() and not (workspace / "targets" / "r.txt").exists()


def test_a_symlinked_targets_directory_is_refused_before_anything_is_written(
    cli: CliRunner, workspace: Path, passphrase_file: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (workspace / "targets").symlink_to(outside)
    (tmp_path / "f.txt").write_bytes(b"x\n")
    added = cli(
        "targets",
        "add",
        workspace,
        tmp_path / "f.txt",
        "--name",
        "sub/deep/f.txt",
        "--passphrase-file",
        passphrase_file,
        "--yes",
    )
    assert "a link or a file where a directory of the workspace must be" in one_line_error(added)
    assert list(outside.iterdir()) == []
    ok(cli("status", workspace))  # no journal entry left behind: every command still works
