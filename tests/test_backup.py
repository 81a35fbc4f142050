"""Cold backup: export, restore from scans, printed pages and text, key shares, and drills."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import re
import shutil
import subprocess
from itertools import combinations
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import pkcs12
from PIL import Image, ImageFilter

from ceremony.core import backup as _backup
from ceremony.core import qr as _qr
from ceremony.core import shares as _shares
from tests.conftest import PASSPHRASE, VECTOR_DATES, CliRunner, _run, one_line_error
from tests.test_import import client_copy


@pytest.fixture(scope="module")
def five_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A workspace with a 3-of-5 root, exported once in every format."""
    top = tmp_path_factory.mktemp("five")
    pf = top / "pf"
    pf.write_text(PASSPHRASE + "\n")
    result = _run(
        "init",
        top / "ws",
        "--root-keys",
        "5",
        "--threshold",
        "3",
        "--key-type",
        "ecdsa-p256",
        "--passphrase-file",
        pf,
        "--yes",
    )
    assert result.returncode == 0, result.stderr
    result = _run("export", top / "ws", "--out", top / "out")
    assert result.returncode == 0, result.stderr
    return top / "ws", top / "out"


def _pngs(out: Path) -> list[Path]:
    return sorted(out.glob("*-part*.png"))


def _restore(cli: CliRunner, out: Path, inputs: list[Path]) -> tuple[int, str, str]:
    result = cli("restore", "--out", out, *inputs)
    return result.returncode, result.stdout, result.stderr


def test_export_writes_every_format(five_key: tuple[Path, Path]) -> None:
    ws, out = five_key
    names = sorted(p.name for p in out.iterdir())
    assert "1.root.json" in names
    assert (out / "1.root.json").read_bytes() == (ws / "metadata" / "1.root.json").read_bytes()
    pngs, svgs = _pngs(out), sorted(out.glob("*.svg"))
    assert len(pngs) >= 2 and len(svgs) == len(pngs)
    assert len(list(out.glob("*-a4.pdf"))) == 1 and len(list(out.glob("*-letter.pdf"))) == 1
    (txt,) = out.glob("*.txt")
    assert txt.read_text().startswith("ceremony backup text v1\n")
    # Each symbol carries its own header: format, set, part i of n, digest, checksum.
    texts = [_qr.decode_image(Image.open(p), p.name)[0] for p in pngs]
    headers = [t.split(":")[:6] for t in texts]
    assert {h[0] for h in headers} == {"CRMY1"} and len({h[1] for h in headers}) == 1
    assert sorted(h[2] for h in headers) == [f"{i}/{len(pngs)}" for i in range(1, len(pngs) + 1)]
    # Parts hold at most 300 payload bytes by default.
    assert all(len(_backup.Part.from_text(t, "x").data) <= 300 for t in texts)
    transcript = (ws / "transcript.jsonl").read_text().splitlines()
    assert json.loads(transcript[-1])["command"] == "export"


def test_restore_any_part_order_is_byte_identical(cli: CliRunner, five_key: tuple[Path, Path], tmp_path: Path) -> None:
    ws, out = five_key
    pngs = _pngs(out)
    for attempt, order in enumerate([list(reversed(pngs)), random.Random(7).sample(pngs, len(pngs))]):
        code, stdout, stderr = _restore(cli, tmp_path / f"r{attempt}", order)
        assert code == 0, stderr
        assert (tmp_path / f"r{attempt}" / "1.root.json").read_bytes() == (ws / "metadata" / "1.root.json").read_bytes()
        assert "root chain 1.root.json to version 1 verified" in stdout


def test_restore_from_text_fallback(cli: CliRunner, five_key: tuple[Path, Path], tmp_path: Path) -> None:
    ws, out = five_key
    code, _stdout, stderr = _restore(cli, tmp_path / "r", list(out.glob("*.txt")))
    assert code == 0, stderr
    assert (tmp_path / "r" / "1.root.json").read_bytes() == (ws / "metadata" / "1.root.json").read_bytes()


