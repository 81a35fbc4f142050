"""QR symbols: drawn from text, and found again in scans, photos and PDF pages.

A symbol here is only text in alphanumeric mode; what the text means (a part
of a metadata backup set, the words of a key share) is for backup.py and
shares.py. Both read their scans through ``images_of`` and ``decode_image``,
so every image from a restore (which may have been made by an attacker) is
bounded the same way: its file size, and its pixel count read from the PNG or
JPEG header before Pillow decodes it (docs/backup.md, "Limits").

Symbols are drawn by our own encoder (alphanumeric mode only, after ISO/IEC
18004) straight into PNG, SVG and the sheets' images, without Pillow; export
reads each one back with zxing-cpp before writing it.

This module is the only importer of zxing-cpp and Pillow.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import io
import itertools
import os
import re
import struct
import threading
import warnings
import zlib
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zxingcpp

from ceremony.core._json import read_bytes
from ceremony.core._text import printable
from ceremony.errors import BackupError, InputFileError, QrCapacityError

# --------------------------------------------------------------------------- limits on what a restore reads

#: Pixels in one image (a scan, a photo, a rendered PDF page). A 300-dpi scan of an A4 page is 2480 x 3508
#: (8.7 million) and of a Letter page 2550 x 3300 (8.4 million); the sheets still read at 150 dpi, a quarter
#: of that. 36 million allows 600 dpi (35 million for A4) and any 12-megapixel phone photo, and stays far
#: below Pillow's own limit (89,478,485, ``Image.MAX_IMAGE_PIXELS``), so Pillow never warns or refuses first.
MAX_IMAGE_PIXELS = 36_000_000
#: Bytes of one scan file (image or PDF): an 8-bit RGB image at MAX_IMAGE_PIXELS stored without
#: compression. PNG and JPEG make real scans smaller; a PDF of _paper.MAX_PDF_PAGES scanned pages (well
#: under 1 MB each as JPEG) fits too.
MAX_SCAN_FILE_BYTES = 3 * MAX_IMAGE_PIXELS


# --------------------------------------------------------------------------- drawing symbols
#
# The encoder is our own, for one mode (alphanumeric) and every version and ECC level, after ISO/IEC
# 18004:2015. qrcode's general one, with its import and its search of all eight masks through a slow
# penalty, cost some 80 ms a symbol (ours: 4 ms), which made an export slower than the C tools by some 25
# times. The mask is still the one with the lowest penalty (section 7.8.3), computed on whole rows and
# columns at once. tests/test_qr.py checks every module against qrcode's matrix for the same mask, and export reads
# every symbol back with zxing-cpp before it writes a file (``check_reads``).

#: The error correction levels --ecc accepts (a symbol survives about 7, 15, 25 or 30% damage), with their
#: two format-information bits (ISO/IEC 18004 table 12).
ECC_LEVELS = {"L": 1, "M": 0, "Q": 3, "H": 2}
_LEVEL_INDEX = {"L": 0, "M": 1, "Q": 2, "H": 3}
# ISO/IEC 18004 table 9, per version 1 to 40 and level L, M, Q, H: error correction codewords per block,
# and the number of blocks. The block lengths follow from the version's codeword count.
_EC_PER_BLOCK = (
    (7, 10, 13, 17), (10, 16, 22, 28), (15, 26, 18, 22), (20, 18, 26, 16), (26, 24, 18, 22), (18, 16, 24, 28),
    (20, 18, 18, 26), (24, 22, 22, 26), (30, 22, 20, 24), (18, 26, 24, 28), (20, 30, 28, 24), (24, 22, 26, 28),
    (26, 22, 24, 22), (30, 24, 20, 24), (22, 24, 30, 24), (24, 28, 24, 30), (28, 28, 28, 28), (30, 26, 28, 28),
    (28, 26, 26, 26), (28, 26, 30, 28), (28, 26, 28, 30), (28, 28, 30, 24), (30, 28, 30, 30), (30, 28, 30, 30),
    (26, 28, 30, 30), (28, 28, 28, 30), *[(30, 28, 30, 30)] * 14,
)  # fmt: skip
_BLOCKS = (
    (1, 1, 1, 1), (1, 1, 1, 1), (1, 1, 2, 2), (1, 2, 2, 4), (1, 2, 4, 4), (2, 4, 4, 4), (2, 4, 6, 5),
    (2, 4, 6, 6), (2, 5, 8, 8), (4, 5, 8, 8), (4, 5, 8, 11), (4, 8, 10, 11), (4, 9, 12, 16), (4, 9, 16, 16),
    (6, 10, 12, 18), (6, 10, 17, 16), (6, 11, 16, 19), (6, 13, 18, 21), (7, 14, 21, 25), (8, 16, 20, 25),
    (8, 17, 23, 25), (9, 17, 23, 34), (9, 18, 25, 30), (10, 20, 27, 32), (12, 21, 29, 35), (12, 23, 34, 37),
    (12, 25, 34, 40), (13, 26, 35, 42), (14, 28, 38, 45), (15, 29, 40, 48), (16, 31, 43, 51), (17, 33, 45, 54),
    (18, 35, 48, 57), (19, 37, 51, 60), (19, 38, 53, 63), (20, 40, 56, 66), (21, 43, 59, 70), (22, 45, 62, 74),
    (24, 47, 65, 77), (25, 49, 68, 81),
)  # fmt: skip
_ALPHANUMERIC = {c: i for i, c in enumerate("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")}
#: Modules of white around a symbol (the quiet zone, ISO/IEC 18004 section 6.3.8: at least four).
BORDER = 4

# GF(256) with the QR polynomial x^8 + x^4 + x^3 + x^2 + 1 (ISO/IEC 18004 section 7.5.2).
_EXP = [0] * 512
_LOG = [0] * 256
_value = 1
for _power in range(255):
    _EXP[_power] = _value
    _LOG[_value] = _power
    _value <<= 1
    if _value & 0x100:
        _value ^= 0x11D
for _power in range(255, 512):
    _EXP[_power] = _EXP[_power - 255]


def _codeword_count(version: int) -> int:
    """Codewords (data and error correction) a version holds: its modules less the function patterns, over 8."""
    modules = (16 * version + 128) * version + 64
    if version >= 2:
        aligns = version // 7 + 2
        modules -= (25 * aligns - 10) * aligns - 55
        if version >= 7:
            modules -= 36
    return modules // 8


def _data_capacity(version: int, level: int) -> int:
    """Data codewords of a version at a level."""
    return _codeword_count(version) - _EC_PER_BLOCK[version - 1][level] * _BLOCKS[version - 1][level]


@functools.cache
def _generator(degree: int) -> tuple[int, ...]:
    """The Reed-Solomon generator polynomial of ``degree`` (its coefficients after the leading 1, as logs)."""
    poly = [1]
    for power in range(degree):
        nxt = [*poly, 0]
        for i, coefficient in enumerate(poly):
            if coefficient:
                nxt[i + 1] ^= _EXP[_LOG[coefficient] + power]
        poly = nxt
    return tuple(_LOG[c] for c in poly[1:])


def _ec_codewords(data: Sequence[int], degree: int) -> list[int]:
    """The error correction codewords of one block: the remainder of data(x) * x^degree by the generator."""
    generator = _generator(degree)
    remainder = [0] * degree
    for byte in data:
        factor = byte ^ remainder[0]
        remainder = [*remainder[1:], 0]
        if factor:
            shift = _LOG[factor]
            for i, log in enumerate(generator):
                remainder[i] ^= _EXP[log + shift]
    return remainder


def _codewords(text: str, level: int) -> tuple[int, list[int]]:
    """The smallest version that holds ``text`` and its interleaved codewords.

    Raises:
        ValueError: more than version 40 holds (symbol turns it into QrCapacityError).
    """
    length = len(text)
    for version in range(1, 41):
        count_bits = 9 if version < 10 else 11 if version < 27 else 13
        needed = 4 + count_bits + 11 * (length // 2) + 6 * (length % 2)
        if needed <= _data_capacity(version, level) * 8 and length < (1 << count_bits):
            break
    else:
        raise ValueError(length)
    capacity = _data_capacity(version, level)
    bits = ["0010", format(length, f"0{count_bits}b")]
    values = [_ALPHANUMERIC[c] for c in text]
    bits.extend(format(values[i] * 45 + values[i + 1], "011b") for i in range(0, length - 1, 2))
    if length % 2:
        bits.append(format(values[-1], "06b"))
    stream = "".join(bits)
    stream += "0" * min(4, capacity * 8 - len(stream))  # the terminator, as much of it as fits
    stream += "0" * (-len(stream) % 8)
    data = [int(stream[i : i + 8], 2) for i in range(0, len(stream), 8)]
    data += [0xEC, 0x11] * ((capacity - len(data)) // 2) + [0xEC] * ((capacity - len(data)) % 2)
    blocks, degree = _BLOCKS[version - 1][level], _EC_PER_BLOCK[version - 1][level]
    short, longer = divmod(capacity, blocks)
    pieces, start = [], 0
    for index in range(blocks):
        size = short + (index >= blocks - longer)
        pieces.append(data[start : start + size])
        start += size
    ecs = [_ec_codewords(piece, degree) for piece in pieces]
    out = [piece[i] for i in range(short + 1) for piece in pieces if i < len(piece)]
    out += [ec[i] for i in range(degree) for ec in ecs]
    return version, out


def _alignment_positions(version: int) -> list[int]:
    """Row and column centres of the alignment patterns (ISO/IEC 18004 annex E)."""
    if version == 1:
        return []
    count = version // 7 + 2
    step = 26 if version == 32 else (version * 4 + count * 2 + 1) // (count * 2 - 2) * 2
    size = 17 + 4 * version
    return [6, *reversed([size - 7 - i * step for i in range(count - 1)])]


def _bch(value: int, generator: int, bits: int) -> int:
    """``value`` followed by its BCH remainder by ``generator`` (format and version information)."""
    remainder = value << bits
    top = generator.bit_length() - 1
    for shift in range(remainder.bit_length() - 1, top - 1, -1):
        if remainder >> shift & 1:
            remainder ^= generator << (shift - top)
    return value << bits | remainder


_MASKS = (
    lambda r, c: (r + c) % 2 == 0,
    lambda r, c: r % 2 == 0,
    lambda r, c: c % 3 == 0,
    lambda r, c: (r + c) % 3 == 0,
    lambda r, c: (r // 2 + c // 3) % 2 == 0,
    lambda r, c: (r * c) % 2 + (r * c) % 3 == 0,
    lambda r, c: ((r * c) % 2 + (r * c) % 3) % 2 == 0,
    lambda r, c: ((r + c) % 2 + (r * c) % 3) % 2 == 0,
)


@functools.cache
def _mask_rows(size: int) -> tuple[tuple[int, ...], ...]:
    """Each mask pattern's rows as integers (bit size-1-c for column c); every pattern repeats after 12 rows."""
    period = [[int("".join("1" if mask(r, c) else "0" for c in range(size)), 2) for r in range(12)] for mask in _MASKS]
    return tuple(tuple(rows[r % 12] for r in range(size)) for rows in period)


