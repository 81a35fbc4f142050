"""The backup ledger after real backups: an export with its test restore, a drill, a new root version, status.

One export with a test restore (real QR codes and PDFs, read back by zxing-cpp)
is made for the module; each test works on its own copy of that workspace.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ceremony.core import ledger, recovery, status, transcript
from ceremony.core.workspace import Workspace
from tests.conftest import CliRunner

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def exported(base_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[str]]:
    top = tmp_path_factory.mktemp("ledger")
    shutil.copytree(base_workspace, top / "ws")
    lines = recovery.export_with_test_restore(Workspace.load(top / "ws"), top / "out", NOW)
    return top / "ws", top / "out", lines


def _copy(exported: tuple[Path, Path, list[str]], tmp_path: Path) -> Path:
    shutil.copytree(exported[0], tmp_path / "ws")
    return tmp_path / "ws"


def test_status_of_a_new_workspace_warns_of_its_untested_root(base_workspace: Path, tmp_path: Path) -> None:
    shutil.copytree(base_workspace, tmp_path / "ws")
    result = status.workspace_status(Workspace.load(tmp_path / "ws"))
    assert result.backups is not None and result.backups.untested == [1]
    assert [w for w in result.warnings if "paper backup" in w] == [
        f"root v1 has no tested paper backup: run ceremony export {tmp_path / 'ws'} --out DIR --test-restore (or "
        f"ceremony drill {tmp_path / 'ws'} --backup DIR of an existing backup; in the terminal UI, b)"
    ]
    assert result.to_dict()["backup_ledger"][0]["tested"] is False


def test_export_with_test_restore_records_the_ledger(exported: tuple[Path, Path, list[str]]) -> None:
    ws, out, lines = exported
    assert "test restore of 1.root.json from the printable PDFs: byte-identical" in lines
    entry = json.loads((ws / transcript.TRANSCRIPT_NAME).read_bytes().splitlines()[-1])
    sha = recovery.sha256_hex((ws / "metadata" / "1.root.json").read_bytes())
    assert entry["command"] == "test-restore"
    assert entry["details"][ledger.DETAILS_KEY] == {
        "how": "test-restore",
        "backup": out.name,
        "files": [{"name": "1.root.json", "sha256": sha}],
    }
    result = status.workspace_status(Workspace.load(ws))
    assert not [w for w in result.warnings if "paper backup" in w], result.warnings
    assert result.backups is not None
    assert result.backups.lines() == [
        f"root v1: tested {NOW.strftime('%Y-%m-%dT%H:%M:%SZ')} by export and test restore of the printable PDFs"
    ]
    (row,) = result.to_dict()["backup_ledger"]
    assert row["tested"] is True and row["how"] == "test-restore" and row["sha256"] == sha


def test_a_passing_drill_records_the_ledger_and_a_failing_one_does_not(
    exported: tuple[Path, Path, list[str]], tmp_path: Path
) -> None:
    ws = Workspace.load(_copy(exported, tmp_path))
    out = exported[1]
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for png in sorted(out.glob("*-part*.png"))[1:]:
        shutil.copy(png, damaged)
    failed = recovery.drill(ws, damaged, NOW + timedelta(hours=1))
    assert not failed.passed
    assert ledger.backup_ledger(ws).versions[0].tested.how == "test-restore"  # type: ignore[union-attr]
    report = recovery.drill(ws, out, NOW + timedelta(hours=2))
    assert report.passed
    (version,) = ledger.backup_ledger(ws).versions
    assert version.tested is not None and version.tested.how == "drill"
    entry = json.loads((ws.path / transcript.TRANSCRIPT_NAME).read_bytes().splitlines()[-1])
    assert (
        entry["changes"][1]
        == f"paper backup of 1.root.json tested: restored byte-identical (sha256 {version.sha256[:16]})"
    )
    assert version.tested.time == (NOW + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_new_root_version_has_no_tested_backup_until_one_is_made(
    cli: CliRunner, exported: tuple[Path, Path, list[str]], tmp_path: Path
) -> None:
    ws = _copy(exported, tmp_path)
    pf = tmp_path / "pf"
    pf.write_text("correct horse battery staple\n")
    result = cli("extend", ws, "--role", "root", "--days", "300", "--passphrase-file", pf, "--yes")
    assert result.returncode == 0, result.stderr
    shown = status.workspace_status(Workspace.load(ws))
    assert shown.backups is not None
    assert [v.tested is not None for v in shown.backups.versions] == [True, False]
    assert next(w for w in shown.warnings if "paper backup" in w).startswith("root v2 has no tested paper backup: ")
    # The old export, drilled against the new workspace, proves version 1 again and says nothing of version 2.
    assert recovery.drill(Workspace.load(ws), exported[1]).passed
    assert ledger.backup_ledger(Workspace.load(ws)).untested == [2]


# --------------------------------------------------------------------------- restore inputs


def test_expand_inputs_files_directories_and_globs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scans = tmp_path / "scans"
    (scans / "sub").mkdir(parents=True)
    for name in ("b.png", "a.png", "c.txt", ".hidden.png"):
        (scans / name).write_bytes(b"x")
    (scans / "sub" / "d.png").write_bytes(b"x")
    (scans / "link.png").symlink_to(tmp_path / "elsewhere.png")
    (tmp_path / "elsewhere.png").write_bytes(b"x")
    # A directory: its regular files, sorted; not hidden ones, subdirectories or links.
    assert [p.name for p in recovery.expand_inputs([str(scans)])] == ["a.png", "b.png", "c.txt"]
    # A glob, sorted; a file reached twice is given once; a plain file as named.
    assert [p.name for p in recovery.expand_inputs([f"{scans}/*.png", str(scans / "c.txt"), str(scans / "a.png")])] == [
        "a.png",
        "b.png",
        "c.txt",
    ]
    for item, message in [
        (f"{scans}/*.jpg", "matches no file"),
        (str(scans / "missing.png"), "no such file"),
        (str(scans / "sub" / "none"), "no such file"),
    ]:
        with pytest.raises(recovery.UsageError, match=message) as caught:
            recovery.expand_inputs([item])
        assert str(caught.value).startswith(item)
    monkeypatch.setattr(recovery, "MAX_INPUT_FILES", 2)
    with pytest.raises(recovery.UsageError, match="more than 2 files"):
        recovery.expand_inputs([str(scans)])
    with pytest.raises(recovery.UsageError, match="matches more than 2 files"):
        recovery.expand_inputs([f"{scans}/*.png"])
    with pytest.raises(recovery.UsageError, match="more than 2 files"):
        recovery.expand_inputs([str(scans / "a.png"), str(scans / "b.png"), str(scans / "c.txt")])


def test_cli_export_with_test_restore_counts_and_status_lists_it(
    cli: CliRunner, base_workspace: Path, tmp_path: Path
) -> None:
    """`ceremony export --test-restore` is the CLI's tested backup; `status` lists each version's backup."""
    shutil.copytree(base_workspace, tmp_path / "ws")
    before = cli("status", tmp_path / "ws")
    assert "root v1: no tested paper backup" in before.stdout, before.stdout
    refused = cli("export", tmp_path / "ws", "--out", tmp_path / "x", "--test-restore", "--versions", "latest")
    assert refused.returncode == 2 and "--test-restore backs up every root version" in refused.stderr
    made = cli("export", tmp_path / "ws", "--out", tmp_path / "paper", "--test-restore")
    assert made.returncode == 0, made.stderr
    assert "test restore of 1.root.json from the printable PDFs: byte-identical" in made.stdout
    after = cli("status", tmp_path / "ws")
    assert "Paper backups" in after.stdout and "root v1: tested" in after.stdout, after.stdout
    assert "no tested paper backup" not in after.stdout
