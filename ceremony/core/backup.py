"""Cold backup of signed metadata: backup sets as QR codes, text fallbacks and printable sheets; restore.

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

Every input to a restore (scans, photos, PDFs, text fallbacks) may have been
made by an attacker. Each is read only if it is a regular file, and every
quantity that costs memory or time is bounded by a named constant below (for
images in qr.py, for PDFs in _paper.py), refused in one sentence that names
the file and the bound before the work is done (docs/backup.md, "Limits").

Drawing and reading the QR symbols is qr.py's; secret key backups are
shares.py's. This module is the only importer of base45.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import re
import secrets
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import base45

from ceremony.core import choices as _choices
from ceremony.core import diff as _diff
from ceremony.core import qr as _qr
from ceremony.core._fs import make_private_dir, sha256_hex, write_atomic_many
from ceremony.core._json import read_bytes
from ceremony.core._text import printable
from ceremony.errors import BackupError, UsageError

MAGIC = b"CRMY"
CONTAINER_VERSION = 1
QR_PREFIX = "CRMY1"
TEXT_HEADER = "ceremony backup text v1"
TEXT_LINE_BYTES = 30  # 48 base32 characters per line
DEFAULT_QR_BYTES = _choices.DEFAULT_QR_BYTES  # the CLI's default too, named where no library loads
_PART = re.compile(r"^CRMY1:([0-9A-F]{8}):([0-9]{1,4})/([0-9]{1,4}):([0-9A-F]{16}):([0-9A-F]{8}):(.*)$", re.DOTALL)
# Line numbers are written with at least four digits (six for the largest backups); ASCII only, so no
# other script's digits are read as numbers.
_TEXT_LINE = re.compile(r"^\s*([0-9]{4,6})\s+([a-z2-7]{1,48})\s+([0-9a-f]{8})\s*$", re.ASCII)
_CONTAINER_HEADER_BYTES = len(MAGIC) + 1 + 32 + 1  # magic, version, SHA-256, name length


# --------------------------------------------------------------------------- limits on what a restore reads
#
# A restore reads what someone else may have made. Each bound below is checked before the work it guards
# (reading, decompressing, decoding) and refused in one sentence naming the file and the bound; the bounds
# on images are in qr.py, on PDFs in _paper.py, and on key backups in shares.py. docs/backup.md ("Limits")
# lists them all with the same reasons.

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


#: A file name a backup may give: never a path. Restore writes to it, and a key backup manifest
#: (shares.py) names its encrypted key by it.
PLAIN_NAME = re.compile(r"[A-Za-z0-9._-]{1,200}")


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
    if not PLAIN_NAME.fullmatch(name) or name in (".", ".."):
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
    "file": PLAIN_NAME,
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


@dataclass(frozen=True)
class SheetText:
    """What a printed sheet says about its file, beyond the backup itself (recovery.py writes it)."""

    summary: list[str]  # what the file holds
    chain: list[str] = field(default_factory=list)  # why every root version is needed, and which this is
    words_label: str = ""  # what the numbered words cover (the digest read aloud at signing)
    words_digest: str = ""  # that digest, hex; no words are printed without it


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
        describe: callable(name, data) -> SheetText, what the printed sheet says about the file.
        created: the date printed on sheets.

    Raises:
        UsageError: unknown format or ECC level, or a file that needs more than MAX_PARTS parts.
        BackupError: a file larger than MAX_FILE_BYTES (it would not restore), or a drawn symbol that does
            not read back as its part.
        QrCapacityError: a part does not fit one symbol.
    """
    from ceremony.core import _paper

    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise UsageError(f"--formats: unknown {', '.join(sorted(unknown))}; choose from {', '.join(FORMATS)}")
    if ecc not in _qr.ECC_LEVELS:
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
        # Each part is encoded once, read back once (before any file is written), and every format is drawn
        # from that one symbol.
        images = [_qr.symbol(part.to_text(), ecc) for part in parts]
        _qr.check_reads(images)
        pending: dict[str, bytes] = {}  # one set's files, written together: one directory flush for them all
        if "files" in formats:
            pending[name] = data
            result.files.append(name)
        if "png" in formats:
            for part, image in zip(parts, images, strict=True):
                file = f"{stem}-part{part.index:02d}of{part.count:02d}.png"
                pending[file] = image.png()
                result.files.append(file)
        if "svg" in formats:
            for part, image in zip(parts, images, strict=True):
                file = f"{stem}-part{part.index:02d}of{part.count:02d}.svg"
                pending[file] = image.svg()
                result.files.append(file)
        fallback = text_fallback(name, set_id, container, digest)
        if "txt" in formats:
            pending[f"{stem}.txt"] = fallback.encode()
            result.files.append(f"{stem}.txt")
        if "pdf" in formats:
            text: SheetText = describe(name, data)
            # The words are those of the digest read aloud at signing, never of the file's hash: one word hash
            # per thing, so the keyholders' words and the sheet in the safe can be compared.
            words = _diff.digest_words(bytes.fromhex(text.words_digest)) if text.words_digest else ""
            for paper in ("a4", "letter"):
                file = f"{stem}-{paper}.pdf"
                pdf = _paper.backup_sheet(
                    paper=paper,
                    name=name,
                    set_id=set_id,
                    sha256=digest,
                    words=words,
                    summary=text.summary,
                    images=images,
                    fallback=fallback,
                    created=created,
                    words_label=text.words_label,
                    words_digest=text.words_digest,
                    chain=text.chain,
                )
                pending[file] = pdf
                result.files.append(file)
        write_atomic_many(out, pending)
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