def test_pdfs_and_images_read_together_on_two_threads(five_key: tuple[Path, Path], tmp_path: Path) -> None:
    """The fast pass reads images two at a time; PDFs (PDFium is not thread-safe) never render concurrently, even
    when named as images. Before the lock, this crashed the process."""
    _ws, out = five_key
    (a4,) = out.glob("*-a4.pdf")
    (letter,) = out.glob("*-letter.pdf")
    inputs = []
    for index in range(3):
        for pdf in (a4, letter):
            disguised = tmp_path / f"{index}-{pdf.stem}.png"
            shutil.copyfile(pdf, disguised)
            inputs += [disguised, pdf]
    inputs += _pngs(out)
    for _ in range(3):
        sets, _texts, _unreadable = _backup.collect(inputs)
        ((_set_id, parts),) = sets.items()
        assert sorted(parts) == list(range(1, len(_pngs(out)) + 1))


def test_restore_from_pdf_printed_at_150_dpi(cli: CliRunner, five_key: tuple[Path, Path], tmp_path: Path) -> None:
    if shutil.which("pdftoppm") is None:
        pytest.fail("pdftoppm (Debian poppler-utils) is required; scripts/test installs it")
    ws, out = five_key
    for pdf in (*out.glob("*-a4.pdf"), *out.glob("*-letter.pdf")):
        pages = tmp_path / pdf.stem
        pages.mkdir()
        subprocess.run(["pdftoppm", "-r", "150", "-png", str(pdf), str(pages / "page")], check=True)
        code, _stdout, stderr = _restore(cli, tmp_path / f"r-{pdf.stem}", sorted(pages.glob("*.png")))
        assert code == 0, stderr
        assert (tmp_path / f"r-{pdf.stem}" / "1.root.json").read_bytes() == (
            ws / "metadata" / "1.root.json"
        ).read_bytes()
    # The PDF itself is an input too.
    code, _stdout, stderr = _restore(cli, tmp_path / "r-pdf", list(out.glob("*-a4.pdf")))
    assert code == 0, stderr


def _degrade(image: Image.Image, how: str, seed: int) -> Image.Image:
    image = image.convert("L")
    if how == "blur":
        return image.filter(ImageFilter.GaussianBlur(radius=2))
    if how == "rotate":
        return image.rotate(3, resample=Image.BICUBIC, expand=True, fillcolor=255)
    if how == "noise":
        noise = Image.effect_noise(image.size, 60).convert("L")
        return Image.blend(image, noise, 0.25)
    if how == "phone":  # all of it: blur, a tilt, noise, then a cheap JPEG
        tilted = image.filter(ImageFilter.GaussianBlur(radius=1.2)).rotate(
            -2.5, resample=Image.BICUBIC, expand=True, fillcolor=235
        )
        noisy = Image.blend(tilted, Image.effect_noise(tilted.size, 50).convert("L"), 0.2)
        return noisy
    return image


@pytest.mark.parametrize("how", ["blur", "rotate", "noise", "jpeg40", "phone"])
def test_restore_from_degraded_scans(cli: CliRunner, five_key: tuple[Path, Path], tmp_path: Path, how: str) -> None:
    ws, out = five_key
    scans = []
    for index, png in enumerate(_pngs(out)):
        image = _degrade(Image.open(png), how, index)
        path = tmp_path / f"scan{index}.jpg"
        image.convert("RGB").save(path, format="JPEG", quality=40 if how in ("jpeg40", "phone") else 85)
        scans.append(path)
    code, _stdout, stderr = _restore(cli, tmp_path / "r", scans)
    assert code == 0, stderr
    assert (tmp_path / "r" / "1.root.json").read_bytes() == (ws / "metadata" / "1.root.json").read_bytes()


