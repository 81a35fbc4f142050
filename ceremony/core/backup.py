"""Cold backup of signed metadata: QR code sets, text fallbacks, printable sheets; restore; key shares.

Signed root metadata is public: it is backed up for integrity, not secrecy.
What is encoded is always the exact bytes on disk (``Metadata.to_bytes`` may
not reproduce them), with their SHA-256, so a restore is byte-identical or
fails.

A backup of one file is a *set*:

* a container: ``CRMY`` + version byte + SHA-256 of the file + its name + the
  zlib-compressed bytes;
* split into parts of at most ``qr_bytes`` bytes, each a QR symbol in
  alphanumeric mode carrying its own header, so parts restore in any order and
  from any reader (QR Structured Append is limited to 16 symbols and not every
  decoder supports it)::

      CRMY1:<set id>:<part>/<parts>:<sha256 prefix>:<crc32 of the part>:<base45 data>

* the same container as a text fallback: numbered base32 lines, each with its
  own CRC-32, for typing back in when no scanner reads the paper.

Secret key backups (software keys only) split a fresh 128-bit secret into
SLIP-39 shares (shamir-mnemonic); the key is re-encrypted under that secret,
so any K custodians can restore it and fewer learn nothing. Token keys are
never exported: their backup is k-of-n independent keys.

Every input to a restore (scans, photos, PDFs, text fallbacks, key backup
manifests, encrypted keys, shares) may have been made by an attacker. Each is
read only if it is a regular file, and every quantity that costs memory or time
is bounded by a named constant below, refused in one sentence that names the
file and the bound before the work is done (docs/backup.md, "Limits").

This module is the only importer of qrcode and zxing-cpp.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import itertools
import os
import re
import secrets
import struct
import warnings
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import base45
import qrcode
import qrcode.exceptions
import qrcode.image.svg
import shamir_mnemonic
import zxingcpp
from PIL import Image, ImageFilter, ImageOps
from qrcode.util import MODE_ALPHA_NUM, QRData

from ceremony.core import diff as _diff
from ceremony.core import keys as _keys
from ceremony.core._fs import make_private_dir, sha256_hex, write_atomic
from ceremony.core._json import loads_strict, read_bytes
from ceremony.core._text import is_printable, printable
from ceremony.errors import BackupError, InputFileError, QrCapacityError, UsageError

MAGIC = b"CRMY"
CONTAINER_VERSION = 1
QR_PREFIX = "CRMY1"
TEXT_HEADER = "ceremony backup text v1"
TEXT_LINE_BYTES = 30  # 48 base32 characters per line
DEFAULT_QR_BYTES = 300
ECC_LEVELS = {
    "L": qrcode.constants.ERROR_CORRECT_L,
    "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q,
    "H": qrcode.constants.ERROR_CORRECT_H,
}
_PART = re.compile(r"^CRMY1:([0-9A-F]{8}):([0-9]{1,4})/([0-9]{1,4}):([0-9A-F]{16}):([0-9A-F]{8}):(.*)$", re.DOTALL)
# Line numbers are written with at least four digits (six for the largest backups); ASCII only, so no
# other script's digits are read as numbers.
_TEXT_LINE = re.compile(r"^\s*([0-9]{4,6})\s+([a-z2-7]{1,48})\s+([0-9a-f]{8})\s*$", re.ASCII)
_CONTAINER_HEADER_BYTES = len(MAGIC) + 1 + 32 + 1  # magic, version, SHA-256, name length


# --------------------------------------------------------------------------- limits on what a restore reads
#
# A restore reads what someone else may have made. Each bound below is checked before the work it guards
# (reading, decompressing, decoding, rendering, deriving keys) and refused in one sentence naming the file
# and the bound. docs/backup.md ("Limits") lists them with the same reasons.

#: Restored bytes of one file: python-tuf's largest metadata limit (``UpdaterConfig.targets_max_length``,
#: 5,000,000). Clients refuse larger metadata, so a larger "backup" restores nothing anyone could use;
#: export refuses to make one, so every backup made restores.
MAX_FILE_BYTES = 5_000_000
#: Restored bytes of all files in one restore: every root version (python-tuf accepts roots of up to
#: 512,000 bytes) plus an ``export --all-metadata`` of targets (5 MB), snapshot (2 MB) and delegated roles.
MAX_RESTORE_BYTES = 32_000_000
#: Backup sets in one restore (one per file exported): every root version plus, with --all-metadata,
#: every other role's file; 1,024 allows a delegation tree of hundreds of roles. Their bytes are bounded
#: by MAX_RESTORE_BYTES.
MAX_SETS = 1024
#: Parts in one backup set: a QR header's part number and count have four digits. Export refuses a file
#: that would need more (a larger --qr-bytes makes fewer).
MAX_PARTS = 9999
#: Bytes of one container: its header with the longest name its length byte allows, and MAX_FILE_BYTES
#: compressed. Deflate's worst case adds about 0.03% and a few bytes (zlib's compressBound); 0.1% and
#: 64 bytes cover it.
MAX_CONTAINER_BYTES = _CONTAINER_HEADER_BYTES + 255 + MAX_FILE_BYTES + MAX_FILE_BYTES // 1000 + 64
#: Container bytes collected from all inputs of one restore (QR parts and text fallbacks): what
#: MAX_RESTORE_BYTES compresses to at worst, plus a header for every set.
MAX_COLLECTED_BYTES = MAX_RESTORE_BYTES + MAX_RESTORE_BYTES // 1000 + MAX_SETS * (_CONTAINER_HEADER_BYTES + 255 + 64)
#: Data lines of one text fallback: what the largest container needs at TEXT_LINE_BYTES a line.
MAX_TEXT_LINES = -(-MAX_CONTAINER_BYTES // TEXT_LINE_BYTES)
#: Bytes of one text fallback file: MAX_TEXT_LINES lines of up to 128 characters (a written line has at
#: most 65: number, 48 base32 characters, checksum), so lines typed with extra spaces fit, and the header.
MAX_TEXT_FILE_BYTES = MAX_TEXT_LINES * 128 + 4096
#: Pixels in one image (a scan, a photo, a rendered PDF page). A 300-dpi scan of an A4 page is 2480 x 3508
#: (8.7 million) and of a Letter page 2550 x 3300 (8.4 million); the sheets still read at 150 dpi, a quarter
#: of that. 36 million allows 600 dpi (35 million for A4) and any 12-megapixel phone photo, and stays far
#: below Pillow's own limit (89,478,485, ``Image.MAX_IMAGE_PIXELS``), so Pillow never warns or refuses first.
MAX_IMAGE_PIXELS = 36_000_000
#: Bytes of one scan file (image or PDF): an 8-bit RGB image at MAX_IMAGE_PIXELS stored without
#: compression. PNG and JPEG make real scans smaller; a PDF of _paper.MAX_PDF_PAGES scanned pages (well
#: under 1 MB each as JPEG) fits too.
MAX_SCAN_FILE_BYTES = 3 * MAX_IMAGE_PIXELS
#: Bytes of a key backup manifest: ours are about 400.
MAX_MANIFEST_BYTES = 64 * 1024
#: Characters of the key label a manifest names: it is shown to the operator and written into the
#: rebuilt key file. Workspace labels are short ("root-1", "timestamp-online").
MAX_LABEL_CHARS = 128
#: Bytes of an encrypted key backup (PKCS#12): an RSA-4096 key's is under 3 KB.
MAX_ENCRYPTED_KEY_BYTES = 64 * 1024
#: Shares of one key backup, and distinct shares read by one restore-key: split_key's own limit
#: (SLIP-39 allows 16 shares in a group).
MAX_SHARES = 16
#: Bytes of one share text file: a share is 20 or 33 words, under 300 characters.
MAX_SHARE_FILE_BYTES = 64 * 1024
#: Any integer in an encrypted key backup's visible structure, which is where its key derivation
#: iteration counts are (PBKDF2 and the PKCS#12 MAC), checked before anything is derived: ten times what
#: this tool writes (keys.PBKDF2_ITERATIONS), about two seconds here. Unbounded, a crafted file costs
#: hours of CPU.
MAX_KDF_ITERATIONS = 10 * _keys.PBKDF2_ITERATIONS


# --------------------------------------------------------------------------- containers and parts


def pack(name: str, data: bytes) -> bytes:
    """The container: magic, version, SHA-256 of ``data``, name, compressed ``data``."""
    encoded = name.encode("utf-8")
    return (
        MAGIC
        + bytes([CONTAINER_VERSION])
        + hashlib.sha256(data).digest()
        + bytes([len(encoded)])
        + encoded
        + zlib.compress(data, 9)
    )


_PLAIN_NAME = re.compile(r"[A-Za-z0-9._-]{1,200}")


def unpack(container: bytes, source: str) -> tuple[str, bytes]:
    """Name and exact bytes from a container, checked against its SHA-256.

    At most MAX_FILE_BYTES are ever decompressed: a small container that
    inflates to gigabytes (a zlib bomb) is refused once it passes the bound.

    Raises:
        BackupError: not a container, too large, or the bytes do not match the digest.
    """
    shown = printable(source)
    if len(container) > MAX_CONTAINER_BYTES:
        raise BackupError(
            f"{shown}: the backup is larger than {MAX_CONTAINER_BYTES:,} bytes, the most one file's backup can be; refused"
        )
    if len(container) < _CONTAINER_HEADER_BYTES or container[:4] != MAGIC or container[4] != CONTAINER_VERSION:
        raise BackupError(f"{shown}: not a ceremony backup (unknown container)")
    digest = container[5:37]
    name_length = container[37]
    start = _CONTAINER_HEADER_BYTES + name_length
    if len(container) < start:
        raise BackupError(f"{shown}: the backup is cut off inside its file name")
    name = container[_CONTAINER_HEADER_BYTES:start].decode("utf-8", "replace")
    if not _PLAIN_NAME.fullmatch(name) or name in (".", ".."):
        # The name decides where restore writes: never a path, never outside the output directory.
        raise BackupError(
            f"{shown}: the backup names its file '{printable(name, 255)}', which is not a plain file name; refused"
        )
    data = _inflate(container[start:], f"{shown}: the backup of {name}")
    if hashlib.sha256(data).digest() != digest:
        raise BackupError(f"{shown}: the restored {name} does not match its SHA-256; the backup is damaged")
    return name, data


def _inflate(compressed: bytes, what: str) -> bytes:
    """Decompress one whole zlib stream of at most MAX_FILE_BYTES, with nothing after it.

    Raises:
        BackupError: more than MAX_FILE_BYTES, not zlib, cut off, or followed by other bytes.
    """
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(compressed, MAX_FILE_BYTES + 1)
    except zlib.error as err:
        raise BackupError(f"{what} is damaged (it does not decompress)") from err
    if len(data) > MAX_FILE_BYTES:
        raise BackupError(
            f"{what} decompresses to more than {MAX_FILE_BYTES:,} bytes, the most one restored file can be "
            "(python-tuf's limit for metadata); refused"
        )
    if not inflater.eof:
        raise BackupError(f"{what} is damaged (its compressed data is cut off)")
    if inflater.unused_data:
        raise BackupError(f"{what} is damaged ({len(inflater.unused_data)} bytes follow its compressed data)")
    return data


@dataclass(frozen=True)
class Part:
    """One QR symbol's content."""

    set_id: str
    index: int
    count: int
    digest_prefix: str
    data: bytes
    source: str = ""

    def to_text(self) -> str:
        """Alphanumeric-mode QR text."""
        crc = f"{zlib.crc32(self.data):08X}"
        return f"{QR_PREFIX}:{self.set_id}:{self.index}/{self.count}:{self.digest_prefix}:{crc}:{base45.b45encode(self.data).decode()}"

    @classmethod
    def from_text(cls, text: str, source: str) -> Part | None:
        """Parse a decoded symbol; None when it is not one of ours.

        Raises:
            BackupError: ours, but corrupted.
        """
        match = _PART.match(text.strip())
        if match is None:
            return None
        set_id, index, count, prefix, crc, payload = match.groups()  # every field but the data is bounded by _PART
        shown = printable(source)
        try:
            data = base45.b45decode(payload)
        except ValueError as err:
            raise BackupError(f"{shown}: part {index} of {count} of backup set {set_id} is corrupted") from err
        if f"{zlib.crc32(data):08X}" != crc:
            raise BackupError(
                f"{shown}: part {index} of {count} of backup set {set_id} is corrupted (checksum mismatch)"
            )
        if not 1 <= int(index) <= int(count) <= MAX_PARTS:
            raise BackupError(f"{shown}: part {index} of {count} of backup set {set_id} is out of range")
        return cls(set_id, int(index), int(count), prefix, data, source)


