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

This module is the only importer of qrcode and zxing-cpp.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import secrets
import zlib
from collections.abc import Iterable, Sequence
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
_TEXT_LINE = re.compile(r"^\s*(\d{4})\s+([a-z2-7]+)\s+([0-9a-f]{8})\s*$")


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

    Raises:
        BackupError: not a container, or the bytes do not match the digest.
    """
    if len(container) < 38 or container[:4] != MAGIC or container[4] != CONTAINER_VERSION:
        raise BackupError(f"{source}: not a ceremony backup (unknown container)")
    digest = container[5:37]
    name_length = container[37]
    name = container[38 : 38 + name_length].decode("utf-8", "replace")
    if not _PLAIN_NAME.fullmatch(name) or name in (".", ".."):
        # The name decides where restore writes: never a path, never outside the output directory.
        raise BackupError(f"{source}: the backup names its file {name!r}, which is not a plain file name; refused")
    try:
        data = zlib.decompress(container[38 + name_length :])
    except zlib.error as err:
        raise BackupError(f"{source}: the backup of {name} is damaged (it does not decompress)") from err
    if hashlib.sha256(data).digest() != digest:
        raise BackupError(f"{source}: the restored {name} does not match its SHA-256; the backup is damaged")
    return name, data


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
        set_id, index, count, prefix, crc, payload = match.groups()
        try:
            data = base45.b45decode(payload)
        except ValueError as err:
            raise BackupError(f"{source}: part {index} of {count} of backup set {set_id} is corrupted") from err
        if f"{zlib.crc32(data):08X}" != crc:
            raise BackupError(
                f"{source}: part {index} of {count} of backup set {set_id} is corrupted (checksum mismatch)"
            )
        if not 1 <= int(index) <= int(count):
            raise BackupError(f"{source}: part {index} of {count} of backup set {set_id} is out of range")
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


def _decode_passes(image: Any) -> Iterable[Any]:
    """The same image prepared several ways: scanners and phones blur, tilt and wash out differently."""
    gray = image.convert("L")
    yield gray
    yield gray.filter(ImageFilter.UnsharpMask(radius=3, percent=250, threshold=0))
    yield gray.resize((gray.width * 2, gray.height * 2), Image.LANCZOS).filter(
        ImageFilter.UnsharpMask(radius=4, percent=300, threshold=0)
    )
    stretched = ImageOps.autocontrast(gray, cutoff=2)
    for level in (96, 128, 160):
        yield stretched.point(lambda p, level=level: 255 if p > level else 0)


def decode_image(image: Any, source: str) -> list[str]:
    """Every QR symbol text zxing-cpp finds in an image (scans, photos, rendered pages), in order found.

    Several preparations and both of zxing-cpp's general binarizers are tried
    and their results united, so one blurred or washed-out symbol on a page
    does not hide behind the others.
    """
    found: dict[str, None] = {}
    for prepared in _decode_passes(image):
        for binarizer in (zxingcpp.Binarizer.LocalAverage, zxingcpp.Binarizer.GlobalHistogram):
            for result in zxingcpp.read_barcodes(prepared, formats=zxingcpp.BarcodeFormat.QRCode, binarizer=binarizer):
                found.setdefault(result.text, None)
    return list(found)


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


def parse_text_fallback(text: str, source: str) -> tuple[str, bytes]:
    """Container bytes (and set id) from a text fallback, every line checked.

    Raises:
        BackupError: a bad or missing line, named by number.
    """
    lines = text.splitlines()
    if not lines or lines[0].strip() != TEXT_HEADER:
        raise BackupError(f"{source}: not a ceremony backup text (first line must be '{TEXT_HEADER}')")
    fields = dict(line.split(": ", 1) for line in lines[1:6] if ": " in line)
    try:
        expected = int(fields["lines"])
        set_id = fields["set"].strip()
    except (KeyError, ValueError) as err:
        raise BackupError(f"{source}: the header lines (set, lines) are missing or damaged") from err
    chunks: dict[int, bytes] = {}
    for line_no, line in enumerate(lines, start=1):
        if not line.strip() or not line.strip()[0].isdigit():
            continue
        match = _TEXT_LINE.match(line.lower())
        if match is None:
            raise BackupError(f"{source}: line {line_no} is not 'NNNN DATA CHECKSUM'")
        number, encoded, crc = int(match.group(1)), match.group(2), match.group(3)
        if f"{zlib.crc32(f'{number:04d}{encoded}'.encode()):08x}" != crc:
            raise BackupError(f"{source}: line {number:04d} has a bad checksum (a typing error?)")
        if number in chunks:
            raise BackupError(f"{source}: line {number:04d} appears twice")
        padded = encoded.upper() + "=" * (-len(encoded) % 8)
        try:
            chunks[number] = base64.b32decode(padded)
        except ValueError as err:
            raise BackupError(f"{source}: line {number:04d} is not valid base32") from err
    missing = [n for n in range(1, expected + 1) if n not in chunks]
    if missing:
        raise BackupError(f"{source}: line(s) {', '.join(f'{n:04d}' for n in missing[:10])} missing")
    return set_id, b"".join(chunks[n] for n in range(1, expected + 1))


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
        UsageError: unknown format or ECC level.
        QrCapacityError: a part does not fit one symbol.
    """
    from ceremony.core import _paper

    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise UsageError(f"--formats: unknown {', '.join(sorted(unknown))}; choose from {', '.join(FORMATS)}")
    if ecc not in ECC_LEVELS:
        raise UsageError(f"--ecc {ecc}: choose L, M, Q or H")
    make_private_dir(out)
    results = []
    for name, data in sources:
        container = pack(name, data)
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