def test_missing_part_is_named(cli: CliRunner, five_key: tuple[Path, Path], tmp_path: Path) -> None:
    _ws, out = five_key
    pngs = _pngs(out)
    line = one_line_error(cli("restore", "--out", tmp_path / "r", *pngs[:1], *pngs[2:]))
    assert f"part(s) 2 of {len(pngs)} missing" in line
    assert not (tmp_path / "r").exists()


def test_part_from_another_set_is_named(cli: CliRunner, five_key: tuple[Path, Path], tmp_path: Path) -> None:
    ws, out = five_key
    other = tmp_path / "other"
    assert cli("export", ws, "--out", other, "--formats", "png").returncode == 0
    pngs = _pngs(out)
    foreign = _pngs(other)[1]
    line = one_line_error(cli("restore", "--out", tmp_path / "r", pngs[0], foreign, *pngs[2:]))
    assert "belongs to another backup set" in line and foreign.name in line


def test_duplicate_part_is_named(cli: CliRunner, five_key: tuple[Path, Path], tmp_path: Path) -> None:
    """The same part twice (a page scanned twice) is read once; a forged twin is named (a whole backup directory,
    PDFs and all: tests/test_tui_journeys.py)."""
    ws, out = five_key
    pngs = _pngs(out)
    copy = tmp_path / "copy.png"
    shutil.copy(pngs[0], copy)
    again = cli("restore", "--out", tmp_path / "r", *pngs, copy)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "r" / "1.root.json").read_bytes() == (ws / "metadata" / "1.root.json").read_bytes()
    with Image.open(pngs[0]) as image:
        text = _qr.decode_image(image.convert("L"), "part 1")[0]
    part = _backup.Part.from_text(text, "part 1")
    assert part is not None
    twin = dataclasses.replace(part, data=bytes(b ^ 0x55 for b in part.data))  # the same number, other bytes
    _qr.qr_image(twin.to_text(), "L").save(tmp_path / "twin.png")
    line = one_line_error(cli("restore", "--out", tmp_path / "t", *pngs, tmp_path / "twin.png"))
    assert "part 1 of" in line and "appears twice with different contents" in line and "twin.png" in line


def test_corrupted_part_is_named(cli: CliRunner, five_key: tuple[Path, Path], tmp_path: Path) -> None:
    _ws, out = five_key
    pngs = _pngs(out)
    text = _qr.decode_image(Image.open(pngs[1]), "x")[0]
    *fields, data = text.split(":", 5)  # base45 data may itself contain ':'
    flipped = ":".join(fields) + ":" + data[:10] + ("A" if data[10] != "A" else "B") + data[11:]
    bad = tmp_path / "bad.png"
    _qr.qr_image(flipped, "M").save(bad)
    line = one_line_error(cli("restore", "--out", tmp_path / "r", pngs[0], bad, *pngs[2:]))
    assert "part 2 of" in line and "corrupted" in line


def test_bad_text_line_is_named(cli: CliRunner, five_key: tuple[Path, Path], tmp_path: Path) -> None:
    _ws, out = five_key
    (txt,) = out.glob("*.txt")
    lines = txt.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("0005 "))
    number, data, crc = lines[index].split()
    lines[index] = f"{number} {data[:5]}{'a' if data[5] != 'a' else 'b'}{data[6:]} {crc}"
    typed = tmp_path / "typed.txt"
    typed.write_text("\n".join(lines) + "\n")
    line = one_line_error(cli("restore", "--out", tmp_path / "r", typed))
    assert "line 0005 has a bad checksum" in line


def test_qr_capacity_error(cli: CliRunner, five_key: tuple[Path, Path], tmp_path: Path) -> None:
    ws, _out = five_key
    line = one_line_error(cli("export", ws, "--out", tmp_path / "o", "--qr-bytes", "3000", "--ecc", "H"))
    assert "do not fit one QR symbol" in line