def split(container: bytes, qr_bytes: int, set_id: str | None = None) -> list[Part]:
    """Split a container into parts of at most ``qr_bytes`` bytes."""
    if qr_bytes < 16:
        raise UsageError(f"--qr-bytes {qr_bytes} is too small; use at least 16")
    set_id = set_id or secrets.token_hex(4).upper()
    prefix = hashlib.sha256(container).hexdigest()[:16].upper()
    chunks = [container[i : i + qr_bytes] for i in range(0, len(container), qr_bytes)]
    return [Part(set_id, i + 1, len(chunks), prefix, chunk) for i, chunk in enumerate(chunks)]


def _qr_code(text: str, ecc: str, **options: Any) -> qrcode.QRCode:
    """A fitted QR code for ``text`` in alphanumeric mode.

    Raises:
        QrCapacityError: the text does not fit one QR symbol at this ECC level.
    """
    code = qrcode.QRCode(error_correction=ECC_LEVELS[ecc], border=4, **options)
    code.add_data(QRData(text.encode("ascii"), mode=MODE_ALPHA_NUM))
    try:
        code.make(fit=True)
    except (qrcode.exceptions.DataOverflowError, ValueError) as err:  # qrcode raises ValueError past version 40
        raise QrCapacityError(
            f"{len(text)} characters do not fit one QR symbol at ECC {ecc}; lower --qr-bytes"
        ) from err
    return code


