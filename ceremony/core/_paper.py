"""Printable sheets (fpdf2) and reading PDFs back as images (pypdfium2).

The only importer of fpdf2 and pypdfium2. Sheets use the PDF core fonts
(Helvetica, Courier), so every string is reduced to Latin-1 first: a sheet
must print on any printer without embedded fonts.

A PDF given to restore may have been made by anyone: its page count and each
page's size are checked before anything is rendered, pages are rendered one at
a time, and PDFium's refusals (damaged, encrypted) become one sentence.
"""

from __future__ import annotations

import io
import math
from collections.abc import Generator
from typing import Any

import pypdfium2
from fpdf import FPDF

from ceremony import __version__
from ceremony.core._text import plural
from ceremony.errors import InputFileError

#: Pages read from one PDF. A backup sheet is three or four pages (the newest Sigstore root: 3 on A4, 4 on
#: Letter), so 100 pages are a scanned stack of some 25 sheets; a larger stack can be given as several PDFs. A blank page
#: costs about 40 ms here, so a PDF of nothing but blank pages is refused or read within seconds.
MAX_PDF_PAGES = 100
#: Resolution pages are rendered at: the sheets' QR codes get about 7 pixels per module, more than the
#: 5.5 a 150-dpi scan gives them.
RENDER_DPI = 200

PAPER = {"a4": (210.0, 297.0), "letter": (215.9, 279.4)}
MARGIN = 15.0
QR_SIZE = 75.0  # mm: at 150 dpi a version-15 symbol gets about 5.5 pixels per module, enough to survive blur
GAP = 6.0


def _latin1(text: str) -> str:
    """Core PDF fonts are Latin-1 only."""
    return text.replace("\u2014", "-").replace("\u2192", "->").encode("latin-1", "replace").decode("latin-1")


class _Sheet(FPDF):
    """A page setup with a footer naming the sheet, so loose pages can be put back in order."""

    def __init__(self, paper: str, footer: str) -> None:
        width, height = PAPER[paper]
        super().__init__(unit="mm", format=(width, height))
        self.footer_text = _latin1(footer)
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(True, margin=MARGIN + 5)

    def footer(self) -> None:
        self.set_y(-MARGIN)
        self.set_font("Helvetica", size=7)
        # {nb} is fpdf2's alias for the page count, filled in when the document is written.
        self.cell(0, 5, f"{self.footer_text} - page {self.page_no()} of {{nb}}", align="C")

    def paragraph(
        self, value: str, size: float = 9, style: str = "", font: str = "Helvetica", height: float = 4.5
    ) -> None:
        self.set_font(font, style=style, size=size)
        self.multi_cell(0, height, _latin1(value), new_x="LMARGIN", new_y="NEXT")

    def heading(self, value: str) -> None:
        self.ln(2)
        self.paragraph(value, size=11, style="B", height=6)