def test_newest_sigstore_root_restores(cli: CliRunner, vectors: Path, tmp_path: Path) -> None:
    source = vectors / "sigstore-root-signing"
    metadata = client_copy(vectors, "sigstore-root-signing", tmp_path / "src")
    result = cli("import", tmp_path / "ws", "--from", metadata, "--at", VECTOR_DATES["sigstore-root-signing"])
    assert result.returncode == 0, result.stderr
    result = cli(
        "export", tmp_path / "ws", "--out", tmp_path / "out", "--versions", "latest", "--formats", "png,txt,pdf"
    )
    assert result.returncode == 0, result.stderr
    pngs = _pngs(tmp_path / "out")
    assert 4 <= len(pngs) <= 12
    code, stdout, stderr = _restore(cli, tmp_path / "r", random.Random(3).sample(pngs, len(pngs)))
    assert code == 0, stderr
    assert (tmp_path / "r" / "15.root.json").read_bytes() == (source / "15.root.json").read_bytes()
    assert "to version 15 verified" in stdout


# --------------------------------------------------------------------------- the sheet, read as the person who stores it


def _sheet_text(pdf: Path) -> list[str]:
    """Each page's text as a reader sees it, whitespace collapsed."""
    import pypdfium2

    document = pypdfium2.PdfDocument(pdf)
    try:
        return [" ".join(page.get_textpage().get_text_range().split()) for page in document]
    finally:
        document.close()


def test_sheet_numbers_its_words_pages_and_versions(five_key: tuple[Path, Path]) -> None:
    from mnemonic import Mnemonic
    from securesystemslib.formats import encode_canonical

    from ceremony import __version__

    ws, out = five_key
    (pdf,) = out.glob("*-a4.pdf")
    pages = _sheet_text(pdf)
    text = " ".join(pages)
    assert all(f"page {n} of {len(pages)}" in page for n, page in enumerate(pages, start=1))
    assert (
        "Every root version from 1 to the newest is needed: a client that trusts an older root walks the chain" in text
    )
    assert "This sheet is root version 1 of 1; this export holds version 1 only." in text
    assert f"install kit or its source repository, version {__version__}" in text and "pip install" not in text
    # The words are those read aloud at signing: SHA-256 of the canonical signed part (what the signatures
    # cover), computed here with securesystemslib's encoder, not ceremony's.
    signed = json.loads((ws / "metadata" / "1.root.json").read_bytes())["signed"]
    digest = hashlib.sha256(encode_canonical(signed).encode()).digest()
    section = text.split("Words read aloud at signing: SHA-256 of the signed part of root v1", 1)[1].split("QR codes")[
        0
    ]
    assert " ".join(digest.hex()[i : i + 16] for i in range(0, 64, 16)) in section
    numbered = re.findall(r"(\d+)\. ([a-z]+)", section)
    assert [int(n) for n, _w in numbered] == list(range(1, 25))
    assert " ".join(w for _n, w in numbered) == Mnemonic("english").to_mnemonic(digest)
    # The file's own hash, separately and named as such.
    file_sha = hashlib.sha256((ws / "metadata" / "1.root.json").read_bytes()).hexdigest()
    assert f"SHA-256 of the file 1.root.json (the file's hash, for restore checks) {_grouped(file_sha)}" in text


def _grouped(digest: str) -> str:
    return " ".join(digest[i : i + 16] for i in range(0, 64, 16))


