"""Shared fixtures: the CLI as a user runs it, passphrase files, the shared test vectors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
VECTORS = REPO_ROOT / "tests" / "vectors"  # copied byte for byte from shared/vectors, each with its SOURCE.txt
PASSPHRASE = "correct horse battery staple"

# Real published repositories and a date inside their validity (vectors/README.md).
VECTOR_DATES = {
    "sigstore-root-signing": "2026-08-25",
    "sigstore-root-signing-legacy": "2024-09-05",
    "sigstore-root-signing-staging": "2026-08-25",
    "jku-tuf-demo": "2026-08-22",
    "dccouncil-law": "2025-07-01",
    "python-tuf-repository_data": "2026-11-28",
}


@pytest.fixture
def vectors() -> Path:
    if not VECTORS.is_dir():
        pytest.fail(f"test vectors missing: {VECTORS} is part of the checkout")
    return VECTORS


CliRunner = Callable[..., subprocess.CompletedProcess[str]]


def _run(
    *args: str | os.PathLike[str],
    cwd: Path | None = None,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``ceremony ARGS`` in a subprocess, as an operator would, without a terminal."""
    return subprocess.run(
        [sys.executable, "-m", "ceremony", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        input=stdin if stdin is not None else "",
        timeout=300,
        check=False,
        env=env,
    )


@pytest.fixture
def cli() -> CliRunner:
    return _run


@pytest.fixture
def passphrase_file(tmp_path: Path) -> Path:
    path = tmp_path / "passphrase"
    path.write_text(PASSPHRASE + "\n")
    return path


@pytest.fixture(scope="session")
def base_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ed25519 2-of-3 workspace made by the CLI; copy it before changing it."""
    top = tmp_path_factory.mktemp("base")
    pf = top / "passphrase"
    pf.write_text(PASSPHRASE + "\n")
    result = _run("init", top / "ws", "--root-keys", "3", "--threshold", "2", "--passphrase-file", pf, "--yes")
    assert result.returncode == 0, result.stderr
    return top / "ws"


@pytest.fixture
def workspace(base_workspace: Path, tmp_path: Path) -> Path:
    """A private copy of the base workspace (modes kept)."""
    dest = tmp_path / "ws"
    shutil.copytree(base_workspace, dest)
    return dest


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """Assert the CLI failed with exactly one ``error:`` line and no traceback; return it."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    return errors[0]