def qr_image(text: str, ecc: str, box_size: int = 10) -> Any:
    """A QR symbol for ``text`` (PIL image).

    Raises:
        QrCapacityError: see _qr_code.
    """
    return _qr_code(text, ecc, box_size=box_size).make_image(fill_color="black", back_color="white").get_image()


def qr_svg(text: str, ecc: str) -> bytes:
    """The same symbol as SVG (vector, for printing at any size).

    Raises:
        QrCapacityError: see _qr_code.
    """
    buffer = io.BytesIO()
    _qr_code(text, ecc, box_size=10, image_factory=qrcode.image.svg.SvgPathImage).make_image().save(buffer)
    return buffer.getvalue()


_QR = zxingcpp.BarcodeFormat.QRCode


def _slower_passes(gray: Any) -> Iterable[tuple[Any, Any]]:
    """The same image prepared other ways, each with a binarizer: scanners and phones blur, tilt and wash out differently."""
    yield gray, zxingcpp.Binarizer.GlobalHistogram
    sharpened = gray.filter(ImageFilter.UnsharpMask(radius=3, percent=250, threshold=0))
    yield sharpened, zxingcpp.Binarizer.LocalAverage
    yield sharpened, zxingcpp.Binarizer.GlobalHistogram
    if gray.width * gray.height * 4 <= MAX_IMAGE_PIXELS:  # enlarging helps small symbols; a large image has room
        enlarged = gray.resize((gray.width * 2, gray.height * 2), Image.LANCZOS).filter(
            ImageFilter.UnsharpMask(radius=4, percent=300, threshold=0)
        )
        for binarizer in (zxingcpp.Binarizer.LocalAverage, zxingcpp.Binarizer.GlobalHistogram):
            yield enlarged, binarizer
    stretched = ImageOps.autocontrast(gray, cutoff=2)
    for level in (96, 128, 160):
        thresholded = stretched.point(lambda p, level=level: 255 if p > level else 0)
        for binarizer in (zxingcpp.Binarizer.LocalAverage, zxingcpp.Binarizer.GlobalHistogram):
            yield thresholded, binarizer


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
    if image.width * image.height > MAX_IMAGE_PIXELS:
        raise InputFileError(_too_many_pixels(printable(source), image.width, image.height))
    gray = image if image.mode == "L" else image.convert("L")
    first = zxingcpp.read_barcodes(gray, formats=_QR, return_errors=True)
    if not first:
        return []
    found = dict.fromkeys(result.text for result in first if result.valid)
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


# --------------------------------------------------------------------------- text fallback