def test_the_sheet_restores_without_ceremony_by_its_own_recipe(five_key: tuple[Path, Path]) -> None:
    """Follow the sheet's "Restore without the tool" literally: zxing-cpp, base45, base64, zlib, hashlib only."""
    import base64
    import zlib

    import base45
    import pypdfium2
    import zxingcpp

    ws, out = five_key
    (pdf,) = out.glob("*-a4.pdf")
    text = " ".join(_sheet_text(pdf))
    recipe = text.split("Restore without the tool", 1)[1]
    for step in (
        "CRMY1:SET:I/N:PREFIX:CRC:DATA",
        "base45 (RFC 9285)",
        "DATA is everything after the fifth colon",
        "base32 (RFC 4648",
        "bytes 0-3 are 'CRMY', byte 4 the format version (1), bytes 5-36 the SHA-256 of the file, byte 37 the length",
        "compressed with zlib",
    ):
        assert step in recipe, step
    set_id = re.search(r"Backup set ([0-9A-F]{8})", text).group(1)  # type: ignore[union-attr]
    file_sha = "".join(re.search(r"for restore checks\) ((?:[0-9a-f]{16} ?){4})", text).group(1).split())  # type: ignore[union-attr]

    def open_container(container: bytes) -> tuple[str, bytes]:
        assert container[0:4] == b"CRMY" and container[4] == 1
        length = container[37]
        name = container[38 : 38 + length].decode("utf-8")
        data = zlib.decompress(container[38 + length :])
        assert hashlib.sha256(data).hexdigest() == file_sha == container[5:37].hex()
        return name, data

    # A. The QR codes, read from the printed pages by any reader.
    document = pypdfium2.PdfDocument(pdf)
    texts = [
        code.text
        for page in document
        for code in zxingcpp.read_barcodes(page.render(scale=200 / 72, grayscale=True).to_pil())
    ]
    document.close()
    parts = {}
    for line in texts:
        magic, set_, i_of_n, prefix, crc, data = line.split(":", 5)
        assert magic == "CRMY1" and set_ == set_id
        part = base45.b45decode(data)
        assert zlib.crc32(part) == int(crc, 16)
        index, count = map(int, i_of_n.split("/"))
        parts[index] = part
    assert sorted(parts) == list(range(1, count + 1))
    container = b"".join(parts[i] for i in range(1, count + 1))
    assert hashlib.sha256(container).hexdigest().upper().startswith(prefix)
    name, data = open_container(container)
    assert name == "1.root.json" and data == (ws / "metadata" / "1.root.json").read_bytes()
    # B. The text fallback, as typed back in.
    (txt,) = out.glob("*.txt")
    chunks = []
    for line in txt.read_text().splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[0].isdigit():
            number, encoded, crc = fields
            assert zlib.crc32(f"{number}{encoded}".encode()) == int(crc, 16)
            chunks.append((int(number), base64.b32decode(encoded.upper() + "=" * (-len(encoded) % 8))))
    assert open_container(b"".join(chunk for _n, chunk in sorted(chunks))) == (name, data)


def test_restore_names_each_hash_it_prints(cli: CliRunner, five_key: tuple[Path, Path], tmp_path: Path) -> None:
    from ceremony.core import recovery

    ws, out = five_key
    (restored,) = recovery.restore_to(list(out.glob("*.txt")), tmp_path / "r").restored
    lines = recovery.describe_restored(restored)
    file_sha = hashlib.sha256((ws / "metadata" / "1.root.json").read_bytes()).hexdigest()
    assert lines[1] == f"  SHA-256 of the file 1.root.json (compare with the sheet's file hash): {file_sha}"
    assert lines[2].startswith("  words read aloud at signing (SHA-256 of the signed part of root v1): ")
    assert len(lines[2].split(": ", 1)[1].split()) == 24


# --------------------------------------------------------------------------- key shares


@pytest.fixture(scope="module")
def key_backup(five_key: tuple[Path, Path]) -> tuple[Path, Path]:
    ws, out = five_key
    pf = ws.parent / "pf"
    result = _run(
        "backup-key", ws, "root-2", "--shares", "3", "--threshold", "2", "--out", out / "keys", "--passphrase-file", pf
    )
    assert result.returncode == 0, result.stderr
    return ws, out / "keys"