def _images_of(path: Path) -> list[tuple[str, Any]]:
    """Images to scan from an input file: the image itself, or every page of a PDF."""
    from ceremony.core import _paper

    suffix = path.suffix.lower()
    if suffix == ".pdf":
        return [
            (f"{path} page {i}", image) for i, image in enumerate(_paper.render_pdf(read_bytes(path, "PDF")), start=1)
        ]
    try:
        with Image.open(path) as image:
            image.load()
            return [(str(path), image.copy())]
    except FileNotFoundError as err:
        raise InputFileError(f"{path}: file not found") from err
    except OSError as err:
        raise InputFileError(f"{path}: not an image this tool can read (PNG, JPEG) or a PDF") from err


def collect(inputs: Sequence[Path]) -> tuple[dict[str, dict[int, Part]], dict[str, tuple[bytes, str]], list[str]]:
    """QR parts by set (from images and PDFs), containers from text fallbacks, and inputs with no code.

    A page with no code is not an error by itself (the text pages of a printed
    sheet have none); it is named if parts turn out to be missing.

    Raises:
        BackupError: a duplicate or corrupted part, a bad text line.
        InputFileError: an unreadable input.
    """
    sets: dict[str, dict[int, Part]] = {}
    texts: dict[str, tuple[bytes, str]] = {}
    unreadable: list[str] = []
    for path in inputs:
        path = Path(path)
        if path.suffix.lower() == ".txt":
            text = read_bytes(path, "backup text").decode("utf-8", "replace")
            set_id, container = parse_text_fallback(text, str(path))
            texts[set_id] = (container, str(path))
            continue
        found_any = False
        for source, image in _images_of(path):
            for text in decode_image(image, source):
                part = Part.from_text(text, source)
                if part is None:
                    continue
                found_any = True
                existing = sets.setdefault(part.set_id, {}).get(part.index)
                if existing is not None:
                    raise BackupError(
                        f"part {part.index} of {part.count} of backup set {part.set_id} appears twice "
                        f"({existing.source} and {source}); give each part once"
                    )
                sets[part.set_id][part.index] = part
        if not found_any:
            unreadable.append(path.name)
    return sets, texts, unreadable


