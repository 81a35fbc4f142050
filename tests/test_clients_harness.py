"""Prove the independent-client harness (tests/clients.py) can pass and fail.

Uses python-tuf's published test repository (valid until 2030) from
``tests/vectors`` (copied from shared/vectors).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tuf.api.exceptions import UnsignedMetadataError

from tests import clients
from tests.clients import python_tuf_refresh, serve_directory, tufjs_refresh

VECTORS = Path(__file__).resolve().parent / "vectors"
REPO = VECTORS / "python-tuf-repository_data"

CLIENTS = {"python-tuf": python_tuf_refresh, "tuf-js": tufjs_refresh}


@pytest.fixture
def repo() -> Path:
    if not REPO.is_dir():
        pytest.skip(f"test vectors not available: {REPO} is absent")
    return REPO


def _version(path: Path) -> int:
    return json.loads(path.read_bytes())["signed"]["version"]


def test_vector_repository_layout(repo: Path) -> None:
    # The clients fetch plain "snapshot.json"/"role1.json": no version prefix.
    root = json.loads((repo / "1.root.json").read_bytes())["signed"]
    assert root["consistent_snapshot"] is False


def test_serve_directory(tmp_path: Path) -> None:
    import urllib.request

    (tmp_path / "hello.txt").write_bytes(b"hi")
    with serve_directory(tmp_path) as url:
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url + "hello.txt", timeout=10) as resp:  # noqa: S310 - loopback http
            assert resp.read() == b"hi"


@pytest.mark.parametrize("client", CLIENTS)
def test_refresh_ok(repo: Path, client: str) -> None:
    result = CLIENTS[client](repo, repo / "1.root.json")
    assert result["ok"] is True
    assert result["root_version"] == _version(repo / "root.json")
    assert result["timestamp_version"] == _version(repo / "timestamp.json")
    assert result["snapshot_version"] == _version(repo / "snapshot.json")
    assert result["targets_version"] == _version(repo / "targets.json")
    assert result["targets"] == {}


@pytest.mark.parametrize("client", CLIENTS)
def test_finds_delegated_target(repo: Path, client: str) -> None:
    role1 = json.loads((repo / "role1.json").read_bytes())["signed"]
    top = json.loads((repo / "targets.json").read_bytes())["signed"]
    delegated = sorted(role1["targets"])[0]
    assert delegated not in top["targets"]  # only reachable via role1
    missing = "no/such/target.txt"

    result = CLIENTS[client](repo, repo / "1.root.json", [delegated, missing])
    assert result["targets"] == {delegated: True, missing: False}


def _tampered_copy(repo: Path, tmp_path: Path) -> Path:
    """Copy the repository, changing one byte inside timestamp's "signed"."""
    copy = tmp_path / "repo"
    shutil.copytree(repo, copy)
    ts = copy / "timestamp.json"
    original = ts.read_bytes()
    old = b'"expires": "2030-01-01T00:00:00Z"'
    new = b'"expires": "2030-01-01T00:00:01Z"'
    assert original.count(old) == 1
    tampered = original.replace(old, new)
    assert sum(a != b for a, b in zip(original, tampered, strict=True)) == 1
    ts.write_bytes(tampered)
    assert json.loads(tampered)["signed"]["expires"] == "2030-01-01T00:00:01Z"
    return copy


def test_python_tuf_rejects_tampered_timestamp(repo: Path, tmp_path: Path) -> None:
    copy = _tampered_copy(repo, tmp_path)
    with pytest.raises(UnsignedMetadataError, match="timestamp"):
        python_tuf_refresh(copy, copy / "1.root.json")


def test_tufjs_rejects_tampered_timestamp(repo: Path, tmp_path: Path) -> None:
    copy = _tampered_copy(repo, tmp_path)
    with pytest.raises(AssertionError, match="UnsignedMetadataError"):
        tufjs_refresh(copy, copy / "1.root.json")


def test_tufjs_missing_dependencies_is_an_error(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clients, "TUFJS_DIR", tmp_path)
    with pytest.raises(RuntimeError, match="npm ci"):
        tufjs_refresh(repo, repo / "1.root.json")