def collect(
    inputs: Sequence[Path],
) -> tuple[dict[str, dict[int, Part]], dict[str, tuple[TextFallback, str]], list[str]]:
    """QR parts by set (from images and PDFs), text fallbacks by set, and inputs with no code.

    Every input is read once with one fast pass first; clean scans are done
    then. The slower passes (qr.decode_image) run only where they can still
    help: on inputs where the fast pass saw a symbol it could not read, and,
    if a set still lacks parts after that, on every input that showed a
    symbol. A page with no code is not an error by itself (the text pages of
    a printed sheet have none); it is named if parts turn out to be missing.

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

    def take(found: Sequence[str], source: str) -> bool:
        """Keep the parts among ``found``; True if any was a part (the same part again is read once)."""
        took = False
        for text in found:
            part = Part.from_text(text, source)
            if part is None:
                continue
            took = True
            existing = sets.get(part.set_id, {}).get(part.index)
            if existing is not None:
                # The same part again (the A4 and the Letter sheet, a page scanned twice, a whole backup
                # directory, a slower pass over a page): harmless, read once. A different one under its number is not.
                if (existing.count, existing.digest_prefix, existing.data) == (
                    part.count,
                    part.digest_prefix,
                    part.data,
                ):
                    continue
                raise BackupError(
                    f"part {part.index} of {part.count} of backup set {part.set_id} appears twice with different "
                    f"contents ({printable(existing.source)} and {printable(source)}); one of them is not this "
                    "backup's"
                )
            make_room(part.set_id, len(part.data), printable(source))
            sets.setdefault(part.set_id, {})[part.index] = part
        return took

    shown_symbols: list[tuple[Path, bool, bool]] = []  # (input, a symbol unread by the fast pass, a part read)
    paths = [Path(path) for path in inputs]
    # The fast pass, two inputs at a time and taken in input order; closed (the rest not read) on an error.
    with contextlib.closing(_qr.read_fast([path for path in paths if path.suffix.lower() != ".txt"])) as fast:
        for path in paths:
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
            found_any = doubtful = False
            for source, texts_read, complete in next(fast):
                doubtful = doubtful or not complete
                found_any = take(texts_read, source) or found_any
            if doubtful or found_any:
                shown_symbols.append((path, doubtful, found_any))
            else:
                unreadable.append(path.name)  # no symbol at all, not even one it cannot read: a text page
    # The slower passes only where they can still help: the inputs with a symbol the fast pass could not read,
    # then, if a set still lacks parts, every input that showed a symbol (a blurred one may hide beside the rest).
    for phase in ("doubtful", "every other"):
        if phase == "every other" and not _incomplete(sets, texts):
            break
        for path, doubtful, found_any in shown_symbols:
            if (phase == "doubtful") != doubtful:
                continue
            for source, image in _qr.images_of(path):
                found_any = take(_qr.decode_image(image, source), source) or found_any
            if phase == "doubtful" and not found_any:
                unreadable.append(path.name)
    return sets, texts, unreadable


def _incomplete(sets: dict[str, dict[int, Part]], texts: dict[str, tuple[TextFallback, str]]) -> bool:
    """A backup set some of whose QR parts are missing (and no text fallback for it)."""
    return any(
        set_id not in texts and len(parts) < max(p.count for p in parts.values()) for set_id, parts in sets.items()
    )


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
