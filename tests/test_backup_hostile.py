"""Hostile restore inputs: every bound refuses in one sentence, quickly, without a traceback or a warning.

Each test is a regression: the code before the bounds ran out of memory or time, printed a traceback or a
Python warning, hung on a FIFO, or accepted what it should refuse. The CLI runs under an address-space limit
so a regression fails the test instead of taking the machine's memory.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import resource
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from cryptography.hazmat.primitives.asymmetric import ed25519
from fpdf import FPDF
from PIL import Image
from securesystemslib.signer import SSlibKey

from ceremony.core import _paper, recovery
from ceremony.core import backup as _backup
from ceremony.core import qr as _qr
from ceremony.core import shares as _shares
from ceremony.errors import BackupError, InputFileError, UsageError
from tests.conftest import PASSPHRASE, one_line_error

MEMORY_LIMIT = 1536 * 1024 * 1024  # the CLI needs a few hundred MB; the old code needed gigabytes


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _cli(*args: str | os.PathLike[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The CLI as an operator runs it, with bounded memory and time (a hang fails the test, not the suite)."""
    return subprocess.run(
        [sys.executable, "-m", "ceremony", *map(str, args)],
        capture_output=True,
        text=True,
        input="",
        timeout=timeout,
        check=False,
        preexec_fn=_limit_memory,
    )


def _refused(result: subprocess.CompletedProcess[str], *fragments: str, code: int = 1) -> str:
    """Exactly one ``error:`` line, exit ``code``, no traceback, no Python warning; return the line."""
    line = one_line_error(result)
    assert result.returncode == code, result.stderr
    assert "Warning" not in result.stderr and "warnings.warn" not in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for fragment in fragments:
        assert fragment in line, line
    return line


def _container(name: str, data: bytes, compressed: bytes | None = None) -> bytes:
    """A container as pack() makes it, optionally with other compressed bytes."""
    encoded = name.encode()
    body = zlib.compress(data, 9) if compressed is None else compressed
    return _backup.MAGIC + bytes([1]) + hashlib.sha256(data).digest() + bytes([len(encoded)]) + encoded + body


def _zeros_bomb(megabytes: int) -> tuple[bytes, bytes]:
    """(compressed, sha256) of ``megabytes`` MiB of zeros, made without holding them."""
    compressor, digest, chunks = zlib.compressobj(9), hashlib.sha256(), []
    block = bytes(1 << 20)
    for _ in range(megabytes):
        digest.update(block)
        chunks.append(compressor.compress(block))
    chunks.append(compressor.flush())
    return b"".join(chunks), digest.digest()


def _text_file(path: Path, name: str, data: bytes, set_id: str = "0A0B0C0D") -> Path:
    path.write_text(_backup.text_fallback(name, set_id, _backup.pack(name, data), hashlib.sha256(data).hexdigest()))
    return path