def text_fallback(name: str, set_id: str, container: bytes, data_digest: str) -> str:
    """Numbered base32 lines with a CRC-32 each, for typing back in."""
    lines = [
        TEXT_HEADER,
        f"file: {name}",
        f"set: {set_id}",
        f"sha256: {data_digest}",
    ]
    chunks = [container[i : i + TEXT_LINE_BYTES] for i in range(0, len(container), TEXT_LINE_BYTES)]
    lines.append(f"lines: {len(chunks)}")
    for number, chunk in enumerate(chunks, start=1):
        encoded = base64.b32encode(chunk).decode().rstrip("=").lower()
        crc = zlib.crc32(f"{number:04d}{encoded}".encode())
        lines.append(f"{number:04d} {encoded} {crc:08x}")
    lines.append("end")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class TextFallback:
    """A container read back from a text fallback, with what its header says about it."""

    set_id: str
    container: bytes = field(repr=False)
    name: str | None  # the header's "file:", if given
    sha256: str | None  # the header's "sha256:", if given


_TEXT_FIELDS = {
    "set": re.compile(r"[0-9A-Fa-f]{8}"),
    "lines": re.compile(r"[0-9]{1,12}"),  # any count is read, then held to MAX_TEXT_LINES
    "file": _PLAIN_NAME,
    "sha256": re.compile(r"[0-9a-fA-F]{64}"),
}


def parse_text_fallback(text: str, source: str) -> TextFallback:
    """Container bytes (and set id, file name, digest) from a text fallback, every line checked.

    Raises:
        BackupError: a bad or missing header field or line, named by number, or more lines than
            the largest backup has (MAX_TEXT_LINES).
    """
    shown = printable(source)
    lines = text.splitlines()
    if not lines or lines[0].strip() != TEXT_HEADER:
        raise BackupError(f"{shown}: not a ceremony backup text (first line must be '{TEXT_HEADER}')")
    fields: dict[str, str] = {}
    for line in lines[1:6]:
        key, sep, value = line.partition(": ")
        if sep and key in _TEXT_FIELDS:
            value = value.strip()
            if not _TEXT_FIELDS[key].fullmatch(value) or value in (".", ".."):
                raise BackupError(f"{shown}: the header line '{key}:' is damaged")
            fields[key] = value
    if "set" not in fields or "lines" not in fields:
        raise BackupError(f"{shown}: the header lines (set, lines) are missing or damaged")
    expected, set_id = int(fields["lines"]), fields["set"].upper()
    if not 1 <= expected <= MAX_TEXT_LINES:
        raise BackupError(
            f"{shown}: the header announces {expected:,} lines; a backup has 1 to {MAX_TEXT_LINES:,} "
            f"(the largest, {MAX_FILE_BYTES:,} bytes of metadata); refused"
        )
    chunks: dict[int, bytes] = {}
    for line_no, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or not "0" <= stripped[0] <= "9":
            continue
        match = _TEXT_LINE.match(line.lower())
        if match is None:
            raise BackupError(f"{shown}: line {line_no} is not 'NNNN DATA CHECKSUM'")
        number, encoded, crc = int(match.group(1)), match.group(2), match.group(3)
        if f"{zlib.crc32(f'{number:04d}{encoded}'.encode()):08x}" != crc:
            raise BackupError(f"{shown}: line {number:04d} has a bad checksum (a typing error?)")
        if not 1 <= number <= expected:
            raise BackupError(f"{shown}: line {number:04d} is beyond the {expected} lines the header announces")
        if number in chunks:
            raise BackupError(f"{shown}: line {number:04d} appears twice")
        padded = encoded.upper() + "=" * (-len(encoded) % 8)
        try:
            chunks[number] = base64.b32decode(padded)
        except ValueError as err:
            raise BackupError(f"{shown}: line {number:04d} is not valid base32") from err
    if len(chunks) < expected:
        missing = (n for n in range(1, expected + 1) if n not in chunks)
        raise BackupError(f"{shown}: line(s) {_first_few(missing, '{:04d}')} missing")
    return TextFallback(
        set_id,
        b"".join(chunks[n] for n in range(1, expected + 1)),
        fields.get("file"),
        fields["sha256"].lower() if "sha256" in fields else None,
    )


def _first_few(numbers: Iterable[int], style: str = "{}", shown: int = 10) -> str:
    """The first few of many numbers, for an error message that stays one short line."""
    numbers = iter(numbers)
    first = [style.format(n) for n in itertools.islice(numbers, shown)]
    more = sum(1 for _ in numbers)
    return ", ".join(first) + (f" and {more} more" if more else "")


# --------------------------------------------------------------------------- export


@dataclass
class ExportedBackup:
    """One exported file: its set, parts and the files written."""

    name: str
    set_id: str
    sha256: str
    parts: int
    files: list[str] = field(default_factory=list)


FORMATS = ("files", "png", "svg", "pdf", "txt")