def test_each_share_sheet_holds_one_share(key_backup: tuple[Path, Path]) -> None:
    _ws, kb = key_backup
    sheets = sorted(kb.glob("*-share-*.pdf"))
    assert len(sheets) == 3
    seen = []
    for sheet in sheets:
        shares = _shares.share_texts_from([sheet])
        assert len(shares) == 1, sheet.name  # its own share's QR, and no other
        seen += shares
    assert len(set(seen)) == 3 and all(len(s.split()) == 20 for s in seen)


def test_every_pair_of_shares_restores(cli: CliRunner, key_backup: tuple[Path, Path], tmp_path: Path) -> None:
    ws, kb = key_backup
    config = json.loads((ws / "ceremony.json").read_bytes())
    (keyid,) = [k for k, e in config["keys"].items() if e["label"] == "root-2"]
    new = tmp_path / "np"
    new.write_text("a new keyholder passphrase\n")
    for a, b in combinations(sorted(kb.glob("*-share-*.pdf")), 2):
        out = tmp_path / f"{a.stem[-4:]}-{b.stem[-4:]}.p12"
        result = cli("restore-key", "--backup", kb, "--out", out, "--passphrase-file", new, a, b)
        assert result.returncode == 0, result.stderr
        private, _, _ = pkcs12.load_key_and_certificates(out.read_bytes(), b"a new keyholder passphrase")
        from securesystemslib.signer import SSlibKey

        assert SSlibKey.from_crypto(private.public_key()).keyid == keyid
        # Never written unencrypted.
        assert b"PRIVATE KEY" not in out.read_bytes()
        with pytest.raises(ValueError):
            pkcs12.load_key_and_certificates(out.read_bytes(), None)


def test_one_share_alone_fails(cli: CliRunner, key_backup: tuple[Path, Path], tmp_path: Path) -> None:
    _ws, kb = key_backup
    new = tmp_path / "np"
    new.write_text("a new keyholder passphrase\n")
    one = sorted(kb.glob("*-share-*.pdf"))[0]
    line = one_line_error(
        cli("restore-key", "--backup", kb, "--out", tmp_path / "k.p12", "--passphrase-file", new, one)
    )
    assert "1 share given; any 2 of 3 are needed" in line
    assert not (tmp_path / "k.p12").exists()


def test_shares_as_typed_words(cli: CliRunner, key_backup: tuple[Path, Path], tmp_path: Path) -> None:
    _ws, kb = key_backup
    files = []
    for index, sheet in enumerate(sorted(kb.glob("*-share-*.pdf"))[1:]):
        words = _shares.share_texts_from([sheet])[0]
        path = tmp_path / f"share{index}.txt"
        path.write_text(f"share: {words}\n")
        files.append(path)
    new = tmp_path / "np"
    new.write_text("a new keyholder passphrase\n")
    result = cli("restore-key", "--backup", kb, "--out", tmp_path / "k.p12", "--passphrase-file", new, *files)
    assert result.returncode == 0, result.stderr