def _penalty(rows: Sequence[int], size: int) -> int:
    """ISO/IEC 18004 section 7.8.3.1: runs, 2x2 blocks, finder-like patterns and dark balance.

    Rows and columns are integers (bit size-1-c for column c), so each rule is a few operations on a whole
    line instead of one per module.
    """
    lines = [format(row, f"0{size}b") for row in rows]
    columns = ["".join(column) for column in zip(*lines, strict=True)]
    full = (1 << size) - 1
    score = 0
    # N1: a run of k >= 5 modules of one colour costs k - 2. ``starts`` has k - 4 bits set for such a run,
    # in one block, so k - 2 is its bits plus 2 for each block.
    for line in (*rows, *(int(column, 2) for column in columns)):
        for same in (line, ~line & full):
            starts = same & same >> 1 & same >> 2 & same >> 3 & same >> 4
            if starts:
                score += starts.bit_count() + 2 * (starts & ~(starts << 1)).bit_count()
    # N2: 3 for each 2x2 block of one colour.
    for upper, lower in itertools.pairwise(rows):
        dark = upper & lower
        light = ~(upper | lower) & full
        score += 3 * ((dark & dark >> 1).bit_count() + (light & light >> 1).bit_count())
    # N3: 40 for each 1:1:3:1:1 pattern with four light modules on one side; every line in one string, kept
    # apart by a character neither pattern holds, the quiet zone beside each line counted as light. Neither
    # pattern overlaps itself, so counting occurrences one after another misses none.
    padded = "0000" + "000020000".join((*lines, *columns)) + "0000"
    score += 40 * (padded.count("00001011101") + padded.count("10111010000"))
    # N4: 10 for each 5% the dark modules are away from half.
    dark_modules = sum(row.bit_count() for row in rows)
    score += 10 * (abs(dark_modules * 20 - size * size * 10) // (size * size))
    return score


@dataclass(frozen=True)
class Symbol:
    """One QR symbol: its modules, row by row ('1' dark), without the quiet zone."""

    text: str
    version: int
    mask: int
    rows: tuple[str, ...]

    @property
    def size(self) -> int:
        """Modules on a side."""
        return len(self.rows)

    def raster(self, box: int) -> tuple[int, bytes]:
        """The symbol as a 1-bit image, ``box`` pixels a module, quiet zone included: its side in pixels and its
        rows PNG-filtered ('none') and zlib-compressed: a PNG's IDAT data, and a PDF image's with a PNG predictor."""
        return _raster(self.rows, box)

    def png(self, box: int = 10) -> bytes:
        """A 1-bit grayscale PNG of the symbol, ``box`` pixels a module."""
        side, idat = self.raster(box)
        header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
        return _PNG_MAGIC + b"".join(
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
            for kind, body in ((b"IHDR", header), (b"IDAT", idat), (b"IEND", b""))
        )

    def svg(self, box: int = 10) -> bytes:
        """The symbol as one SVG path of dark runs (vector, for printing at any size), 1 mm a module by default."""
        side = self.size + 2 * BORDER
        path = []
        for y, row in enumerate(self.rows, start=BORDER):
            for run in _DARK_RUN.finditer(row):
                path.append(f"M{run.start() + BORDER},{y}h{len(run.group())}v1h-{len(run.group())}z")
        return (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" '
            f'width="{side * box / 10:g}mm" height="{side * box / 10:g}mm" viewBox="0 0 {side} {side}">'
            f'<rect width="{side}" height="{side}" fill="#fff"/><path fill="#000" d="{"".join(path)}"/></svg>\n'
        ).encode()

    def grayscale(self, box: int) -> memoryview:
        """The symbol as 8-bit gray pixels (a buffer zxing-cpp reads), quiet zone included."""
        side = (self.size + 2 * BORDER) * box
        blank = b"\xff" * side
        quiet = "\xff" * (BORDER * box)
        pixels = {ord("0"): "\xff" * box, ord("1"): "\x00" * box}
        lines = [(quiet + row.translate(pixels) + quiet).encode("latin-1") * box for row in self.rows]
        return memoryview(blank * (BORDER * box) + b"".join(lines) + blank * (BORDER * box)).cast("B", (side, side))


@functools.lru_cache(maxsize=64)
def _raster(rows: tuple[str, ...], box: int) -> tuple[int, bytes]:
    """Symbol.raster, made once for the PNG file and both sheets."""
    size = len(rows)
    quiet = "0" * BORDER
    side = (size + 2 * BORDER) * box
    row_bytes = (side + 7) // 8
    blank = b"\x00" + b"\xff" * row_bytes
    lines = [blank] * (BORDER * box)
    for row in rows:
        pixels = "".join(c * box for c in (quiet + row + quiet)).ljust(row_bytes * 8, "0")
        # PNG grayscale: 1 is white, so the dark modules are the zero bits.
        line = b"\x00" + (int(pixels, 2) ^ ((1 << row_bytes * 8) - 1)).to_bytes(row_bytes, "big")
        lines.extend([line] * box)
    lines.extend([blank] * (BORDER * box))
    return side, zlib.compress(b"".join(lines), 6)


_DARK_RUN = re.compile("1+")


@functools.cache
def _layout(version: int) -> tuple[tuple[bytes, ...], tuple[int, ...], tuple[tuple[int, int], ...]]:
    """What every symbol of a version shares: its function patterns drawn (rows of b'0'/b'1', format
    information left light), its data area (rows as integers, bit size-1-c for column c), and the order in
    which data bits fill that area (ISO/IEC 18004 section 7.7.3: two-module columns, upwards and downwards,
    from the bottom right)."""
    size = 17 + 4 * version
    grid = [[0] * size for _ in range(size)]
    function = [[False] * size for _ in range(size)]

    def put(r: int, c: int, dark: bool) -> None:
        grid[r][c] = int(dark)
        function[r][c] = True

    for top, left in ((0, 0), (0, size - 7), (size - 7, 0)):  # finders and their separators
        for dr in range(-1, 8):
            for dc in range(-1, 8):
                r, c = top + dr, left + dc
                if 0 <= r < size and 0 <= c < size:
                    ring = max(abs(dr - 3), abs(dc - 3))
                    put(r, c, ring != 2 and ring != 4)
    for i in range(8, size - 8):  # timing patterns
        put(6, i, i % 2 == 0)
        put(i, 6, i % 2 == 0)
    centres = _alignment_positions(version)
    last = centres[-1] if centres else 0
    for r in centres:
        for c in centres:
            if (r, c) in ((6, 6), (6, last), (last, 6)):
                continue
            for dr in range(-2, 3):
                for dc in range(-2, 3):
                    put(r + dr, c + dc, max(abs(dr), abs(dc)) != 1)
    for i in (0, 1, 2, 3, 4, 5, 7, 8):  # format information (written per mask below); 6 is timing
        put(8, i, False)
        put(i, 8, False)
    for i in range(8):
        put(8, size - 1 - i, False)
        put(size - 1 - i, 8, False)
    put(size - 8, 8, True)  # the dark module
    if version >= 7:
        info = _bch(version, 0x1F25, 12)
        for i in range(18):
            dark = bool(info >> i & 1)
            put(size - 11 + i % 3, i // 3, dark)
            put(i // 3, size - 11 + i % 3, dark)
    positions = []
    right = size - 1
    while right >= 1:
        if right == 6:
            right = 5
        upward = (right + 1) & 2 == 0
        for step in range(size):
            r = size - 1 - step if upward else step
            for c in (right, right - 1):
                if not function[r][c]:
                    positions.append((r, c))
        right -= 2
    function_rows = tuple("".join("1" if v else "0" for v in row).encode() for row in grid)
    data_area = tuple(int("".join("0" if f else "1" for f in row), 2) for row in function)
    return function_rows, data_area, tuple(positions)


def symbol(text: str, ecc: str, mask: int | None = None) -> Symbol:
    """The QR symbol of ``text`` in alphanumeric mode, the smallest version that holds it at level ``ecc``.

    Args:
        mask: a mask pattern (0 to 7) to use instead of the one with the lowest penalty (for tests).

    Raises:
        QrCapacityError: the text does not fit one QR symbol at this ECC level.
        ValueError: a character outside the alphanumeric set (ours are base45 and upper-case headers).
    """
    level = _LEVEL_INDEX[ecc]
    if any(c not in _ALPHANUMERIC for c in text):
        raise ValueError("QR alphanumeric mode holds only 0-9, A-Z, space and $%*+-./:")
    try:
        version, codewords = _codewords(text, level)
    except ValueError as err:
        raise QrCapacityError(
            f"{len(text)} characters do not fit one QR symbol at ECC {ecc}; lower --qr-bytes"
        ) from err
    size = 17 + 4 * version
    function_rows, data_area, positions = _layout(version)
    grid = [bytearray(row) for row in function_rows]
    bits = "".join(format(byte, "08b") for byte in codewords)
    for (r, c), bit in zip(positions, bits, strict=False):  # remainder bits (ISO 7.6) stay light
        if bit == "1":
            grid[r][c] = 0x31
    base = [int(row, 2) for row in grid]
    candidates = []
    for number, pattern in enumerate(_mask_rows(size)):
        if mask is not None and number != mask:
            continue
        rows = [b ^ (p & d) for b, p, d in zip(base, pattern, data_area, strict=True)]
        _write_format(rows, size, _bch(ECC_LEVELS[ecc] << 3 | number, 0x537, 10) ^ 0x5412)
        candidates.append((_penalty(rows, size) if mask is None else 0, number, rows))
    _score, mask, rows = min(candidates, key=lambda candidate: candidate[:2])
    return Symbol(text, version, mask, tuple(format(row, f"0{size}b") for row in rows))


def _write_format(rows: list[int], size: int, info: int) -> None:
    """Both copies of the 15 format bits into rows (bit size-1-c is column c)."""

    def set_bit(r: int, c: int, dark: bool) -> None:
        bit = 1 << (size - 1 - c)
        rows[r] = rows[r] | bit if dark else rows[r] & ~bit

    for i in range(15):
        dark = bool(info >> i & 1)
        # The copy around the top-left finder.
        if i < 6:
            set_bit(i, 8, dark)
        elif i < 8:
            set_bit(i + 1, 8, dark)
        elif i == 8:
            set_bit(8, 7, dark)
        else:
            set_bit(8, 14 - i, dark)
        # The copy split between the other two finders.
        if i < 8:
            set_bit(8, size - 1 - i, dark)
        else:
            set_bit(size - 15 + i, 8, dark)


def qr_image(text: str, ecc: str, box_size: int = 10) -> Any:
    """A QR symbol for ``text`` as a PIL image (for tests and callers that want one; export writes ``Symbol.png``).

    Raises:
        QrCapacityError: see symbol.
    """
    from PIL import Image

    return Image.open(io.BytesIO(symbol(text, ecc).png(box_size)))


def check_reads(symbols: Sequence[Symbol]) -> None:
    """Read every symbol back with zxing-cpp, as drawn: a symbol that does not give its own text is never written.

    Raises:
        BackupError: a symbol reads as something else, or not at all.
    """
    for drawn in symbols:
        results = zxingcpp.read_barcodes(
            drawn.grayscale(2), formats=_QR, try_rotate=False, try_downscale=False, try_invert=False, is_pure=True
        )
        if [r.text for r in results] != [drawn.text]:
            raise BackupError(
                f"a drawn QR symbol (version {drawn.version}, mask {drawn.mask}) does not read back as its text; "
                "nothing was written (please report this)"
            )


# --------------------------------------------------------------------------- reading symbols


_QR = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


def _slower_passes(gray: Any) -> Iterable[tuple[Any, Any]]:
    """The same image prepared other ways, each with a binarizer: scanners and phones blur, tilt and wash out differently."""
    from PIL import Image, ImageFilter, ImageOps

    yield gray, zxingcpp.Binarizer.GlobalHistogram
    sharpened = gray.filter(ImageFilter.UnsharpMask(radius=3, percent=250, threshold=0))
    yield sharpened, zxingcpp.Binarizer.LocalAverage
    yield sharpened, zxingcpp.Binarizer.GlobalHistogram
    if gray.width * gray.height * 4 <= MAX_IMAGE_PIXELS:  # enlarging helps small symbols; a large image has room
        enlarged = gray.resize((gray.width * 2, gray.height * 2), Image.Resampling.LANCZOS).filter(
            ImageFilter.UnsharpMask(radius=4, percent=300, threshold=0)
        )
        for binarizer in (zxingcpp.Binarizer.LocalAverage, zxingcpp.Binarizer.GlobalHistogram):
            yield enlarged, binarizer
    stretched = ImageOps.autocontrast(gray, cutoff=2)
    for level in (96, 128, 160):
        thresholded = stretched.point(lambda p, level=level: 255 if p > level else 0)
        for binarizer in (zxingcpp.Binarizer.LocalAverage, zxingcpp.Binarizer.GlobalHistogram):
            yield thresholded, binarizer


def decode_fast(image: Any, source: str) -> tuple[list[str], bool]:
    """One zxing-cpp pass: the symbol texts it read, and whether it saw every symbol it detected read.

    The first half of ``decode_image``, for a restore that reads every input once before it spends the slower
    passes only where parts are still missing: on clean scans one pass reads everything.

    Raises:
        InputFileError: the image has more than MAX_IMAGE_PIXELS pixels.
    """
    if image.width * image.height > MAX_IMAGE_PIXELS:
        raise InputFileError(_too_many_pixels(printable(source), image.width, image.height))
    gray = image if image.mode == "L" else image.convert("L")
    results = zxingcpp.read_barcodes(gray, formats=_QR, return_errors=True)
    return list(dict.fromkeys(r.text for r in results if r.valid)), all(r.valid for r in results)


def _read_fast(path: Path) -> list[tuple[str, list[str], bool]]:
    """decode_fast of every image in one input file: (source, texts, every symbol read) per image."""
    return [(source, *decode_fast(image, source)) for source, image in images_of(path)]


#: Inputs read in the pool's threads: images, by name. PDFs are read in the calling thread (PDFium is not
#: thread-safe; _paper.render_pdf also holds a lock for every call into it, for a PDF named as an image).
_THREADED_SUFFIXES = frozenset({".png", ".jpg", ".jpeg"})


def read_fast(paths: Sequence[Path]) -> Generator[list[tuple[str, list[str], bool]], None, None]:
    """decode_fast of every image of each input, in input order; images two at a time on two cores.

    Pillow's PNG and JPEG decoders and zxing-cpp release the GIL, so on two cores a scanned stack reads in
    a little over half the time; at most two images are decoded ahead of the input being taken. An error
    (an unreadable input) is raised when its input's turn comes, and what was not started yet is not read.

    Raises:
        InputFileError: see images_of and decode_fast.
    """
    threaded = [path for path in paths if path.suffix.lower() in _THREADED_SUFFIXES]
    if len(threaded) < 2 or (os.cpu_count() or 1) < 2:
        yield from map(_read_fast, paths)
        return
    from concurrent.futures import Future, ThreadPoolExecutor

    executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ceremony-scan")
    ahead: collections.deque[Future[list[tuple[str, list[str], bool]]] | Path] = collections.deque()
    waiting = iter(paths)

    def fill() -> None:
        """Keep two inputs started ahead of the one being taken (PDFs wait for their turn)."""
        while len(ahead) < 3:
            path = next(waiting, None)
            if path is None:
                return
            threadable = path.suffix.lower() in _THREADED_SUFFIXES
            ahead.append(executor.submit(_read_fast, path) if threadable else path)

    try:
        fill()
        while ahead:
            item = ahead.popleft()
            result = _read_fast(item) if isinstance(item, Path) else item.result()
            fill()
            yield result
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def decode_image(image: Any, source: str) -> list[str]:
    """Every QR symbol text zxing-cpp finds in an image (scans, photos, rendered pages), in order found.

    One fast pass first. If it sees no symbol at all, not even one it cannot
    read, the image has none (a text page, a blank page) and reading stops:
    the slower passes cost a second or more per page. Otherwise several
    preparations and both of zxing-cpp's general binarizers are tried and
    their results united, so one blurred or washed-out symbol on a page does
    not hide behind the others.

    Raises:
        InputFileError: the image has more than MAX_IMAGE_PIXELS pixels.
    """
    texts, complete = decode_fast(image, source)
    if not texts and complete:
        return []
    gray = image if image.mode == "L" else image.convert("L")
    found = dict.fromkeys(texts)
    for prepared, binarizer in _slower_passes(gray):
        for result in zxingcpp.read_barcodes(prepared, formats=_QR, binarizer=binarizer):
            found.setdefault(result.text, None)
    return list(found)


def _too_many_pixels(shown: str, width: int, height: int) -> str:
    """The refusal of an image over MAX_IMAGE_PIXELS."""
    return (
        f"{shown}: {width} x {height} pixels is more than {MAX_IMAGE_PIXELS:,}, the most this tool reads from one "
        "image (a 600-dpi scan of an A4 page is 35 million); scan at 150 to 300 dpi"
    )


# --------------------------------------------------------------------------- scans, photos and PDF pages


_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers (ITU T.81 table B.1), and DHP, which Pillow reads as one too.
_JPEG_FRAMES = frozenset({*range(0xC0, 0xC4), *range(0xC5, 0xC8), *range(0xC9, 0xCC), *range(0xCD, 0xD0), 0xDE})


def _jpeg_size(data: bytes) -> tuple[int, int]:
    """The largest width and height any JPEG frame header declares before the first scan; (0, 0) if none."""
    width = height = 0
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:  # bytes between segments, which decoders skip
            pos += 1
            continue
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
        elif marker in (0x00, 0x01) or 0xD0 <= marker <= 0xD8:  # stuffing and markers without a length
            pos += 2
        elif marker in (0xD9, 0xDA):  # end of image, start of scan: the frame is known by now
            break
        else:
            (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
            if marker in _JPEG_FRAMES and pos + 9 <= len(data):
                frame_height, frame_width = struct.unpack(">HH", data[pos + 5 : pos + 9])
                width, height = max(width, frame_width), max(height, frame_height)
            pos += 2 + max(length, 2)
    return width, height


def _image_size(data: bytes, shown: str) -> tuple[int, int]:
    """Width and height from a PNG or JPEG header, read before any decoder sees the file.

    Raises:
        InputFileError: neither PNG nor JPEG, or no image header.
    """
    if data.startswith(_PNG_MAGIC):
        if len(data) < 24 or data[12:16] != b"IHDR":
            raise InputFileError(f"{shown}: a damaged PNG (it has no image header)")
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    if data.startswith(b"\xff\xd8\xff"):
        width, height = _jpeg_size(data)
        if not width or not height:
            raise InputFileError(f"{shown}: a damaged JPEG (it has no frame header)")
        return width, height
    raise InputFileError(f"{shown}: not an image this tool can read (PNG, JPEG) or a PDF")


def _open_image(data: bytes, shown: str) -> Any:
    """A PNG or JPEG as a grayscale image, its size checked against MAX_IMAGE_PIXELS before Pillow opens it.

    Pillow's warnings (its own bomb check, malformed metadata) are kept off
    stderr: an operator sees one sentence or none.

    Raises:
        InputFileError: not PNG or JPEG, over MAX_IMAGE_PIXELS, or damaged.
    """
    from PIL import Image  # Pillow loads only when an image is read (export draws without it)

    _quiet_pillow(Image)
    width, height = _image_size(data, shown)
    if width * height > MAX_IMAGE_PIXELS:
        raise InputFileError(_too_many_pixels(shown, width, height))
    if not width or not height:
        raise InputFileError(f"{shown}: an image of {width} x {height} pixels holds nothing to read")
    try:
        with Image.open(io.BytesIO(data), formats=("PNG", "JPEG")) as image:
            # A second header can disagree with the first one read above; the one Pillow uses counts.
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise InputFileError(_too_many_pixels(shown, image.width, image.height))
            gray = image.convert("L")
    except Image.DecompressionBombError as err:
        raise InputFileError(_too_many_pixels(shown, width, height)) from err
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error) as err:
        raise InputFileError(f"{shown}: a damaged image (PNG or JPEG) that cannot be decoded") from err
    return gray


_PILLOW_QUIET = threading.Lock()
_pillow_quieted = False


def _quiet_pillow(image_module: Any) -> None:
    """Keep Pillow's warnings (its own bomb check, malformed metadata) off stderr for good: an operator sees
    one sentence or none. Set once, for the process, and never with ``warnings.catch_warnings``, which swaps
    the process's whole warning state and so must not run in read_fast's threads. Pillow's own bomb limit is
    higher than MAX_IMAGE_PIXELS (tests/test_backup_hostile.py checks it): the checks above refuse an image
    before Pillow could warn about it."""
    global _pillow_quieted  # once per process, under the lock
    with _PILLOW_QUIET:
        if not _pillow_quieted:
            warnings.filterwarnings("ignore", category=image_module.DecompressionBombWarning)
            warnings.filterwarnings("ignore", module=r"PIL(\.|$)")
            _pillow_quieted = True


def images_of(path: Path) -> Iterator[tuple[str, Any]]:
    """Grayscale images to scan from an input file: the image itself, or each page of a PDF, one at a time.

    Raises:
        InputFileError: missing, not a regular file, too large, or not a readable image or PDF.
    """
    shown = printable(str(path))
    data = read_bytes(path, "scan", MAX_SCAN_FILE_BYTES)
    if path.suffix.lower() == ".pdf" or data.startswith(b"%PDF-"):
        from ceremony.core import _paper

        pages = _paper.render_pdf(data, shown, MAX_IMAGE_PIXELS)
        with contextlib.closing(pages):
            for number, page in enumerate(pages, start=1):
                yield f"{shown} page {number}", page
        return
    yield shown, _open_image(data, shown)