def export_files(
    sources: Sequence[tuple[str, bytes]],
    out: Path,
    formats: Sequence[str],
    qr_bytes: int,
    ecc: str,
    describe: Any,
    created: str,
) -> list[ExportedBackup]:
    """Write backups of ``sources`` (file name, exact bytes) into ``out``.

    Args:
        sources: the files to back up, as on disk.
        out: the output directory (created 0700).
        formats: any of files, png, svg, pdf, txt.
        qr_bytes: maximum bytes per QR symbol.
        ecc: L, M, Q or H.
        describe: callable(name, data) -> list of summary lines for the printed sheet.
        created: the date printed on sheets.

    Raises:
        UsageError: unknown format or ECC level, or a file that needs more than MAX_PARTS parts.
        BackupError: a file larger than MAX_FILE_BYTES (it would not restore).
        QrCapacityError: a part does not fit one symbol.
    """
    from ceremony.core import _paper

    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise UsageError(f"--formats: unknown {', '.join(sorted(unknown))}; choose from {', '.join(FORMATS)}")
    if ecc not in ECC_LEVELS:
        raise UsageError(f"--ecc {ecc}: choose L, M, Q or H")
    packed = []
    for name, data in sources:  # every backup made must restore: the restore bounds, checked before writing
        if len(data) > MAX_FILE_BYTES:
            raise BackupError(
                f"{name}: {len(data):,} bytes is more than {MAX_FILE_BYTES:,}, the most a backup restores "
                "(python-tuf's limit for metadata)"
            )
        container = pack(name, data)
        parts_needed = -(-len(container) // qr_bytes) if qr_bytes >= 16 else 0  # split refuses fewer bytes
        if parts_needed > MAX_PARTS:
            raise UsageError(
                f"{name} would need {parts_needed:,} QR codes at --qr-bytes {qr_bytes}; one backup set has at most "
                f"{MAX_PARTS:,}: raise --qr-bytes"
            )
        packed.append((name, data, container))
    make_private_dir(out)
    results = []
    for name, data, container in packed:
        parts = split(container, qr_bytes)
        set_id = parts[0].set_id
        digest = sha256_hex(data)
        result = ExportedBackup(name, set_id, digest, len(parts))
        stem = f"{name.removesuffix('.json')}-{set_id}"
        images = [qr_image(part.to_text(), ecc) for part in parts]  # also checks capacity before writing
        if "files" in formats:
            write_atomic(out / name, data)
            result.files.append(name)
        if "png" in formats:
            for part, image in zip(parts, images, strict=True):
                buffer = io.BytesIO()
                image.save(buffer, format="PNG")
                file = f"{stem}-part{part.index:02d}of{part.count:02d}.png"
                write_atomic(out / file, buffer.getvalue())
                result.files.append(file)
        if "svg" in formats:
            for part in parts:
                file = f"{stem}-part{part.index:02d}of{part.count:02d}.svg"
                write_atomic(out / file, qr_svg(part.to_text(), ecc))
                result.files.append(file)
        fallback = text_fallback(name, set_id, container, digest)
        if "txt" in formats:
            write_atomic(out / f"{stem}.txt", fallback.encode())
            result.files.append(f"{stem}.txt")
        if "pdf" in formats:
            words = _diff.digest_words(bytes.fromhex(digest))
            for paper in ("a4", "letter"):
                file = f"{stem}-{paper}.pdf"
                pdf = _paper.backup_sheet(
                    paper=paper,
                    name=name,
                    set_id=set_id,
                    sha256=digest,
                    words=words,
                    summary=describe(name, data),
                    images=images,
                    fallback=fallback,
                    created=created,
                )
                write_atomic(out / file, pdf)
                result.files.append(file)
        results.append(result)
    return results


# --------------------------------------------------------------------------- restore


@dataclass
class Restored:
    """One file restored from a complete set."""

    name: str
    data: bytes
    set_id: str
    sha256: str
    sources: list[str]


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
    width, height = _image_size(data, shown)
    if width * height > MAX_IMAGE_PIXELS:
        raise InputFileError(_too_many_pixels(shown, width, height))
    if not width or not height:
        raise InputFileError(f"{shown}: an image of {width} x {height} pixels holds nothing to read")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
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
    if any(issubclass(warning.category, Image.DecompressionBombWarning) for warning in caught):
        raise InputFileError(_too_many_pixels(shown, width, height))
    return gray


def _images_of(path: Path) -> Iterator[tuple[str, Any]]:
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


def collect(
    inputs: Sequence[Path],
) -> tuple[dict[str, dict[int, Part]], dict[str, tuple[TextFallback, str]], list[str]]:
    """QR parts by set (from images and PDFs), text fallbacks by set, and inputs with no code.

    A page with no code is not an error by itself (the text pages of a printed
    sheet have none); it is named if parts turn out to be missing.

    Raises:
        BackupError: a duplicate or corrupted part, a bad text line, more than MAX_SETS sets or
            MAX_COLLECTED_BYTES of backups, a set larger than MAX_CONTAINER_BYTES.
        InputFileError: an unreadable input.
    """
    sets: dict[str, dict[int, Part]] = {}
    texts: dict[str, tuple[TextFallback, str]] = {}
    set_bytes: dict[str, int] = {}
    collected = 0
    unreadable: list[str] = []

    def make_room(set_id: str, size: int, shown: str) -> None:
        """Count ``size`` more bytes for ``set_id``, within every bound."""
        nonlocal collected
        if set_id not in set_bytes and len(set_bytes) >= MAX_SETS:
            raise BackupError(
                f"{shown}: more than {MAX_SETS:,} backup sets in one restore; restore fewer files at a time"
            )
        set_bytes[set_id] = set_bytes.get(set_id, 0) + size
        if set_bytes[set_id] > MAX_CONTAINER_BYTES:
            raise BackupError(
                f"{shown}: backup set {set_id} holds more than {MAX_CONTAINER_BYTES:,} bytes, the most one file's "
                "backup can be; refused"
            )
        collected += size
        if collected > MAX_COLLECTED_BYTES:
            raise BackupError(
                f"{shown}: the inputs hold more than {MAX_COLLECTED_BYTES:,} bytes of backups, the most one restore "
                "reads; restore fewer files at a time"
            )

    for path in inputs:
        path = Path(path)
        shown = printable(str(path))
        if path.suffix.lower() == ".txt":
            data = read_bytes(path, "backup text", MAX_TEXT_FILE_BYTES)
            fallback = parse_text_fallback(data.decode("utf-8", "replace"), str(path))
            if fallback.set_id in texts:
                earlier, earlier_source = texts[fallback.set_id]
                if earlier.container != fallback.container:
                    raise BackupError(
                        f"two different text fallbacks claim backup set {fallback.set_id} "
                        f"({printable(earlier_source)} and {shown}); give each once"
                    )
                continue
            make_room(fallback.set_id, len(fallback.container), shown)
            texts[fallback.set_id] = (fallback, str(path))
            continue
        found_any = False
        for source, image in _images_of(path):
            for text in decode_image(image, source):
                part = Part.from_text(text, source)
                if part is None:
                    continue
                found_any = True
                existing = sets.get(part.set_id, {}).get(part.index)
                if existing is not None:
                    raise BackupError(
                        f"part {part.index} of {part.count} of backup set {part.set_id} appears twice "
                        f"({printable(existing.source)} and {printable(source)}); give each part once"
                    )
                make_room(part.set_id, len(part.data), printable(source))
                sets.setdefault(part.set_id, {})[part.index] = part
        if not found_any:
            unreadable.append(path.name)
    return sets, texts, unreadable


def assemble(
    sets: dict[str, dict[int, Part]], texts: dict[str, tuple[TextFallback, str]], unreadable: Sequence[str] = ()
) -> list[Restored]:
    """Reassemble every set; every part present, consistent, and the digest right.

    Raises:
        BackupError: a missing part, a part from another set, a mismatch, more than
            MAX_RESTORE_BYTES restored.
    """
    restored: list[Restored] = []
    problems: list[str] = []
    total = 0

    def add(name: str, data: bytes, set_id: str, sources: list[str]) -> None:
        """Keep one restored file, within MAX_RESTORE_BYTES for the whole restore."""
        nonlocal total
        total += len(data)
        if total > MAX_RESTORE_BYTES:
            raise BackupError(
                f"the backups restore to more than {MAX_RESTORE_BYTES:,} bytes, the most one restore writes; "
                "restore fewer files at a time"
            )
        restored.append(Restored(name, data, set_id, sha256_hex(data), sources))

    for set_id, parts in sorted(sets.items()):
        counts = {p.count for p in parts.values()}
        prefixes = {p.digest_prefix for p in parts.values()}
        if len(counts) != 1 or len(prefixes) != 1:
            problems.append(f"backup set {set_id}: its parts disagree on the part count or digest (mixed-up sets)")
            continue
        count = counts.pop()
        if len(parts) < count:
            missing = (i for i in range(1, count + 1) if i not in parts)
            if len(parts) == 1 and len(sets) > 1:
                (lone,) = parts.values()
                problems.append(
                    f"{printable(lone.source)}: part {lone.index} of {count} belongs to another backup set ({set_id}) "
                    "than the others"
                )
            else:
                problems.append(f"backup set {set_id}: part(s) {_first_few(missing)} of {count} missing")
            continue
        container = b"".join(parts[i].data for i in range(1, count + 1))
        if hashlib.sha256(container).hexdigest()[:16].upper() != prefixes.pop():
            problems.append(f"backup set {set_id}: the parts do not add up to the backup they claim (digest mismatch)")
            continue
        name, data = unpack(container, f"backup set {set_id}")
        add(name, data, set_id, sorted({p.source for p in parts.values()}))
    for set_id, (fallback, source) in sorted(texts.items()):
        if set_id in {r.set_id for r in restored}:
            continue
        name, data = unpack(fallback.container, source)
        if fallback.name not in (None, name) or fallback.sha256 not in (None, sha256_hex(data)):
            said = " ".join(f"{k} {v}" for k, v in (("file", fallback.name), ("sha256", fallback.sha256)) if v)
            raise BackupError(
                f"{printable(source)}: the header says {said}, but the lines hold {name} with sha256 "
                f"{sha256_hex(data)}; a header from another backup?"
            )
        add(name, data, set_id, [source])
    hint = (
        f" (no QR code could be read from {', '.join(printable(name) for name in unreadable[:10])}"
        f"{f' and {len(unreadable) - 10} more' if len(unreadable) > 10 else ''}: rescan sharper, or use the text fallback)"
        if unreadable
        else ""
    )
    if problems:
        more = f"; and {len(problems) - 10} more problem(s)" if len(problems) > 10 else ""
        raise BackupError("; ".join(problems[:10]) + more + hint)
    if not restored:
        raise BackupError("nothing to restore: no backup parts were found in the inputs" + hint)
    return restored


def restore(inputs: Sequence[Path]) -> list[Restored]:
    """Restore every backup found in ``inputs`` (scans, photos, PDFs, text fallbacks), in any order.

    Raises:
        BackupError: see collect and assemble.
        InputFileError: an unreadable input.
    """
    if not inputs:
        raise UsageError("restore needs at least one input file")
    return assemble(*collect(inputs))


# --------------------------------------------------------------------------- secret key backups (SLIP-39)


@dataclass
class KeyBackup:
    """A software key split into SLIP-39 shares."""

    keyid: str
    shares: list[str] = field(repr=False)  # secret: never in a repr, a log or an assertion message
    threshold: int = 0
    encrypted: bytes = field(default=b"", repr=False)  # the key re-encrypted under the shared secret


def split_key(private: Any, keyid: str, shares: int, threshold: int) -> KeyBackup:
    """Re-encrypt a key under a fresh 128-bit secret and split that secret into SLIP-39 shares.

    Raises:
        UsageError: a threshold below 2 or above the number of shares, or more than 16 shares.
    """
    if not 2 <= threshold <= shares <= MAX_SHARES:
        raise UsageError(f"--threshold {threshold} of --shares {shares}: need 2 <= threshold <= shares <= {MAX_SHARES}")
    master = os.urandom(16)
    mnemonics = shamir_mnemonic.generate_mnemonics(1, [(threshold, shares)], master, b"")[0]
    encrypted = _keys.encrypt_private_key(private, master.hex(), f"backup-{keyid[:16]}")
    return KeyBackup(keyid, mnemonics, threshold, encrypted)


def combine_key(mnemonics: Iterable[str], encrypted: bytes, source: str) -> Any:
    """Recombine shares and decrypt the key backup (in memory only).

    Raises:
        BackupError: too few, mismatched or mistyped shares, a key backup this tool did not
            make (see check_encrypted_key), or a key that does not open.
    """
    shown = printable(source)
    check_encrypted_key(encrypted, source)
    words = [" ".join(m.split()) for m in mnemonics if m.strip()]
    try:
        master = shamir_mnemonic.combine_mnemonics(words)
    except shamir_mnemonic.MnemonicError:
        # shamir-mnemonic's messages quote share words: never pass them on.
        raise BackupError(
            f"{shown}: the shares do not combine (a mistyped word, a share of another set, or too few shares)"
        ) from None
    try:
        from cryptography.exceptions import UnsupportedAlgorithm
        from cryptography.hazmat.primitives.serialization import pkcs12

        private, _cert, _extra = pkcs12.load_key_and_certificates(encrypted, master.hex().encode())
    except (ValueError, UnsupportedAlgorithm) as err:
        raise BackupError(f"{shown}: the shares combine, but not to the secret of this key backup") from err
    if private is None:
        raise BackupError(f"{shown}: the key backup opens but holds no key")
    return private


# DER object identifiers (contents octets) in the key backups this tool writes (keys.encrypt_private_key):
# PKCS#7 data, PKCS#12 shrouded key bag, PBES2, PBKDF2, HMAC-SHA256, AES-256-CBC, SHA-256, friendlyName
# and localKeyId (RFC 7292, RFC 8018, NIST CSOR). Anything else (another cipher, scrypt, encrypted or
# enveloped content that could hide its own parameters) is not one of ours and is refused.
_KEY_BACKUP_OIDS = frozenset(
    bytes.fromhex(oid)
    for oid in (
        "2a864886f70d010701",
        "2a864886f70d010c0a0102",
        "2a864886f70d01050d",
        "2a864886f70d01050c",
        "2a864886f70d0209",
        "60864801650304012a",
        "608648016503040201",
        "2a864886f70d010914",
        "2a864886f70d010915",
    )
)
_PKCS7_DATA = bytes.fromhex("2a864886f70d010701")
_DER_MAX_DEPTH = 24  # ours nest 17 deep


class _NotOursError(ValueError):
    """Raised inside the DER walk; turned into BackupError with the file named."""


def _der_elements(data: bytes) -> list[tuple[int, bytes]]:
    """(tag, contents) of each DER element in ``data``: single-byte tags, definite minimal lengths only."""
    elements, pos = [], 0
    while pos < len(data):
        if len(data) - pos < 2 or data[pos] & 0x1F == 0x1F:
            raise _NotOursError("a malformed or multi-byte tag")
        tag, length, pos = data[pos], data[pos + 1], pos + 2
        if length & 0x80:
            size = length & 0x7F
            if not 1 <= size <= 3 or pos + size > len(data) or data[pos] == 0:
                raise _NotOursError("an indefinite, oversized or non-minimal length")
            length, pos = int.from_bytes(data[pos : pos + size], "big"), pos + size
            if length < 0x80:
                raise _NotOursError("a non-minimal length")
        if pos + length > len(data):
            raise _NotOursError("an element longer than the file")
        elements.append((tag, data[pos : pos + length]))
        pos += length
    return elements


def _check_der(data: bytes, depth: int, data_payload: bool = False) -> None:
    """Walk DER ``data``: known object identifiers only, small integers, nested PKCS#7 data opened too."""
    if depth > _DER_MAX_DEPTH:
        raise _NotOursError("structures nested too deeply")
    elements = _der_elements(data)
    for index, (tag, contents) in enumerate(elements):
        if tag == 0x06:
            if contents not in _KEY_BACKUP_OIDS:
                raise _NotOursError(f"an algorithm or content type this tool does not write ({contents.hex()[:40]})")
        elif tag == 0x02:
            if len(contents) > 4 or int.from_bytes(contents, "big", signed=True) > MAX_KDF_ITERATIONS:
                raise _NotOursError(f"a number above {MAX_KDF_ITERATIONS:,} (a key derivation that costs too much)")
        elif tag == 0x04 and data_payload:
            _check_der(contents, depth + 1)  # PKCS#7 data: the octets are themselves DER (RFC 7292 section 4.1)
        elif tag & 0x20:
            # A ContentInfo is SEQUENCE { type, [0] content }: open the content when it is PKCS#7 data.
            payload = tag == 0xA0 and index == 1 and elements[0] == (0x06, _PKCS7_DATA)
            _check_der(contents, depth + 1, payload)


def check_encrypted_key(encrypted: bytes, source: str) -> None:
    """Refuse an encrypted key backup unlike the ones this tool writes, before any key is derived.

    Decrypting runs the key derivations the file itself names, as many
    iterations as it asks for; so its visible structure is walked first (DER
    only, known algorithms only) and every number in it must be at most
    MAX_KDF_ITERATIONS.

    Raises:
        BackupError: larger than MAX_ENCRYPTED_KEY_BYTES, not DER, an unknown algorithm, or a number
            over the bound.
    """
    shown = printable(source)
    if len(encrypted) > MAX_ENCRYPTED_KEY_BYTES:
        raise BackupError(f"{shown}: the encrypted key is larger than {MAX_ENCRYPTED_KEY_BYTES:,} bytes; refused")
    try:
        elements = _der_elements(encrypted)
        if len(elements) != 1 or elements[0][0] != 0x30:
            raise _NotOursError("not one DER structure")
        _check_der(encrypted, 0)
    except _NotOursError as err:
        raise BackupError(f"{shown}: not an encrypted key backup made by this tool ({err}); refused") from err


def share_texts_from(inputs: Sequence[Path]) -> list[str]:
    """SLIP-39 share mnemonics from text files, images or PDFs (QR codes of the words).

    Raises:
        BackupError: more than MAX_SHARES different shares.
        InputFileError: an input missing, not a regular file, too large, or not a readable image or PDF.
    """
    found: dict[str, None] = {}
    for path in inputs:
        path = Path(path)
        if path.suffix.lower() == ".txt":
            text = read_bytes(path, "share", MAX_SHARE_FILE_BYTES).decode("utf-8", "replace")
            lines = [line.split(":", 1)[1] for line in text.splitlines() if line.lower().startswith("share:")]
        else:
            lines = [t for source, image in _images_of(path) for t in decode_image(image, source)]
            lines = [t for t in lines if len(t.split()) in (20, 33)]
        for line in lines:
            if line.strip():
                found.setdefault(" ".join(line.split()).lower(), None)
        if len(found) > MAX_SHARES:
            raise BackupError(
                f"{printable(str(path))}: more than {MAX_SHARES} different shares given; a key backup has at most "
                f"{MAX_SHARES}"
            )
    return list(found)


def key_backup_manifest(backup: KeyBackup, label: str) -> bytes:
    """A small JSON manifest naming the key, the share scheme, and the encrypted key file."""
    import json

    return (
        json.dumps(
            {
                "type": "ceremony-key-backup",
                "format": 1,
                "keyid": backup.keyid,
                "label": label,
                "threshold": backup.threshold,
                "shares": len(backup.shares),
                "encrypted_key": f"key-{backup.keyid[:16]}.p12",
                "encrypted_key_sha256": sha256_hex(backup.encrypted),
            },
            indent=2,
        )
        + "\n"
    ).encode()


_MANIFEST_FIELDS: dict[str, type] = {
    "type": str,
    "format": int,
    "keyid": str,
    "label": str,
    "threshold": int,
    "shares": int,
    "encrypted_key": str,
    "encrypted_key_sha256": str,
}
_HEX64 = re.compile(r"[0-9a-f]{64}")


def read_key_manifest(path: Path) -> dict[str, Any]:
    """Parse and strictly check a key backup manifest (format 1).

    Every field must be present with the right type and nothing else
    present; the key id and digest are 64 hex digits; the label is short,
    printable text; the share scheme is one split_key makes; and the
    encrypted key is a plain file name (``*.p12``) in the manifest's own
    directory, never a path.

    Raises:
        InputFileError: missing, not a regular file, too large, not JSON, or not a valid manifest.
    """
    shown = printable(str(path))
    obj = loads_strict(read_bytes(path, "key backup manifest", MAX_MANIFEST_BYTES), shown)
    if not isinstance(obj, dict) or obj.get("type") != "ceremony-key-backup":
        raise InputFileError(f"{shown}: not a ceremony key backup manifest")
    missing = [name for name in _MANIFEST_FIELDS if name not in obj]
    unknown = [name for name in obj if name not in _MANIFEST_FIELDS]
    if missing or unknown:
        named = [f"missing {', '.join(missing)}"] if missing else []
        named += [f"unknown {', '.join(printable(n, 40) for n in unknown[:5])}"] if unknown else []
        raise InputFileError(f"{shown}: not a valid key backup manifest ({'; '.join(named)})")
    for name, kind in _MANIFEST_FIELDS.items():
        value = obj[name]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise InputFileError(
                f"{shown}: field {name} must be {'text' if kind is str else 'a whole number'}, "
                f"not {type(value).__name__}"
            )

    def refuse(field_name: str, why: str) -> InputFileError:
        return InputFileError(f"{shown}: field {field_name} {why}")

    if obj["format"] != 1:
        raise refuse("format", f"is {obj['format']}; this tool reads format 1")
    for name in ("keyid", "encrypted_key_sha256"):
        if not _HEX64.fullmatch(obj[name]):
            raise refuse(name, "must be 64 lowercase hex digits")
    label = obj["label"]
    if not 1 <= len(label) <= MAX_LABEL_CHARS or not is_printable(label) or label != label.strip():
        raise refuse("label", f"must be 1 to {MAX_LABEL_CHARS} printable characters: '{printable(label, 60)}'")
    if not 2 <= obj["threshold"] <= obj["shares"] <= MAX_SHARES:
        raise refuse(
            "threshold", f"{obj['threshold']} of shares {obj['shares']}: need 2 <= threshold <= shares <= {MAX_SHARES}"
        )
    encrypted_key = obj["encrypted_key"]
    if not _PLAIN_NAME.fullmatch(encrypted_key) or not encrypted_key.endswith(".p12") or encrypted_key.startswith("."):
        raise refuse(
            "encrypted_key",
            f"'{printable(encrypted_key, 60)}' is not a plain file name (*.p12) in the backup directory; refused",
        )
    return obj