def test_drill_with_both_kinds_of_backup(cli: CliRunner, key_backup: tuple[Path, Path]) -> None:
    ws, kb = key_backup
    result = cli("drill", ws, "--backup", kb.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "drill PASSED" in result.stdout
    (report_file,) = sorted((ws / "drills").glob("drill-*.json"))[-1:]
    report = json.loads(report_file.read_bytes())
    assert report["passed"] is True
    names = [c["name"] for c in report["checks"]]
    assert any("from qr" in n for n in names) and any("from text" in n for n in names)
    assert any(n.startswith("key backup") for n in names)
    assert all(c["passed"] and c["seconds"] >= 0 for c in report["checks"])
    assert cli("transcript", "verify", ws).returncode == 0
    assert json.loads((ws / "transcript.jsonl").read_text().splitlines()[-1])["command"] == "drill"


def test_drill_fails_on_a_damaged_backup(cli: CliRunner, five_key: tuple[Path, Path], tmp_path: Path) -> None:
    ws, out = five_key
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for png in _pngs(out)[1:]:
        shutil.copy(png, damaged)
    result = cli("drill", ws, "--backup", damaged)
    assert result.returncode == 1
    assert "drill FAILED" in result.stdout and "missing" in result.stdout


def test_token_keys_are_not_exported(cli: CliRunner, tmp_path: Path, passphrase_file: Path) -> None:
    from tests.softhsm import new_softhsm

    hsm = new_softhsm(tmp_path / "softhsm")
    hsm.make_token("root-1")
    keygen = cli(
        "hsm",
        "keygen",
        "--token",
        hsm.uri("root-1", pin=False),
        "--label",
        "k",
        "--pin-file",
        hsm.pin_file,
        env=hsm.env,
    )
    assert keygen.returncode == 0, keygen.stderr
    result = cli(
        "init",
        tmp_path / "ws",
        "--root-key",
        hsm.uri("root-1", key="k"),
        "--root-key",
        "ed25519",
        "--threshold",
        "1",
        "--passphrase-file",
        passphrase_file,
        "--yes",
        env=hsm.env,
    )
    assert result.returncode == 0, result.stderr
    line = one_line_error(
        cli(
            "backup-key",
            tmp_path / "ws",
            "root-1",
            "--shares",
            "3",
            "--threshold",
            "2",
            "--out",
            tmp_path / "kb",
            env=hsm.env,
        )
    )
    assert "lives on a token and cannot be exported" in line and "k-of-n independent keys" in line


def test_a_backup_that_names_a_path_is_refused(tmp_path: Path) -> None:
    """The container's file name decides where restore writes: a path, absolute or with .., is refused."""
    for name in ("../../escaped.txt", "/etc/passwd", "..", "a/b.json"):
        container = _backup.pack(name, b"{}")
        with pytest.raises(_backup.BackupError, match="not a plain file name"):
            _backup.unpack(container, "scan.png")
    assert _backup.unpack(_backup.pack("3.root.json", b"{}"), "scan.png") == ("3.root.json", b"{}")


def test_share_secrets_stay_out_of_reprs_and_errors() -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    backup = _shares.split_key(ed25519.Ed25519PrivateKey.generate(), "ab" * 32, 3, 2)
    assert not any(word in repr(backup) for share in backup.shares for word in share.split()[:6])
    mistyped = backup.shares[0].split()
    mistyped[5] = "zzzzqqq"
    with pytest.raises(_backup.BackupError) as caught:
        _shares.combine_key([" ".join(mistyped), backup.shares[1]], backup.encrypted, "typed shares")
    message = str(caught.value)
    assert "do not combine" in message
    # Whole words: a share word such as "type" is a substring of the message's own "typed shares".
    shown = set(re.findall(r"[a-z]+", message.lower()))
    assert not any(word in shown for word in [*mistyped, *backup.shares[1].split()] if len(word) > 3)


def test_a_long_label_leaves_page_numbers_on_every_page(tmp_path: Path) -> None:
    """The footer of a key-share sheet carries the key's label: one of the 128 characters a label may have must
    not push "page N of M" (what puts loose pages back in order) off the page. The long unbroken word is
    cut across lines (measuring each prefix anew once made 5,000 characters take 20 seconds)."""
    from ceremony.core import _paper
    from ceremony.core import qr as _qr

    label = "W" * 128
    pdf = _paper.share_sheet(
        paper="a4", label=label, keyid="ab" * 32, index=1, count=3, threshold=2, words="word " * 5000 + "x" * 4000,
        qr=_qr.symbol("CRMY1 TEST", "M"), created="2026-12-02",
    )  # fmt: skip
    (tmp_path / "share.pdf").write_bytes(pdf)
    pages = _sheet_text(tmp_path / "share.pdf")
    assert len(pages) > 1
    for number, text in enumerate(pages, start=1):
        assert f"page {number} of {len(pages)}" in text
        assert "ceremony key share 1 of 3 for WWW" in text