def _png(image: Any) -> io.BytesIO:
    """A PIL image as an in-memory PNG for fpdf2."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    buffer.seek(0)
    return buffer


def _qr_grid(pdf: _Sheet, images: list[Any], caption: str) -> None:
    """QR codes in a grid, each captioned with its part number."""
    usable = pdf.w - 2 * MARGIN
    columns = max(1, int((usable + GAP) // (QR_SIZE + GAP)))
    rows = math.ceil(len(images) / columns)
    for row in range(rows):
        if pdf.get_y() + QR_SIZE + 8 > pdf.h - MARGIN - 5:
            pdf.add_page()
        top = pdf.get_y()
        for column in range(columns):
            index = row * columns + column
            if index >= len(images):
                break
            x = MARGIN + column * (QR_SIZE + GAP)
            pdf.image(_png(images[index]), x=x, y=top, w=QR_SIZE, h=QR_SIZE)
            pdf.set_xy(x, top + QR_SIZE)
            pdf.set_font("Helvetica", size=8)
            pdf.cell(QR_SIZE, 4, _latin1(caption.format(i=index + 1, n=len(images))), align="C")
        pdf.set_xy(MARGIN, top + QR_SIZE + 6)


def _numbered_words(pdf: _Sheet, words: str, per_line: int = 4) -> None:
    """Words numbered from 1, a few to a line, so each can be read aloud and checked by its number."""
    listed = words.split()
    for start in range(0, len(listed), per_line):
        pdf.paragraph(
            "   ".join(f"{n + 1:>2}. {w:<10}" for n, w in enumerate(listed[start : start + per_line], start=start)),
            font="Courier",
            size=10,
            height=5.5,
        )


def _hex_groups(digest: str) -> str:
    """A hex digest in groups of 16, to read and compare in pieces."""
    return "  ".join(digest[i : i + 16] for i in range(0, len(digest), 16))


def restore_recipe(name: str, set_id: str) -> str:
    """How to restore this sheet's file with no ceremony tool: its exact format, step by step.

    It must stay true to backup.py's container, QR text and text fallback
    (tests/test_backup.py follows it literally, without ceremony's code).
    """
    return (
        "A. From the QR codes. Read every QR code of this sheet with any QR reader (for example "
        "zbarimg --raw -q FILE). Each reads as one line: CRMY1:SET:I/N:PREFIX:CRC:DATA, where SET is "
        f"this sheet's backup set ({set_id}), I/N says part I of N, PREFIX is the first 16 hex digits of the "
        "SHA-256 of the container (below), CRC is the CRC-32 of this part's bytes in hex and DATA is the part's "
        "bytes in base45 (RFC 9285). Strip the prefix: DATA is everything after the fifth colon, spaces and "
        "colons included (both are base45 characters). Base45-decode each DATA, check its CRC-32, and join the "
        "parts in order, 1 to N: that is the container; its SHA-256 begins with PREFIX.\n"
        "B. From the text fallback. Each line after the header is NNNN DATA CRC: DATA is the next 30 bytes of "
        "the container in base32 (RFC 4648, written in lower case without the '=' padding: add '=' up to a "
        "multiple of 8 characters before decoding), and CRC is the CRC-32, in hex, of the line number and data "
        "as written (for example '0001' followed by DATA). Decode the lines in number order and join them: the "
        "same container.\n"
        "C. The container, counting bytes from 0: bytes 0-3 are 'CRMY', byte 4 the format version (1), bytes "
        "5-36 the SHA-256 of the file, byte 37 the length L of the file name, the next L bytes the name (UTF-8, "
        f"here {name}), and the rest, to the end, the file compressed with zlib (RFC 1950; in Python "
        "zlib.decompress). Decompress it and check that its SHA-256 is the file's SHA-256 printed on this sheet "
        "(and bytes 5-36); save it under its name. Verify the restored root versions with a TUF client (or, for "
        "Docker Content Trust, notary) before trusting them."
    )


def _signoff(pdf: _Sheet) -> None:
    """A box for the people who made, checked and stored the backup."""
    pdf.heading("Sign-off")
    if pdf.get_y() + 45 > pdf.h - MARGIN - 5:
        pdf.add_page()
    labels = [
        "Date (UTC)",
        "Administrator (name, signature)",
        "Witness (name, signature)",
        "Test restore done (yes / no, by whom)",
        "Where stored (place, bag serial)",
    ]
    pdf.set_font("Helvetica", size=9)
    for label in labels:
        y = pdf.get_y()
        pdf.rect(MARGIN, y, pdf.w - 2 * MARGIN, 8)
        pdf.set_xy(MARGIN + 2, y + 1.5)
        pdf.cell(0, 5, label)
        pdf.set_xy(MARGIN, y + 8)


def backup_sheet(
    *,
    paper: str,
    name: str,
    set_id: str,
    sha256: str,
    words: str,
    summary: list[str],
    images: list[Any],
    fallback: str,
    created: str,
    words_label: str = "",
    words_digest: str = "",
    chain: list[str] | None = None,
) -> bytes:
    """The printable backup of one file: what it holds, which root version it is, its two hashes, QR codes,
    how to restore it with the tool and without, the text fallback and a sign-off.

    Args:
        words: the words of ``words_digest`` (the digest read aloud at signing), numbered on the sheet.
        words_label: what that digest covers, e.g. "SHA-256 of the signed part of root v3".
        sha256: the SHA-256 of the exact file, the one a restore checks.
        chain: why every root version is needed, and which version this sheet is.
    """
    pdf = _Sheet(paper, f"ceremony backup {name} set {set_id}")
    pdf.add_page()
    pdf.paragraph(f"TUF metadata backup: {name}", size=15, style="B", height=8)
    pdf.paragraph(
        f"Made {created} by ceremony {__version__}. Backup set {set_id}, {plural(len(images), 'QR code')}. "
        "Signed metadata is public: this sheet protects integrity, not secrecy.",
        size=8,
    )
    pdf.heading("What this backup holds")
    for line in summary:
        pdf.paragraph(line, size=9, height=4.2)
    if chain:
        pdf.heading("Every root version is needed")
        for line in chain:
            pdf.paragraph(line, size=9, height=4.2)
    pdf.heading(f"SHA-256 of the file {name} (the file's hash, for restore checks)")
    pdf.paragraph(_hex_groups(sha256), font="Courier", size=9)
    if words and words_label:
        pdf.heading(f"Words read aloud at signing: {words_label}")
        pdf.paragraph(
            f"{_hex_groups(words_digest)}\nThe same digest as 24 BIP-39 words, as the review before signing showed "
            "them (for a change that signed this file alone; a change that signed several files together showed "
            "one digest over all of them). Not the file's hash above.",
            size=8,
        )
        _numbered_words(pdf, words)
    pdf.heading("QR codes (restore in any order)")
    _qr_grid(pdf, images, "part {i} of {n}")
    pdf.heading("Restore with the ceremony tool")
    pdf.paragraph(
        f"Get the tool: the ceremony tool from your organisation's install kit or its source repository, version "
        f"{__version__} (the version that made this sheet).\n"
        "1. Scan or photograph every QR code (any order), or type the text fallback below into a file.\n"
        "2. On the offline host: ceremony restore --out DIR scans/*.png (PDFs, photos and .txt files also work).\n"
        "3. The tool checks every part, the file's SHA-256 and the root chain, and writes the exact file.\n"
        "4. Compare the file's SHA-256 it prints with the one on this sheet, and the words it prints as read "
        "aloud at signing with the numbered words here.",
        size=9,
    )
    pdf.heading("Restore without the tool")
    pdf.paragraph(restore_recipe(name, set_id), size=8, height=3.8)
    pdf.heading("Text fallback (each line: number, base32 data, CRC-32 of number and data)")
    pdf.paragraph(fallback, font="Courier", size=7.5, height=3.4)
    _signoff(pdf)
    return bytes(pdf.output())


def share_sheet(
    *, paper: str, label: str, keyid: str, index: int, count: int, threshold: int, words: str, qr: Any, created: str
) -> bytes:
    """One custodian's SLIP-39 share: words and QR, and no other share."""
    pdf = _Sheet(paper, f"ceremony key share {index} of {count} for {label}")
    pdf.add_page()
    pdf.paragraph(f"SECRET - key backup share {index} of {count}", size=15, style="B", height=8)
    pdf.paragraph(
        f"Key {label}, key id {keyid}. Any {threshold} of the {count} shares restore the key; fewer reveal "
        f"nothing. Made {created} by ceremony {__version__}.",
        size=9,
    )
    pdf.paragraph(
        "Keep this sheet sealed and apart from every other share. Never photograph or scan it except to "
        "restore the key on the offline host.",
        size=9,
        style="B",
    )
    pdf.heading("Share words (SLIP-39)")
    _numbered_words(pdf, words, per_line=5)
    pdf.heading("The same share as a QR code")
    _qr_grid(pdf, [qr], f"share {index} of {count}")
    pdf.heading("Restore")
    pdf.paragraph(
        f"ceremony restore-key --backup DIR --out KEY.p12 SHARE... with any {threshold} shares (words in .txt "
        "files as 'share: word word ...', or scans of the QR codes).",
        size=9,
    )
    _signoff(pdf)
    return bytes(pdf.output())


def render_pdf(data: bytes, source: str, max_pixels: int, dpi: int = RENDER_DPI) -> Generator[Any, None, None]:
    """Each page of a PDF as a grayscale PIL image, one at a time, as a scanner would see it.

    Args:
        data: the PDF's bytes.
        source: the file, for messages (already printable).
        max_pixels: the most pixels one rendered page may have.
        dpi: the rendering resolution.

    Raises:
        InputFileError: not a PDF PDFium can open, encrypted, more than MAX_PDF_PAGES pages or none,
            a page that renders to more than ``max_pixels`` or a damaged page.
    """
    try:
        document = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as err:
        reasons = {
            pypdfium2.raw.FPDF_ERR_PASSWORD: "it is encrypted (password-protected); give an unprotected copy",
            pypdfium2.raw.FPDF_ERR_SECURITY: "it is encrypted with a scheme PDFium does not support",
        }
        reason = reasons.get(getattr(err, "err_code", None), "it is damaged or not a PDF")
        raise InputFileError(f"{source}: cannot read this PDF: {reason}") from err
    try:
        count = len(document)
        if count > MAX_PDF_PAGES:
            raise InputFileError(
                f"{source}: {count} pages is more than {MAX_PDF_PAGES}, the most read from one PDF; "
                "give a large scanned stack as several PDFs"
            )
        if count == 0:
            raise InputFileError(f"{source}: the PDF has no pages")
        scale = dpi / 72
        for index in range(count):
            try:
                page = document[index]
                width, height = page.get_size()
                sane = all(math.isfinite(side) and side > 0 for side in (width, height))
                pixels = math.ceil(width * scale) * math.ceil(height * scale) if sane else 0
                if not 0 < pixels <= max_pixels:
                    raise InputFileError(
                        f"{source} page {index + 1}: a page of {width:.0f} x {height:.0f} points renders to "
                        f"{pixels:,} pixels at {dpi} dpi; pages of up to {max_pixels:,} are read"
                    )
                image = page.render(scale=scale, grayscale=True).to_pil()
                page.close()
            except (pypdfium2.PdfiumError, ValueError) as err:
                raise InputFileError(f"{source} page {index + 1}: a damaged page that cannot be rendered") from err
            yield image
    finally:
        document.close()
