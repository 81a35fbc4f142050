"""QR symbols drawn by ceremony's own encoder: the same modules as qrcode, and read by real decoders."""

from __future__ import annotations

import io
import random
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import qrcode
import zxingcpp
from PIL import Image
from qrcode.util import MODE_ALPHA_NUM, QRData

from ceremony.core import qr as _qr
from ceremony.errors import BackupError, QrCapacityError

ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
QRCODE_LEVELS = {
    "L": qrcode.constants.ERROR_CORRECT_L,
    "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q,
    "H": qrcode.constants.ERROR_CORRECT_H,
}


def _text(length: int, seed: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(ALPHANUMERIC) for _ in range(length))


def _reference(text: str, ecc: str, mask: int) -> tuple[int, tuple[str, ...]]:
    """qrcode's version and modules for the same text, level and mask."""
    code = qrcode.QRCode(error_correction=QRCODE_LEVELS[ecc], mask_pattern=mask, border=0)
    code.add_data(QRData(text.encode("ascii"), mode=MODE_ALPHA_NUM))
    code.make(fit=True)
    return code.version, tuple("".join("1" if m else "0" for m in row) for row in code.modules)


@pytest.mark.parametrize("ecc", ["L", "M", "Q", "H"])
def test_every_module_is_qrcodes_for_the_same_mask(ecc: str) -> None:
    # Short texts (versions 1 to 3), the export's parts (versions 13 to 15), and the largest versions.
    lengths = [1, 2, 7, 20, 45, 77, 150, 495, 700, 1200, 2000, 3000]
    seen = set()
    for seed, length in enumerate(lengths):
        text = _text(length, seed)
        try:
            version, reference = _reference(text, ecc, seed % 8)
        except (qrcode.exceptions.DataOverflowError, ValueError):
            with pytest.raises(QrCapacityError):
                _qr.symbol(text, ecc)
            continue
        drawn = _qr.symbol(text, ecc, mask=seed % 8)
        assert (drawn.version, drawn.rows) == (version, reference), (ecc, length)
        seen.add(version)
    assert len(seen) >= 8


def _alphanumeric_capacity(version: int, ecc: str) -> int:
    """The most alphanumeric characters version ``version`` holds at ``ecc`` (ISO/IEC 18004 table 7)."""
    bits = _qr._data_capacity(version, _qr._LEVEL_INDEX[ecc]) * 8
    count_bits = 9 if version < 10 else 11 if version < 27 else 13
    length = 0
    while 4 + count_bits + 11 * ((length + 1) // 2) + 6 * ((length + 1) % 2) <= bits:
        length += 1
    return length


@pytest.mark.parametrize("ecc", ["L", "M", "Q", "H"])
def test_every_version_at_its_exact_capacity_is_qrcodes(ecc: str) -> None:
    """All 40 versions, each filled to the last character it holds (the Reed-Solomon blocks, interleaving,
    alignment and version information of each), with a mask that changes from version to version; one
    character more needs the next version. zxing reads past a wrong table by correcting it, so this
    comparison is what guards the tables."""
    rng = random.Random(18004)
    for version in range(1, 41):
        capacity = _alphanumeric_capacity(version, ecc)
        text = _text(capacity, version)
        mask = rng.randrange(8)
        drawn = _qr.symbol(text, ecc, mask=mask)
        assert (drawn.version, drawn.rows) == _reference(text, ecc, mask), (ecc, version)
        if version < 40:
            assert _qr.symbol(text + "A", ecc, mask=mask).version == version + 1
        else:
            with pytest.raises(QrCapacityError):
                _qr.symbol(text + "A", ecc)


def test_too_long_or_not_alphanumeric_is_refused() -> None:
    with pytest.raises(QrCapacityError, match="do not fit one QR symbol at ECC H"):
        _qr.symbol("A" * 2000, "H")
    with pytest.raises(ValueError, match="alphanumeric"):
        _qr.symbol("lower case", "M")


def _part_text() -> str:
    """A text as long as a 300-byte part's (version 14 at ECC M)."""
    return "CRMY1:0A0B0C0D:1/7:0123456789ABCDEF:01234567:" + _text(450, 99)


@pytest.mark.parametrize("mask", range(8))
def test_every_mask_reads_with_zxing_and_zbar(mask: int, tmp_path: Path) -> None:
    if shutil.which("zbarimg") is None:
        pytest.fail("zbarimg (Debian zbar-tools) is required; scripts/test installs it")
    text = _part_text()
    drawn = _qr.symbol(text, "M", mask=mask)
    assert drawn.mask == mask
    image = Image.open(io.BytesIO(drawn.png()))
    assert [r.text for r in zxingcpp.read_barcodes(image)] == [text]
    (tmp_path / "symbol.png").write_bytes(drawn.png(box=4))
    result = subprocess.run(
        ["zbarimg", "--raw", "-q", str(tmp_path / "symbol.png")], capture_output=True, text=True, check=False
    )
    assert result.stdout.strip() == text
    _qr.check_reads([drawn])


def test_the_chosen_mask_has_the_lowest_penalty() -> None:
    text = _part_text()
    drawn = _qr.symbol(text, "M")
    size = drawn.size
    scores = [_qr._penalty([int(row, 2) for row in _qr.symbol(text, "M", mask=m).rows], size) for m in range(8)]
    assert scores[drawn.mask] == min(scores)


def test_png_and_svg_hold_the_same_modules() -> None:
    drawn = _qr.symbol(_part_text(), "M")
    border, box = _qr.BORDER, 10
    image = Image.open(io.BytesIO(drawn.png(box)))
    assert image.size == ((drawn.size + 2 * border) * box,) * 2
    gray = image.convert("L")
    modules = tuple(
        "".join(
            "1" if gray.getpixel(((c + border) * box + 5, (r + border) * box + 5)) == 0 else "0"
            for c in range(drawn.size)
        )
        for r in range(drawn.size)
    )
    assert modules == drawn.rows
    assert gray.getpixel((0, 0)) == 255  # the quiet zone is white
    svg = ET.fromstring(drawn.svg())  # noqa: S314 (our own output)
    side = drawn.size + 2 * border
    assert svg.get("viewBox") == f"0 0 {side} {side}"
    path = next(e for e in svg if e.tag.endswith("path")).get("d") or ""
    grid = [["0"] * drawn.size for _ in range(drawn.size)]
    for x, y, width in re.findall(r"M(\d+),(\d+)h(\d+)v1h-\d+z", path):
        for c in range(int(x), int(x) + int(width)):
            grid[int(y) - border][c - border] = "1"
    assert tuple("".join(row) for row in grid) == drawn.rows


def test_a_symbol_that_reads_as_something_else_is_never_written() -> None:
    drawn = _qr.symbol("CRMY1:HELLO", "M")
    forged = _qr.Symbol("CRMY1:HELLP", drawn.version, drawn.mask, drawn.rows)
    with pytest.raises(BackupError, match="does not read back as its text"):
        _qr.check_reads([forged])
