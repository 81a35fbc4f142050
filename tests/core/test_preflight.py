"""Preflight's reading of the host: encrypted swap and disks (dm-crypt under LVM too), removable media, the clock,
the plan's tokens; /sys given as a directory laid out as the kernel lays it out."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ceremony.core.guided.preflight import preflight_checks

NOW = datetime(2027, 1, 15, 9, 30, tzinfo=UTC)


def _device(
    sys_dir: Path, name: str, *, crypt: bool = False, slaves: tuple[str, ...] = (), removable: bool | None = None
) -> Path:
    device = sys_dir / "devices" / "virtual" / "block" / name
    device.mkdir(parents=True)
    if crypt:
        (device / "dm").mkdir()
        (device / "dm" / "uuid").write_text(f"CRYPT-LUKS2-0123456789abcdef-{name}\n")
    if slaves:
        (device / "slaves").mkdir()
        for slave in slaves:
            (device / "slaves" / slave).symlink_to(sys_dir / "devices" / "virtual" / "block" / slave)
    if removable is not None:
        (device / "removable").write_text("1\n" if removable else "0\n")
    (sys_dir / "class" / "block").mkdir(parents=True, exist_ok=True)
    (sys_dir / "class" / "block" / name).symlink_to(device)
    return device


def _holding(sys_dir: Path, path: Path, device: Path) -> None:
    """Make ``device`` the block device /sys says holds ``path``."""
    dev = os.stat(path).st_dev
    (sys_dir / "dev" / "block").mkdir(parents=True, exist_ok=True)
    (sys_dir / "dev" / "block" / f"{os.major(dev)}:{os.minor(dev)}").symlink_to(device)


def _swaps(tmp: Path, devices: list[str]) -> Path:
    path = tmp / "swaps"
    path.write_text(
        "Filename\tType\tSize\tUsed\tPriority\n" + "".join(f"{d}\tpartition\t1024\t0\t-2\n" for d in devices)
    )
    return path


def _checks(tmp: Path, sys_dir: Path, swaps: list[str], **kwargs: object) -> dict[str, object]:
    (tmp / "net").mkdir(exist_ok=True)
    found = preflight_checks(None, tmp / "net", _swaps(tmp, swaps), sys_dir=sys_dir, full=True, now=NOW, **kwargs)  # type: ignore[arg-type]
    return {c.name: c for c in found}


def test_swap_on_dm_crypt_passes_and_plain_swap_fails(tmp_path: Path) -> None:
    sys_dir = tmp_path / "sys"
    _device(sys_dir, "dm-0", crypt=True)
    _device(sys_dir, "sda2")
    ok = _checks(tmp_path, sys_dir, ["/dev/dm-0"], trusted_time=NOW)["swap"]
    assert ok.passed and "encrypted (dm-crypt)" in ok.detail  # type: ignore[attr-defined]
    bad = _checks(tmp_path, sys_dir, ["/dev/dm-0", "/dev/sda2"], trusted_time=NOW)["swap"]
    assert not bad.passed and "not encrypted (/dev/sda2)" in bad.detail  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("layout", "passed", "words"),
    [
        ("luks", True, "encrypted device"),
        ("lvm-on-luks", True, "encrypted device"),
        ("usb-stick", True, "removable media"),
        ("plain", False, "neither encrypted nor removable"),
    ],
)
def test_the_workspace_disk_must_be_encrypted_or_removable(
    tmp_path: Path, layout: str, passed: bool, words: str
) -> None:
    sys_dir = tmp_path / "sys"
    if layout == "luks":
        device = _device(sys_dir, "dm-1", crypt=True)
    elif layout == "lvm-on-luks":
        _device(sys_dir, "dm-1", crypt=True)
        device = _device(sys_dir, "dm-2", slaves=("dm-1",))
    elif layout == "usb-stick":
        whole = _device(sys_dir, "sdb", removable=True)
        device = whole / "sdb1"
        device.mkdir()
    else:
        whole = _device(sys_dir, "vda", removable=False)
        device = whole / "vda1"
        device.mkdir()
    _holding(sys_dir, tmp_path, device)
    disk = _checks(tmp_path, sys_dir, [], workspace_dir=tmp_path / "repo", trusted_time=NOW)["disk"]
    assert disk.passed is passed and words in disk.detail, disk  # type: ignore[attr-defined]


def test_no_block_device_is_not_taken_for_a_safe_one(tmp_path: Path) -> None:
    disk = _checks(tmp_path, tmp_path / "empty-sys", [], workspace_dir=tmp_path, trusted_time=NOW)["disk"]
    assert not disk.passed and "no block device" in disk.detail  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("trusted", "tolerance", "passed", "words"),
    [
        (NOW - timedelta(minutes=2), 5, True, "within 5 minutes"),
        (NOW - timedelta(minutes=7), 5, False, "off by 7 minutes"),
        (NOW + timedelta(hours=3), 60, False, "off by 180 minutes"),
        (None, 5, False, "no trusted time given"),
    ],
)
def test_the_clock_against_the_trusted_time(
    tmp_path: Path, trusted: datetime | None, tolerance: int, passed: bool, words: str
) -> None:
    clock = _checks(tmp_path, tmp_path / "sys", [], trusted_time=trusted, clock_tolerance_minutes=tolerance)["clock"]
    assert clock.passed is passed and words in clock.detail, clock  # type: ignore[attr-defined]


def test_the_plans_tokens_must_be_present(tmp_path: Path) -> None:
    tokens = _checks(tmp_path, tmp_path / "sys", [], trusted_time=NOW, expected_tokens=["SERIAL-A"])["tokens"]
    assert not tokens.passed and "SERIAL-A not present" in tokens.detail  # type: ignore[attr-defined]


def test_a_swap_file_is_encrypted_only_on_an_encrypted_filesystem(tmp_path: Path) -> None:
    sys_dir = tmp_path / "sys"
    _device(sys_dir, "dm-0", crypt=True)  # a swap *file* named like the encrypted device is not that device
    swapfile = tmp_path / "dm-0"
    swapfile.write_bytes(b"")
    (tmp_path / "net").mkdir()
    swaps = tmp_path / "swaps"
    swaps.write_text(f"Filename\tType\tSize\tUsed\tPriority\n{swapfile}\tfile\t1024\t0\t-2\n")
    plain = _device(sys_dir, "vda")
    _holding(sys_dir, tmp_path, plain)
    checks = {c.name: c for c in preflight_checks(None, tmp_path / "net", swaps, sys_dir=sys_dir)}
    assert not checks["swap"].passed and "not encrypted" in checks["swap"].detail
    (sys_dir / "dev" / "block").iterdir().__next__().unlink()
    _holding(sys_dir, tmp_path, _device(sys_dir, "dm-9", crypt=True))  # the file's filesystem is on dm-crypt
    checks = {c.name: c for c in preflight_checks(None, tmp_path / "net", swaps, sys_dir=sys_dir)}
    assert checks["swap"].passed and "encrypted (dm-crypt)" in checks["swap"].detail