def assemble(
    sets: dict[str, dict[int, Part]], texts: dict[str, tuple[bytes, str]], unreadable: Sequence[str] = ()
) -> list[Restored]:
    """Reassemble every set; every part present, consistent, and the digest right.

    Raises:
        BackupError: a missing part, a part from another set, a mismatch.
    """
    restored: list[Restored] = []
    problems: list[str] = []
    for set_id, parts in sorted(sets.items()):
        counts = {p.count for p in parts.values()}
        prefixes = {p.digest_prefix for p in parts.values()}
        if len(counts) != 1 or len(prefixes) != 1:
            problems.append(f"backup set {set_id}: its parts disagree on the part count or digest (mixed-up sets)")
            continue
        count = counts.pop()
        missing = [i for i in range(1, count + 1) if i not in parts]
        if missing:
            if len(parts) == 1 and len(sets) > 1:
                (lone,) = parts.values()
                problems.append(
                    f"{lone.source}: part {lone.index} of {count} belongs to another backup set ({set_id}) than the others"
                )
            else:
                problems.append(f"backup set {set_id}: part(s) {', '.join(map(str, missing))} of {count} missing")
            continue
        container = b"".join(parts[i].data for i in range(1, count + 1))
        if hashlib.sha256(container).hexdigest()[:16].upper() != prefixes.pop():
            problems.append(f"backup set {set_id}: the parts do not add up to the backup they claim (digest mismatch)")
            continue
        name, data = unpack(container, f"backup set {set_id}")
        restored.append(Restored(name, data, set_id, sha256_hex(data), sorted({p.source for p in parts.values()})))
    for set_id, (container, source) in sorted(texts.items()):
        if set_id in {r.set_id for r in restored}:
            continue
        name, data = unpack(container, source)
        restored.append(Restored(name, data, set_id, sha256_hex(data), [source]))
    hint = (
        f" (no QR code could be read from {', '.join(unreadable)}: rescan sharper, or use the text fallback)"
        if unreadable
        else ""
    )
    if problems:
        raise BackupError("; ".join(problems) + hint)
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
    if not 2 <= threshold <= shares <= 16:
        raise UsageError(f"--threshold {threshold} of --shares {shares}: need 2 <= threshold <= shares <= 16")
    master = os.urandom(16)
    mnemonics = shamir_mnemonic.generate_mnemonics(1, [(threshold, shares)], master, b"")[0]
    encrypted = _keys.encrypt_private_key(private, master.hex(), f"backup-{keyid[:16]}")
    return KeyBackup(keyid, mnemonics, threshold, encrypted)


def combine_key(mnemonics: Iterable[str], encrypted: bytes, source: str) -> Any:
    """Recombine shares and decrypt the key backup (in memory only).

    Raises:
        BackupError: too few, mismatched or mistyped shares, or a key that does not open.
    """
    words = [" ".join(m.split()) for m in mnemonics if m.strip()]
    try:
        master = shamir_mnemonic.combine_mnemonics(words)
    except shamir_mnemonic.MnemonicError:
        # shamir-mnemonic's messages quote share words: never pass them on.
        raise BackupError(
            f"{source}: the shares do not combine (a mistyped word, a share of another set, or too few shares)"
        ) from None
    try:
        from cryptography.hazmat.primitives.serialization import pkcs12

        private, _cert, _extra = pkcs12.load_key_and_certificates(encrypted, master.hex().encode())
    except ValueError as err:
        raise BackupError(f"{source}: the shares combine, but not to the secret of this key backup") from err
    return private


def share_texts_from(inputs: Sequence[Path]) -> list[str]:
    """SLIP-39 share mnemonics from text files, images or PDFs (QR codes of the words)."""
    found: list[str] = []
    for path in inputs:
        path = Path(path)
        if path.suffix.lower() == ".txt":
            text = read_bytes(path, "share").decode("utf-8", "replace")
            found += [line.split(":", 1)[1].strip() for line in text.splitlines() if line.lower().startswith("share:")]
            continue
        for source, image in _images_of(path):
            found += [t.strip().lower() for t in decode_image(image, source) if len(t.split()) in (20, 33)]
    return list(dict.fromkeys(found))


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


def read_key_manifest(path: Path) -> dict[str, Any]:
    """Parse a key backup manifest.

    Raises:
        InputFileError: missing or not a manifest.
    """
    obj = loads_strict(read_bytes(path, "key backup manifest"), str(path))
    if not isinstance(obj, dict) or obj.get("type") != "ceremony-key-backup":
        raise InputFileError(f"{path}: not a ceremony key backup manifest")
    return obj
