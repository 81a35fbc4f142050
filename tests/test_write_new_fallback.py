"""``_fs.write_new`` on a filesystem without hard links (FAT and exFAT sticks, where key files and bundles go)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from ceremony.core import _fs


def _no_links(*_args: object) -> None:
    raise OSError(errno.EPERM, "Operation not permitted")


def test_without_hard_links_the_file_is_complete_private_and_never_replaces_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "link", _no_links)
    target = tmp_path / "key.p12"
    _fs.write_new(target, b"complete key file")
    assert target.read_bytes() == b"complete key file" and (target.stat().st_mode & 0o777) == 0o600
    with pytest.raises(FileExistsError):
        _fs.write_new(target, b"other")
    assert target.read_bytes() == b"complete key file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key.p12"]  # no temporary file left
