"""Target files as both TUF clients download them, with and without consistent snapshots.

python-tuf's ngclient and tuf-js each download every target from a plain HTTP server of the workspace and check
its length and hashes. With consistent snapshots (``ceremony init --consistent-snapshot``) clients fetch
``N.ROLE.json`` and ``targets/DIR/HASH.NAME``; the files a client would fetch by their plain names are not there,
so a client that ignored consistent snapshots would fail here.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path

import pytest
from tuf.api.exceptions import LengthOrHashMismatchError
from tuf.ngclient import Updater

from tests.clients import serve_directory, tufjs_download
from tests.conftest import PASSPHRASE, CliRunner, _run
from tests.test_changes import ok


@pytest.fixture(scope="module")
def base_consistent(tmp_path_factory: pytest.TempPathFactory) -> Path:
    top = tmp_path_factory.mktemp("consistent")
    pf = top / "passphrase"
    pf.write_text(PASSPHRASE + "\n")
    result = _run("init", top / "ws", "--consistent-snapshot", "--passphrase-file", pf, "--yes")
    assert result.returncode == 0, result.stderr
    return top / "ws"


@pytest.fixture
def ws(base_consistent: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "ws"
    shutil.copytree(base_consistent, dest)
    return dest


def test_plain_names_without_consistent_snapshots_both_clients(
    cli: CliRunner, workspace: Path, passphrase_file: Path, tmp_path: Path
) -> None:
    """Top-level and delegated targets of a workspace without consistent snapshots: targets/PATH, tuf-js too."""
    pf = ["--passphrase-file", passphrase_file]
    ok(cli("delegate", workspace, "releases", "--paths", "releases/*", "--keys", "1", *pf, "--yes"))
    (tmp_path / "a").write_bytes(b"top level\n")
    (tmp_path / "b").write_bytes(b"delegated\n")
    ok(cli("targets", "add", workspace, tmp_path / "a", "--name", "dir/a.txt", *pf, "--yes"))
    ok(cli("targets", "add", workspace, tmp_path / "b", "--name", "releases/b.txt", "--role", "releases", *pf, "--yes"))
    assert (workspace / "targets/dir/a.txt").read_bytes() == b"top level\n"
    assert python_tuf_download(workspace, "releases/b.txt") == b"delegated\n"
    assert tufjs_download(workspace, workspace / "metadata/1.root.json", ["dir/a.txt", "releases/b.txt"]) == {
        "dir/a.txt": hashlib.sha256(b"top level\n").hexdigest(),
        "releases/b.txt": hashlib.sha256(b"delegated\n").hexdigest(),
    }
    ok(cli("targets", "remove", workspace, "releases/b.txt", "--role", "releases", *pf, "--yes"))
    assert tufjs_download(workspace, workspace / "metadata/1.root.json", ["releases/b.txt"]) == {}
    (workspace / "targets/dir/a.txt").write_bytes(b"top levEl\n")
    with pytest.raises(AssertionError, match="LengthOrHashMismatchError: Expected hash"):
        tufjs_download(workspace, workspace / "metadata/1.root.json", ["dir/a.txt"])


def python_tuf_download(ws: Path, path: str) -> bytes:
    """ngclient trusting 1.root.json; the bytes it accepted for ``path`` (it checks length and hashes)."""
    with serve_directory(ws) as url, tempfile.TemporaryDirectory() as cache:
        updater = Updater(
            cache, url + "metadata/", cache, url + "targets/", bootstrap=(ws / "metadata/1.root.json").read_bytes()
        )
        updater.refresh()
        info = updater.get_targetinfo(path)
        assert info is not None, path
        return Path(updater.download_target(info, str(Path(cache) / "t"))).read_bytes()


def listed(ws: Path, role: str = "targets") -> dict:
    return json.loads((ws / "metadata" / f"{role}.json").read_bytes())["signed"]["targets"]


def test_new_repository_has_versioned_role_files(ws: Path) -> None:
    names = sorted(p.name for p in (ws / "metadata").iterdir())
    assert names == [
        "1.root.json",
        "1.snapshot.json",
        "1.targets.json",
        "root.json",
        "snapshot.json",
        "targets.json",
        "timestamp.json",
    ]
    root = json.loads((ws / "metadata/root.json").read_bytes())["signed"]
    assert root["consistent_snapshot"] is True
    assert (ws / "metadata/1.targets.json").read_bytes() == (ws / "metadata/targets.json").read_bytes()


def test_targets_are_written_under_their_hashes_and_both_clients_download_them(
    cli: CliRunner, ws: Path, passphrase_file: Path, tmp_path: Path
) -> None:
    pf = ["--passphrase-file", passphrase_file]
    files = {"hello.txt": b"hello consistent\n", "sub/dir/n.bin": b"\x00nested\xff" * 50}
    for index, data in enumerate(files.values()):
        (tmp_path / f"f{index}").write_bytes(data)
    names = [arg for name in files for arg in ("--name", name)]
    ok(cli("targets", "add", ws, tmp_path / "f0", tmp_path / "f1", *names, "--sha512", *pf, "--yes"))

    for name, data in files.items():
        info = listed(ws)[name]
        directory, _, base = ("/" + name).rpartition("/")
        for digest in (info["hashes"]["sha256"], info["hashes"]["sha512"]):
            assert (ws / "targets" / directory.lstrip("/") / f"{digest}.{base}").read_bytes() == data
        assert not (ws / "targets" / name).exists()  # only the hashed names are served
        assert python_tuf_download(ws, name) == data
    assert tufjs_download(ws, ws / "metadata/1.root.json", list(files)) == {
        name: hashlib.sha256(data).hexdigest() for name, data in files.items()
    }
    assert (ws / "metadata/2.targets.json").read_bytes() == (ws / "metadata/targets.json").read_bytes()
    assert (ws / "metadata/2.snapshot.json").is_file() and not (ws / "metadata/2.timestamp.json").exists()
    ok(cli("verify", ws / "metadata"))
    ok(cli("transcript", "verify", ws))

    # A file changed after signing (same length): both clients refuse it.
    digest = listed(ws)["hello.txt"]["hashes"]["sha256"]
    (ws / "targets" / f"{digest}.hello.txt").write_bytes(b"hello Consistent\n")
    with pytest.raises(LengthOrHashMismatchError):
        python_tuf_download(ws, "hello.txt")
    with pytest.raises(AssertionError, match="LengthOrHashMismatchError: Expected hash"):
        tufjs_download(ws, ws / "metadata/1.root.json", ["hello.txt"])


def test_changed_and_removed_targets_under_consistent_snapshots(
    cli: CliRunner, ws: Path, passphrase_file: Path, tmp_path: Path
) -> None:
    """A new version of a target is a new hashed file; clients of the old snapshot still find the old one."""
    pf = ["--passphrase-file", passphrase_file]
    (tmp_path / "a").write_bytes(b"version one\n")
    ok(cli("targets", "add", ws, tmp_path / "a", "--name", "app.txt", *pf, "--yes"))
    old = listed(ws)["app.txt"]["hashes"]["sha256"]
    (tmp_path / "a").write_bytes(b"version two, longer\n")
    changed = ok(cli("targets", "add", ws, tmp_path / "a", "--name", "app.txt", *pf, "--yes"))
    assert "app.txt" in changed.stdout
    new = listed(ws)["app.txt"]["hashes"]["sha256"]
    assert new != old and (ws / "targets" / f"{new}.app.txt").is_file()
    assert python_tuf_download(ws, "app.txt") == b"version two, longer\n"
    assert tufjs_download(ws, ws / "metadata/1.root.json", ["app.txt"]) == {
        "app.txt": hashlib.sha256(b"version two, longer\n").hexdigest()
    }

    ok(cli("targets", "remove", ws, "app.txt", *pf, "--yes"))
    assert "app.txt" not in listed(ws)
    assert not (ws / "targets" / f"{new}.app.txt").exists()
    assert tufjs_download(ws, ws / "metadata/1.root.json", ["app.txt"]) == {}
    ok(cli("verify", ws / "metadata"))


def test_delegated_role_and_sign_request_under_consistent_snapshots(
    cli: CliRunner, ws: Path, passphrase_file: Path, tmp_path: Path
) -> None:
    pf = ["--passphrase-file", passphrase_file]
    ok(cli("delegate", ws, "releases", "--paths", "releases/*", "--keys", "1", *pf, "--yes"))
    assert (ws / "metadata/1.releases.json").is_file()
    (tmp_path / "r").write_bytes(b"release one\n")
    request = tmp_path / "request.json"
    ok(
        cli(
            "targets",
            "add",
            ws,
            tmp_path / "r",
            "--name",
            "releases/r1.txt",
            "--role",
            "releases",
            "--sha512",  # with consistent snapshots the pending record names SHA512.NAME files, 128+ characters
            "--request",
            request,
            "--yes",
        )
    )
    config = json.loads((ws / "ceremony.json").read_text())
    for role in ("releases", "snapshot", "timestamp"):  # each keyholder signs with their own key file
        keyid = next(k for k, v in config["keys"].items() if role in v["roles"])
        ok(cli("sign", request, "--key", ws / "keys" / f"{keyid}.p12", *pf, "--yes"))
    ok(cli("merge", ws, request))
    assert (ws / "metadata/2.releases.json").is_file()
    sha512 = json.loads((ws / "metadata/releases.json").read_bytes())["signed"]["targets"]["releases/r1.txt"]["hashes"][
        "sha512"
    ]
    assert (ws / "targets" / "releases" / f"{sha512}.r1.txt").read_bytes() == b"release one\n"
    assert python_tuf_download(ws, "releases/r1.txt") == b"release one\n"
    assert tufjs_download(ws, ws / "metadata/1.root.json", ["releases/r1.txt"]) == {
        "releases/r1.txt": hashlib.sha256(b"release one\n").hexdigest()
    }