def _png(width: int, height: int) -> bytes:
    """A tiny PNG file whose header claims ``width`` x ``height`` one-bit pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = zlib.compress(b"".join(b"\0" + bytes((width + 7) // 8) for _ in range(4)), 9)
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def _noise_png(flip: bool = False) -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((100, 100), 50).convert("L").save(buffer, format="PNG")
    data = buffer.getvalue()
    start = data.index(b"IDAT") + 10
    return data[:start] + bytes(b ^ 0xFF for b in data[start : start + 30]) + data[start + 30 :] if flip else data


def _blank_pdf(pages: int) -> bytes:
    pdf = FPDF()
    for _ in range(pages):
        pdf.add_page()
    return bytes(pdf.output())


# --------------------------------------------------------------------------- text fallbacks and containers


def test_text_fallback_claiming_a_hundred_million_lines(tmp_path: Path) -> None:
    claim = tmp_path / "claim.txt"
    claim.write_text(f"{_backup.TEXT_HEADER}\nfile: 1.root.json\nset: 1A2B3C4D\nsha256: {'0' * 64}\nlines: 100000000\n")
    assert claim.stat().st_size < 4096
    start = time.monotonic()
    _refused(_cli("restore", "--out", tmp_path / "r", claim), "100,000,000 lines", f"{_backup.MAX_TEXT_LINES:,}")
    assert time.monotonic() - start < 20
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("set: 1A2B3C4D\x1b[2J\nlines: 1", "'set:' is damaged"),
        ("set: " + "A" * 10_000 + "\nlines: 1", "'set:' is damaged"),
        ("file: ../../etc/passwd\nset: 1A2B3C4D\nlines: 1", "'file:' is damaged"),
        ("set: 1A2B3C4D\nsha256: nothex\nlines: 1", "'sha256:' is damaged"),
        ("set: 1A2B3C4D\nlines: 0", "announces 0 lines"),
        (f"set: 1A2B3C4D\nlines: {_backup.MAX_TEXT_LINES + 1}", "a backup has 1 to"),
    ],
)
def test_text_fallback_header_fields_are_bounded(header: str, expected: str) -> None:
    with pytest.raises(BackupError, match=expected.replace("(", r"\(")) as caught:
        _backup.parse_text_fallback(f"{_backup.TEXT_HEADER}\n{header}\nend\n", "typed.txt")
    assert "\x1b" not in str(caught.value) and len(str(caught.value)) < 300


def test_text_fallback_line_beyond_its_count(tmp_path: Path) -> None:
    text = _text_file(tmp_path / "t.txt", "1.root.json", b"{}").read_text()
    count = int(text.split("lines: ")[1].split()[0])
    extra = f"{count + 1:04d}"
    crc = zlib.crc32(f"{extra}aaaa".encode())
    with pytest.raises(BackupError, match=f"line {extra} is beyond the {count} lines"):
        _backup.parse_text_fallback(text.replace("\nend", f"\n{extra} aaaa {crc:08x}\nend"), "t.txt")


def test_text_fallback_header_must_match_its_lines(tmp_path: Path) -> None:
    text = _text_file(tmp_path / "t.txt", "1.root.json", b"{}").read_text()
    (tmp_path / "other.txt").write_text(text.replace("file: 1.root.json", "file: 2.root.json"))
    with pytest.raises(BackupError, match=r"header says file 2\.root\.json .*, but the lines hold 1\.root\.json"):
        _backup.restore([tmp_path / "other.txt"])


def test_zlib_bomb_stops_at_the_file_bound(tmp_path: Path) -> None:
    compressed, digest = _zeros_bomb(64)  # 64 MiB of zeros in 64 KB
    container = _backup.MAGIC + bytes([1]) + digest + bytes([11]) + b"1.root.json" + compressed
    with pytest.raises(BackupError, match=f"decompresses to more than {_backup.MAX_FILE_BYTES:,} bytes"):
        _backup.unpack(container, "bomb.txt")
    bomb = tmp_path / "bomb.txt"
    bomb.write_text(_backup.text_fallback("1.root.json", "0BADB0B0", container, digest.hex()))
    _refused(_cli("restore", "--out", tmp_path / "r", bomb), "decompresses to more than 5,000,000 bytes")
    assert not (tmp_path / "r").exists()


def test_file_bound_is_at_least_python_tufs_largest_metadata() -> None:
    from tuf.ngclient import UpdaterConfig

    config = UpdaterConfig()
    largest = max(config.root_max_length, config.snapshot_max_length, config.targets_max_length)
    assert _backup.MAX_FILE_BYTES >= largest >= 5_000_000
    # The largest file restores: its container fits, and so do its text lines.
    assert len(_backup.pack("targets.json", os.urandom(_backup.MAX_FILE_BYTES))) <= _backup.MAX_CONTAINER_BYTES
    assert _backup.MAX_TEXT_LINES * _backup.TEXT_LINE_BYTES >= _backup.MAX_CONTAINER_BYTES
    assert _qr.MAX_IMAGE_PIXELS < Image.MAX_IMAGE_PIXELS


@pytest.mark.parametrize(
    ("compressed", "expected"),
    [
        (zlib.compress(b"{}")[:-3], "cut off"),
        (zlib.compress(b"{}") + b"trailing", "8 bytes follow"),
    ],
)
def test_container_stream_must_be_whole(compressed: bytes, expected: str) -> None:
    with pytest.raises(BackupError, match=expected):
        _backup.unpack(_container("1.root.json", b"{}", compressed), "scan.png")


def test_names_from_a_backup_are_shown_escaped() -> None:
    with pytest.raises(BackupError) as caught:
        _backup.unpack(_container("\x1b[2Jroot.json", b"{}"), "scan\x1b]0;x.png")
    message = str(caught.value)
    assert "\x1b" not in message and "\\x1b[2Jroot.json" in message and "not a plain file name" in message


def test_restore_total_is_bounded(tmp_path: Path) -> None:
    size = _backup.MAX_FILE_BYTES - 1000
    count = _backup.MAX_RESTORE_BYTES // size + 1
    files = [_text_file(tmp_path / f"{i}.txt", f"{i}.targets.json", bytes(size), f"0000000{i:X}") for i in range(count)]
    with pytest.raises(BackupError, match=f"more than {_backup.MAX_RESTORE_BYTES:,} bytes"):
        _backup.restore(files)


def test_number_of_sets_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_backup, "MAX_SETS", 3)
    files = [_text_file(tmp_path / f"{i}.txt", f"{i}.root.json", b"{}", f"0000000{i}") for i in range(4)]
    with pytest.raises(BackupError, match="more than 3 backup sets"):
        _backup.collect(files)


def test_part_count_claims_stay_one_short_line() -> None:
    container = _backup.pack("1.root.json", b"{}")
    (part,) = _backup.split(container, 300)
    lone = _backup.Part(part.set_id, 1, _backup.MAX_PARTS, part.digest_prefix, part.data, "scan.png")
    with pytest.raises(BackupError, match=r"part\(s\) 2, 3, .*, 11 and 9988 more of 9999 missing") as caught:
        _backup.assemble({part.set_id: {1: lone}}, {})
    assert len(str(caught.value)) < 300
    assert _backup.Part.from_text(part.to_text().replace(":1/1:", ":1/10000:"), "scan.png") is None  # not ours
    with pytest.raises(BackupError, match="out of range"):
        _backup.Part.from_text(part.to_text().replace(":1/1:", ":0/0:"), "scan.png")


def test_export_refuses_what_restore_would(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="the most a backup restores"):
        _backup.export_files(
            [("targets.json", bytes(_backup.MAX_FILE_BYTES + 1))], tmp_path / "o", ["txt"], 300, "M", None, "today"
        )
    with pytest.raises(UsageError, match="raise --qr-bytes"):
        _backup.export_files([("targets.json", os.urandom(200_000))], tmp_path / "o", ["txt"], 16, "M", None, "today")
    assert not (tmp_path / "o").exists()


# --------------------------------------------------------------------------- scans and PDFs


def test_many_blank_pages_fail_fast(tmp_path: Path) -> None:
    many = tmp_path / "blank300.pdf"
    many.write_bytes(_blank_pdf(300))
    assert many.stat().st_size < 100_000
    start = time.monotonic()
    _refused(_cli("restore", "--out", tmp_path / "r", many), "300 pages is more than 100")
    assert time.monotonic() - start < 20
    # Within the page bound, each blank page costs one fast pass (the old code spent over a second on each).
    within = tmp_path / "blank40.pdf"
    within.write_bytes(_blank_pdf(40))
    start = time.monotonic()
    _refused(_cli("restore", "--out", tmp_path / "r", within), "no QR code could be read from blank40.pdf")
    assert time.monotonic() - start < 20


def test_a_page_without_any_symbol_costs_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = zxingcpp.read_barcodes

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs.get("binarizer"))
        return real(*args, **kwargs)

    monkeypatch.setattr(zxingcpp, "read_barcodes", counted)
    assert _qr.decode_image(Image.new("L", (1654, 2339), 255), "blank page") == []
    assert len(calls) == 1
    calls.clear()
    symbol = _qr.qr_image("CRMY1:HELLO", "M")
    assert _qr.decode_image(symbol, "symbol") == ["CRMY1:HELLO"]
    assert len(calls) > 1  # a page with a symbol still gets every pass


def _encrypted_pdf() -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica")
    pdf.cell(0, 10, "backup")
    pdf.set_encryption(owner_password="owner", user_password="user")
    return bytes(pdf.output())


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("garbage", "damaged or not a PDF"),
        ("empty", "damaged or not a PDF"),
        ("truncated", "damaged or not a PDF"),
        ("encrypted", "encrypted (password-protected)"),
        ("huge page", "renders to"),
    ],
)
def test_bad_pdfs_are_one_sentence(tmp_path: Path, kind: str, expected: str) -> None:
    sheet = _paper.backup_sheet(
        paper="a4",
        name="1.root.json",
        set_id="0A0B0C0D",
        sha256="0" * 64,
        words="words",
        summary=[],
        images=[_qr.symbol("CRMY1:X", "M")],
        fallback="",
        created="today",
    )
    huge = FPDF(unit="pt", format=(14400, 14400))
    huge.add_page()
    data = {
        "garbage": b"%PDF-1.7\n" + os.urandom(2000),
        "empty": b"",
        "truncated": sheet[: len(sheet) // 2],
        "encrypted": _encrypted_pdf(),
        "huge page": bytes(huge.output()),
    }[kind]
    pdf = tmp_path / "scan.pdf"
    pdf.write_bytes(data)
    with pytest.raises(InputFileError, match=re.escape(expected)):
        _backup.restore([pdf])


def test_encrypted_pdf_through_the_cli(tmp_path: Path) -> None:
    pdf = tmp_path / "locked.pdf"
    pdf.write_bytes(_encrypted_pdf())
    _refused(_cli("restore", "--out", tmp_path / "r", pdf), "locked.pdf: cannot read this PDF: it is encrypted")


@pytest.mark.parametrize("size", [(7000, 6000), (10000, 9000), (20000, 20000)])
def test_over_limit_png_is_refused_before_decoding(tmp_path: Path, size: tuple[int, int]) -> None:
    # Over our bound only; over Pillow's warning limit; over Pillow's error limit.
    scan = tmp_path / "scan.png"
    scan.write_bytes(_png(*size))
    with pytest.raises(InputFileError, match=f"{size[0]} x {size[1]} pixels is more than 36,000,000"):
        _backup.restore([scan])


def test_over_limit_images_through_the_cli(tmp_path: Path) -> None:
    png = tmp_path / "bomb.png"
    png.write_bytes(_png(10000, 9000))  # Pillow would warn (DecompressionBombWarning) on stderr
    _refused(_cli("restore", "--out", tmp_path / "r", png), "10000 x 9000 pixels")
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "white").save(buffer, format="JPEG")
    jpeg = bytearray(buffer.getvalue())
    frame = jpeg.index(b"\xff\xc0")
    jpeg[frame + 5 : frame + 9] = struct.pack(">HH", 20000, 20000)  # Pillow would raise DecompressionBombError
    (tmp_path / "bomb.jpg").write_bytes(bytes(jpeg))
    _refused(_cli("restore", "--out", tmp_path / "r", tmp_path / "bomb.jpg"), "20000 x 20000 pixels")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (_png(100, 100)[:20], "damaged PNG"),  # cut inside its header
        (_noise_png()[:-40], "damaged image"),  # cut inside its pixel data
        (_noise_png(flip=True), "damaged image"),  # its pixel data corrupted
        (b"\xff\xd8\xff\xe0" + bytes(40), "damaged JPEG"),  # no frame header
    ],
)
def test_damaged_images_are_one_sentence(tmp_path: Path, data: bytes, expected: str) -> None:
    scan = tmp_path / "scan.png"
    scan.write_bytes(data)
    with pytest.raises(InputFileError, match=expected):
        _backup.restore([scan])


def test_fifo_input_does_not_block(tmp_path: Path) -> None:
    for name in ("scan.png", "page.pdf"):
        os.mkfifo(tmp_path / name)
        _refused(_cli("restore", "--out", tmp_path / "r", tmp_path / name, timeout=30), name, "not a regular file")


def test_restore_into_a_directory_holding_a_fifo(tmp_path: Path) -> None:
    typed = _text_file(tmp_path / "t.txt", "targets.json", b"{}")  # not a root: no chain to verify first
    out = tmp_path / "out"
    out.mkdir()
    os.mkfifo(out / "targets.json")
    _refused(_cli("restore", "--out", out, typed, timeout=30), "targets.json: already exists", code=2)  # UsageError


# --------------------------------------------------------------------------- key backups


@pytest.fixture(scope="module")
def made_backup() -> tuple[_shares.KeyBackup, bytes]:
    """One real 2-of-3 key backup and its manifest, made once (encrypting a key costs a PBKDF2)."""
    private = ed25519.Ed25519PrivateKey.generate()
    backup = _shares.split_key(private, SSlibKey.from_crypto(private.public_key()).keyid, 3, 2)
    return backup, _shares.key_backup_manifest(backup, "root-1")


@pytest.fixture
def key_backup(made_backup: tuple[_shares.KeyBackup, bytes], tmp_path: Path) -> tuple[Path, list[Path], dict[str, Any]]:
    """A copy of the key backup to change: directory, two share files, manifest."""
    backup, manifest_bytes = made_backup
    directory = tmp_path / "kb"
    directory.mkdir()
    manifest = json.loads(manifest_bytes)
    (directory / manifest["encrypted_key"]).write_bytes(backup.encrypted)
    (directory / f"key-{backup.keyid[:16]}.json").write_bytes(manifest_bytes)
    shares = []
    for index, words in enumerate(backup.shares[:2]):
        shares.append(tmp_path / f"share{index}.txt")
        shares[-1].write_text(f"share: {words}\n")
    return directory, shares, manifest


def _write_manifest(directory: Path, manifest: dict[str, Any]) -> Path:
    (path,) = directory.glob("key-*.json")
    path.write_text(json.dumps(manifest))
    return path


FIELDS = ["type", "format", "keyid", "label", "threshold", "shares", "encrypted_key", "encrypted_key_sha256"]


@pytest.mark.parametrize("field", FIELDS[1:])  # without "type" it is not a manifest at all, as before
def test_manifest_field_missing(key_backup: tuple[Path, list[Path], dict[str, Any]], field: str) -> None:
    directory, shares, manifest = key_backup
    del manifest[field]
    _write_manifest(directory, manifest)
    with pytest.raises(InputFileError, match=f"missing {field}"):
        recovery.recover_private(directory, shares)


WRONG_TYPES = [(field, wrong) for field in ("format", "threshold", "shares") for wrong in (None, True, "3", [], {})] + [
    (field, wrong)
    for field in ("keyid", "label", "encrypted_key", "encrypted_key_sha256")
    for wrong in (None, True, 3, ["key.p12"], {})
]


@pytest.mark.parametrize(("field", "wrong"), WRONG_TYPES)
def test_manifest_field_of_the_wrong_type(
    key_backup: tuple[Path, list[Path], dict[str, Any]], field: str, wrong: Any
) -> None:
    directory, shares, manifest = key_backup
    manifest[field] = wrong
    _write_manifest(directory, manifest)
    with pytest.raises(InputFileError, match=f"field {field} must be"):
        recovery.recover_private(directory, shares)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("format", 2, "reads format 1"),
        ("keyid", "AB" * 32, "64 lowercase hex"),
        ("keyid", "ab", "64 lowercase hex"),
        ("encrypted_key_sha256", "0" * 63, "64 lowercase hex"),
        ("label", "", "printable characters"),
        ("label", "x" * 129, "printable characters"),
        ("label", "root-1\x1b[2J", "printable characters"),
        ("label", "root\u202e1", "printable characters"),
        ("threshold", 1, "need 2 <= threshold"),
        ("threshold", 4, "need 2 <= threshold"),
        ("shares", 17, "need 2 <= threshold"),
        ("threshold", 10**30, "need 2 <= threshold"),
    ],
)
def test_manifest_values_are_checked(
    key_backup: tuple[Path, list[Path], dict[str, Any]], field: str, value: Any, expected: str
) -> None:
    directory, shares, manifest = key_backup
    manifest[field] = value
    _write_manifest(directory, manifest)
    with pytest.raises(InputFileError, match=expected) as caught:
        recovery.recover_private(directory, shares)
    assert "\x1b" not in str(caught.value) and "\u202e" not in str(caught.value)


def test_manifest_unknown_field(key_backup: tuple[Path, list[Path], dict[str, Any]]) -> None:
    directory, shares, manifest = key_backup
    manifest["x-extra\x1b"] = 1
    _write_manifest(directory, manifest)
    with pytest.raises(InputFileError, match=r"unknown x-extra\\x1b"):
        recovery.recover_private(directory, shares)


@pytest.mark.parametrize(
    "name", ["../key.p12", "/etc/passwd", "sub/key.p12", "..", ".", ".hidden.p12", "key.json", "C:\\key.p12", ""]
)
def test_manifest_naming_a_path_is_refused(key_backup: tuple[Path, list[Path], dict[str, Any]], name: str) -> None:
    directory, shares, manifest = key_backup
    (directory.parent / "key.p12").write_bytes((directory / manifest["encrypted_key"]).read_bytes())
    manifest["encrypted_key"] = name
    _write_manifest(directory, manifest)
    with pytest.raises(InputFileError, match="not a plain file name"):
        recovery.recover_private(directory, shares)


def test_encrypted_key_through_a_symlink_is_refused(key_backup: tuple[Path, list[Path], dict[str, Any]]) -> None:
    directory, shares, manifest = key_backup
    real = directory.parent / "elsewhere.p12"
    (directory / manifest["encrypted_key"]).rename(real)
    (directory / manifest["encrypted_key"]).symlink_to(real)
    with pytest.raises(InputFileError, match="symbolic link"):
        recovery.recover_private(directory, shares)


def test_costly_key_derivation_is_refused_before_it_runs(key_backup: tuple[Path, list[Path], dict[str, Any]]) -> None:
    """An encrypted key asking for more PBKDF2 iterations than the bound is refused before any is run."""
    directory, shares, manifest = key_backup
    path = directory / manifest["encrypted_key"]
    ours = (600_000).to_bytes(3, "big")
    assert _shares.MAX_KDF_ITERATIONS + 1 < 1 << 23  # the same three-byte INTEGER, so the structure stays valid
    costly = path.read_bytes().replace(
        b"\x02\x03" + ours, b"\x02\x03" + (_shares.MAX_KDF_ITERATIONS + 1).to_bytes(3, "big")
    )
    assert costly != path.read_bytes()
    path.write_bytes(costly)
    manifest["encrypted_key_sha256"] = hashlib.sha256(costly).hexdigest()
    _write_manifest(directory, manifest)
    start = time.monotonic()
    with pytest.raises(BackupError, match=f"a number above {_shares.MAX_KDF_ITERATIONS:,}"):
        recovery.recover_private(directory, shares)
    assert time.monotonic() - start < 1.5  # six million PBKDF2 iterations would take longer


def test_a_real_key_backup_passes_every_check(
    made_backup: tuple[_shares.KeyBackup, bytes], key_backup: tuple[Path, list[Path], dict[str, Any]]
) -> None:
    """The bounds admit what backup-key writes (so the refusals above are not vacuous)."""
    from ceremony.core import keys

    assert keys.PBKDF2_ITERATIONS < _shares.MAX_KDF_ITERATIONS
    _shares.check_encrypted_key(made_backup[0].encrypted, "key.p12")
    directory, shares, manifest = key_backup
    _private, read = recovery.recover_private(directory, shares)
    assert read == manifest


@pytest.mark.parametrize(
    ("mangle", "expected"),
    [
        (lambda der: der + b"\0\0", "not one DER structure"),
        (
            lambda der: der.replace(bytes.fromhex("2a864886f70d01050c"), bytes.fromhex("2b0601040182da470b")),
            "algorithm",
        ),
        (lambda der: b"\x30\x80" + der[4:] + b"\0\0", "length"),
        (lambda der: os.urandom(200), ""),
    ],
)
def test_encrypted_key_structure_is_checked(
    made_backup: tuple[_shares.KeyBackup, bytes], mangle: Any, expected: str
) -> None:
    backup, _manifest = made_backup
    with pytest.raises(BackupError, match=f"not an encrypted key backup made by this tool.*{expected}"):
        _shares.check_encrypted_key(mangle(backup.encrypted), "key.p12")


def test_too_many_shares(tmp_path: Path) -> None:
    import shamir_mnemonic

    sixteen = shamir_mnemonic.generate_mnemonics(1, [(2, 16)], os.urandom(16), b"")[0]
    extra = shamir_mnemonic.generate_mnemonics(1, [(2, 2)], os.urandom(16), b"")[0][0]
    many = tmp_path / "shares.txt"
    many.write_text("".join(f"share: {words}\n" for words in [*sixteen, extra]))
    with pytest.raises(BackupError, match="more than 16 different shares"):
        _shares.share_texts_from([many])
    (tmp_path / "big.txt").write_bytes(b"share: " + b"a" * _shares.MAX_SHARE_FILE_BYTES)
    with pytest.raises(InputFileError, match="larger than"):
        _shares.share_texts_from([tmp_path / "big.txt"])


def test_restore_key_cli_refuses_a_manifest_missing_a_field(
    key_backup: tuple[Path, list[Path], dict[str, Any]], tmp_path: Path
) -> None:
    directory, shares, manifest = key_backup
    del manifest["threshold"]
    _write_manifest(directory, manifest)
    passphrase = tmp_path / "np"
    passphrase.write_text(PASSPHRASE + "\n")
    result = _cli(
        "restore-key", "--backup", directory, "--out", tmp_path / "k.p12", "--passphrase-file", passphrase, *shares
    )
    _refused(result, "missing threshold")
    assert not (tmp_path / "k.p12").exists()


def test_restore_key_cli_refuses_a_manifest_naming_a_path(
    key_backup: tuple[Path, list[Path], dict[str, Any]], tmp_path: Path
) -> None:
    directory, shares, manifest = key_backup
    manifest["encrypted_key"] = "../../../etc/hostname"
    _write_manifest(directory, manifest)
    passphrase = tmp_path / "np"
    passphrase.write_text(PASSPHRASE + "\n")
    result = _cli(
        "restore-key", "--backup", directory, "--out", tmp_path / "k.p12", "--passphrase-file", passphrase, *shares
    )
    _refused(result, "not a plain file name")


def test_restore_key_cli_with_a_fifo_share(key_backup: tuple[Path, list[Path], dict[str, Any]], tmp_path: Path) -> None:
    directory, shares, _manifest = key_backup
    os.mkfifo(tmp_path / "share.png")
    passphrase = tmp_path / "np"
    passphrase.write_text(PASSPHRASE + "\n")
    result = _cli(
        "restore-key",
        "--backup",
        directory,
        "--out",
        tmp_path / "k.p12",
        "--passphrase-file",
        passphrase,
        shares[0],
        tmp_path / "share.png",
        timeout=30,
    )
    _refused(result, "share.png: not a regular file")
