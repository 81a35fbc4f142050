"""Printable sheets (a small PDF writer of our own) and reading PDFs back as images (pypdfium2).

The only importer of pypdfium2. Sheets use the PDF core fonts (Helvetica,
Courier; PDF 1.7 section 9.6.2.2), so every string is reduced to Latin-1
first: a sheet must print on any printer without embedded fonts. The writer
knows only what a sheet needs (lines of text wrapped to the page, boxes, QR
symbols as 1-bit images, a footer with "page N of M"): fpdf2 did the same
with a second of imports and line breaking, more than all the QR codes of an
export cost.

A PDF given to restore may have been made by anyone: its page count and each
page's size are checked before anything is rendered, pages are rendered one at
a time, and PDFium's refusals (damaged, encrypted) become one sentence.
"""

from __future__ import annotations

import math
import re
import threading
import zlib
from collections.abc import Generator, Sequence
from typing import Any

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
#: Pixels per module of the QR images in a sheet: enough that any renderer's scaling keeps the edges sharp.
QR_BOX = 10

_PT = 72 / 25.4  # points per millimetre
_PDFIUM_LOCK = threading.Lock()
_CELL_PADDING = 1.0  # mm left of text in a line, as a typewriter's margin
_BOTTOM = MARGIN + 5  # mm below which no line of text goes (the footer's room)

# Advance widths of the core fonts' characters 32 to 255 in WinAnsiEncoding (0 to 31 draw nothing), in thousandths of the font
# size: Adobe's AFM metrics for Helvetica and Helvetica-Bold (Courier is 600 throughout).
_HELVETICA = (
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556, 556,
    556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667,
    556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, 333, 556,
    556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722,
    500, 500, 500, 334, 260, 334, 584, 350, 556, 350, 222, 556, 333, 1000, 556, 556, 333, 1000, 667, 333, 1000,
    350, 611, 350, 350, 222, 222, 333, 333, 350, 556, 1000, 333, 1000, 500, 333, 944, 350, 500, 667, 278, 333,
    556, 556, 556, 556, 260, 556, 333, 737, 370, 556, 584, 333, 737, 333, 400, 584, 333, 333, 333, 556, 537, 278,
    333, 333, 365, 556, 834, 834, 834, 611, 667, 667, 667, 667, 667, 667, 1000, 722, 667, 667, 667, 667, 278, 278,
    278, 278, 722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611, 556, 556, 556, 556,
    556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278, 556, 556, 556, 556, 556, 556, 556, 584, 611, 556,
    556, 556, 556, 500, 556, 500,
)  # fmt: skip
_HELVETICA_BOLD = (
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556, 556,
    556, 556, 556, 556, 333, 333, 584, 584, 584, 611, 975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722,
    611, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556, 333, 556,
    611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, 611, 611, 389, 556, 333, 611, 556, 778,
    556, 556, 500, 389, 280, 389, 584, 350, 556, 350, 278, 556, 500, 1000, 556, 556, 333, 1000, 667, 333, 1000,
    350, 611, 350, 350, 278, 278, 500, 500, 350, 556, 1000, 333, 1000, 556, 333, 944, 350, 500, 667, 278, 333,
    556, 556, 556, 556, 280, 556, 333, 737, 370, 556, 584, 333, 737, 333, 400, 584, 333, 333, 333, 611, 556, 278,
    333, 333, 365, 556, 834, 834, 834, 611, 722, 722, 722, 722, 722, 722, 1000, 722, 667, 667, 667, 667, 278, 278,
    278, 278, 722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611, 556, 556, 556, 556,
    556, 556, 889, 556, 556, 556, 556, 556, 278, 278, 278, 278, 611, 611, 611, 611, 611, 611, 611, 584, 611, 611,
    611, 611, 611, 556, 611, 556,
)  # fmt: skip
#: Resource name, PDF base font and widths of each (family, style) a sheet uses.
_FONTS = {
    ("Helvetica", ""): ("F1", "Helvetica", (0,) * 32 + _HELVETICA),
    ("Helvetica", "B"): ("F2", "Helvetica-Bold", (0,) * 32 + _HELVETICA_BOLD),
    ("Courier", ""): ("F3", "Courier", (0,) * 32 + (600,) * 224),
}
_WORD = re.compile(r" *[^ ]+")
_ESCAPES = str.maketrans({"\\": "\\\\", "(": "\\(", ")": "\\)", "\r": "\\r"})


def _latin1(text: str) -> str:
    """Core PDF fonts are Latin-1 only (control characters, which WinAnsi maps elsewhere, become '?')."""
    text = text.replace("\u2014", "-").replace("\u2192", "->").encode("latin-1", "replace").decode("latin-1")
    return "".join(c if c == "\n" or " " <= c <= "~" or c >= "\xa0" else "?" for c in text)


class _Sheet:
    """Pages of a sheet being laid out top to bottom (millimetres from the top left), with a footer naming it,
    so loose pages can be put back in order."""

    def __init__(self, paper: str, footer: str) -> None:
        self.w, self.h = PAPER[paper]
        self.footer_text = _latin1(footer)
        self.pages: list[list[str]] = []
        self.images: list[tuple[int, bytes]] = []  # (side in pixels, PNG-predicted zlib data)
        self.x = self.y = MARGIN
        self.font: tuple[str, str] = ("Helvetica", "")
        self.size = 9.0

    def add_page(self) -> None:
        self.pages.append([])
        self.x = self.y = MARGIN

    def set_font(self, family: str, style: str = "", size: float = 9) -> None:
        self.font, self.size = (family, style), size

    def get_y(self) -> float:
        return self.y

    def set_xy(self, x: float, y: float) -> None:
        self.x, self.y = x, y

    def ln(self, height: float) -> None:
        self.x, self.y = MARGIN, self.y + height

    def width(self, text: str) -> float:
        """The width of ``text`` (Latin-1, as _latin1 leaves it) in the current font, in millimetres."""
        widths = _FONTS[self.font][2]
        return sum(map(widths.__getitem__, text.encode("latin-1"))) * self.size / 1000 / _PT

    def _footer(self, number: int) -> str:
        """The footer of page ``number``: its text cut with "..." where it would not fit between the margins, so
        that "page N of M", which puts loose pages back in order, is always on the page."""
        pages = f" - page {number} of {len(self.pages)}"
        room = self.w - 2 * MARGIN
        text = _latin1(self.footer_text)
        if self.width(text + pages) <= room:
            return text + pages
        keep = self._fits(text, max(0.0, room - self.width("..." + pages)))
        return text[:keep] + "..." + pages

    def _text_op(self, x: float, y: float, height: float, text: str) -> str:
        """The drawing of one line of text at (x, y), centred vertically in a line ``height`` high."""
        name = _FONTS[self.font][0]
        baseline = y + height / 2 + 0.3 * self.size / _PT
        return (
            f"BT /{name} {self.size:.2f} Tf {x * _PT:.2f} {(self.h - baseline) * _PT:.2f} Td "
            f"({text.translate(_ESCAPES)}) Tj ET"
        )

    def _text(self, x: float, y: float, height: float, text: str) -> None:
        self.pages[-1].append(self._text_op(x, y, height, text))

    def cell(self, width: float, height: float, text: str, align: str = "L") -> None:
        """One line in a box ``width`` wide (0: to the right margin), aligned left or centred; x moves on."""
        width = width or self.w - MARGIN - self.x
        text = _latin1(text)
        offset = (width - self.width(text)) / 2 if align == "C" else _CELL_PADDING
        self._text(self.x + offset, self.y, height, text)
        self.x += width

    def _fits(self, text: str, width: float) -> int:
        """How many characters of ``text`` (at least one) fit ``width``: widths add up glyph by glyph, so one
        pass finds the cut (measuring every prefix anew made a 5,000-character word take 20 seconds)."""
        widths = _FONTS[self.font][2]
        scale = self.size / 1000 / _PT
        used = 0.0
        for count, code in enumerate(text.encode("latin-1")):
            used += widths[code] * scale
            if used > width:
                return max(1, count)
        return len(text)

    def _lines(self, text: str, width: float) -> list[str]:
        """``text`` broken into lines that fit ``width``: at spaces, and inside a word only if it alone is wider."""
        lines = []
        for paragraph in text.split("\n"):
            line, used = "", 0.0
            for word in _WORD.findall(paragraph):  # each with the spaces before it, so indents stay
                wide = self.width(word)
                if used + wide <= width:
                    line, used = line + word, used + wide
                    continue
                if line:
                    lines.append(line)
                    word = word.lstrip(" ")
                while self.width(word) > width:  # a word wider than the line is cut where it must be
                    cut = self._fits(word, width)
                    lines.append(word[:cut])
                    word = word[cut:]
                line, used = word, self.width(word)
            lines.append(line)
        return lines

    def paragraph(
        self, value: str, size: float = 9, style: str = "", font: str = "Helvetica", height: float = 4.5
    ) -> None:
        """Text wrapped to the margins, a new page whenever the next line would reach the footer."""
        self.set_font(font, style, size)
        for line in self._lines(_latin1(value), self.w - 2 * MARGIN - 2 * _CELL_PADDING):
            if self.y + height > self.h - _BOTTOM:
                self.add_page()
            self._text(MARGIN + _CELL_PADDING, self.y, height, line)
            self.y += height
        self.x = MARGIN

    def heading(self, value: str) -> None:
        self.ln(2)
        self.paragraph(value, size=11, style="B", height=6)

    def rect(self, x: float, y: float, width: float, height: float) -> None:
        self.pages[-1].append(
            f"0.2 w {x * _PT:.2f} {(self.h - y - height) * _PT:.2f} {width * _PT:.2f} {height * _PT:.2f} re S"
        )

    def image(self, symbol: Any, x: float, y: float, side: float) -> None:
        """A QR symbol (qr.Symbol) as a 1-bit image ``side`` millimetres square."""
        self.images.append(symbol.raster(QR_BOX))
        size = side * _PT
        self.pages[-1].append(
            f"q {size:.2f} 0 0 {size:.2f} {x * _PT:.2f} {(self.h - y - side) * _PT:.2f} cm /Im{len(self.images)} Do Q"
        )

    def output(self) -> bytes:
        """The PDF: every page with its footer, the fonts and images they use; catalog and page tree last, so a
        cut-off copy never opens as a shorter sheet."""
        objects: list[bytes] = []

        def add(body: bytes) -> int:
            objects.append(body)
            return len(objects)

        def stream(header: str, data: bytes) -> int:
            return add(f"<< {header} /Length {len(data)} >>\nstream\n".encode() + data + b"\nendstream")

        fonts = " ".join(
            f"/{name} {add(f'<< /Type /Font /Subtype /Type1 /BaseFont /{base} /Encoding /WinAnsiEncoding >>'.encode())} 0 R"
            for name, base, _widths in _FONTS.values()
        )
        images = " ".join(
            f"/Im{index} "
            + str(
                stream(
                    f"/Type /XObject /Subtype /Image /Width {side} /Height {side} /ColorSpace /DeviceGray "
                    f"/BitsPerComponent 1 /Filter /FlateDecode /DecodeParms << /Predictor 15 /Colors 1 "
                    f"/BitsPerComponent 1 /Columns {side} >>",
                    data,
                )
            )
            + " 0 R"
            for index, (side, data) in enumerate(self.images, start=1)
        )
        resources = add(f"<< /Font << {fonts} >> /XObject << {images} >> >>".encode())
        pages_id = len(objects) + 2 * len(self.pages) + 1
        kids = []
        self.set_font("Helvetica", "", 7)
        for number, content in enumerate(self.pages, start=1):
            footer = self._footer(number)
            drawn = [*content, self._text_op((self.w - self.width(footer)) / 2, self.h - MARGIN, 5, footer)]
            body = zlib.compress("\n".join(drawn).encode("latin-1"), 6)
            contents = stream("/Filter /FlateDecode", body)
            kids.append(
                add(
                    f"<< /Type /Page /Parent {pages_id} 0 R /MediaBox [0 0 {self.w * _PT:.2f} {self.h * _PT:.2f}] "
                    f"/Resources {resources} 0 R /Contents {contents} 0 R >>".encode()
                )
            )
        add(f"<< /Type /Pages /Kids [{' '.join(f'{k} 0 R' for k in kids)}] /Count {len(kids)} >>".encode())
        catalog = add(f"<< /Type /Catalog /Pages {pages_id} 0 R >>".encode())
        out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for number, body in enumerate(objects, start=1):
            offsets.append(len(out))
            out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
        xref = len(out)
        out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
        out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
        out += f"trailer\n<< /Size {len(objects) + 1} /Root {catalog} 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
        return bytes(out)


def _qr_grid(pdf: _Sheet, images: Sequence[Any], caption: str) -> None:
    """QR symbols (qr.Symbol) in a grid, each captioned with its part number."""
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
            pdf.image(images[index], x, top, QR_SIZE)
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
    return pdf.output()


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
    return pdf.output()


def _boxes(pdf: _Sheet, labels: Sequence[str], height: float = 9) -> None:
    """A row of boxes side by side, each with a small label, for initials and times written by hand."""
    if pdf.get_y() + height + 2 > pdf.h - _BOTTOM:
        pdf.add_page()
    y, width = pdf.get_y(), (pdf.w - 2 * MARGIN) / len(labels)
    pdf.set_font("Helvetica", size=6.5)
    for index, label in enumerate(labels):
        x = MARGIN + index * width
        pdf.rect(x, y, width, height)
        pdf.set_xy(x + 0.5, y + 0.3)
        pdf.cell(width - 1, 3, label)
    pdf.set_xy(MARGIN, y + height + 2)


def _lines_box(pdf: _Sheet, label: str, lines: int = 2) -> None:
    """A labelled box with room for ``lines`` handwritten lines."""
    height = 4 + 7 * lines
    if pdf.get_y() + height + 2 > pdf.h - _BOTTOM:
        pdf.add_page()
    y = pdf.get_y()
    pdf.rect(MARGIN, y, pdf.w - 2 * MARGIN, height)
    pdf.set_font("Helvetica", size=7.5)
    pdf.set_xy(MARGIN + 1, y + 0.5)
    pdf.cell(0, 3.5, label)
    pdf.set_xy(MARGIN, y + height + 2)


def ceremony_script(
    *,
    paper: str,
    title: str,
    kind: str,
    plan_file: str,
    plan_sha256: str,
    planned: str,
    participants: Sequence[tuple[str, str]],
    keys: Sequence[str],
    settings: Sequence[str],
    steps: Sequence[tuple[str, str, str, str, Sequence[str], Sequence[str]]],
    keyholders: Sequence[tuple[str, Sequence[str]]],
) -> bytes:
    """The printed ceremony script: the plan it was made from (by SHA-256), who takes part, every step with what
    is typed and what the screen shows and boxes for the administrator's and the witness's initials and the
    time, the transcript head written by hand, blank exception records, and a sign-off page per keyholder.

    The IANA root KSK scripts are the model: the script is read aloud step by step, each step initialled, each
    deviation written down as an exception rather than silently fixed (ceremony-practice.md, items 2-3).

    Args:
        steps: (id, title, who, what is done, lines typed, lines the screen shows) in order.
        keyholders: (name, the keys they hold, described) per keyholder.
    """
    pdf = _Sheet(paper, f"ceremony script {title} plan {plan_sha256[:16]}")
    pdf.add_page()
    pdf.paragraph(f"Ceremony script: {title}", size=15, style="B", height=8)
    pdf.paragraph(
        f"Kind: {kind}. Planned for {planned or '(no date in the plan)'}. Made by ceremony {__version__} from the "
        f"plan {plan_file}, whose SHA-256 is below; a script with another hash is not this ceremony's.",
        size=8.5,
    )
    pdf.heading("SHA-256 of the plan")
    pdf.paragraph(_hex_groups(plan_sha256), font="Courier", size=9)
    pdf.heading("Participants")
    for name, role in participants:
        pdf.paragraph(f"{role:<14} {name}", font="Courier", size=9, height=4.4)
    pdf.heading("Keys")
    for line in keys:
        pdf.paragraph(line, size=8.5, height=4.2)
    if settings:
        pdf.heading("Thresholds and expiries")
        pdf.paragraph("; ".join(settings), size=8.5, height=4.2)
    pdf.heading("How to use this script")
    pdf.paragraph(
        "The administrator reads each step aloud, types exactly what it says, and reads the screen aloud; the "
        "witness compares the screen with what the step says it should show, then both initial the step and "
        "write the time (UTC). Anything that differs is an exception: write it on the exceptions page (what was "
        "expected, what happened, what was decided) and put its number in the step's box. Nobody reads a PIN or "
        "passphrase aloud or writes one here.",
        size=8.5,
    )
    for step_id, step_title, who, does, types, shows in steps:
        pdf.heading(f"{step_id}  {step_title}   ({who})")
        pdf.paragraph(does, size=8.5, height=4.2)
        for line in types:
            pdf.paragraph(f"type:   {line}", font="Courier", size=8, height=4)
        for line in shows:
            pdf.paragraph(f"shows:  {line}", font="Courier", size=8, height=4)
        _boxes(pdf, ["Administrator initials", "Witness initials", "Time (UTC)", "Exception no. (if any)"])
    pdf.heading("Transcript head at the end of the ceremony")
    _lines_box(pdf, "Transcript head, hex (ceremony transcript verify prints it): all 64 digits", 2)
    _lines_box(pdf, "The same head as words (the first 8 at least)", 1)
    _boxes(pdf, ["Administrator initials", "Witness initials", "Time (UTC)"])
    pdf.add_page()
    pdf.paragraph("Exceptions", size=13, style="B", height=7)
    for number in range(1, 4):
        pdf.paragraph(f"Exception {number}", size=9, style="B", height=5)
        _lines_box(pdf, "Step, and what was expected", 2)
        _lines_box(pdf, "What happened", 2)
        _lines_box(pdf, "What was decided, and by whom", 2)
    for name, held in keyholders:
        pdf.add_page()
        pdf.paragraph(f"Keyholder sign-off: {name}", size=13, style="B", height=7)
        pdf.paragraph(f"Ceremony {title}, plan SHA-256 {plan_sha256[:16]}...", size=8.5)
        pdf.heading("Keys held")
        for line in held or ["(none named in the plan)"]:
            pdf.paragraph(line, size=8.5, height=4.2)
        pdf.heading("Statement")
        pdf.paragraph(
            f"I, {name}, typed my own PIN or passphrase and told it to nobody; the key ids the screen showed for my "
            "keys are the ones written below; I heard the words of what was signed read aloud and they matched "
            "the screen; I saw the transcript head written below on the screen at the end of the ceremony.",
            size=9,
        )
        _lines_box(pdf, "Key id(s) shown for my keys (first 16 hex digits each)", 2)
        _lines_box(pdf, "Transcript head (first 16 hex digits) and its first 4 words", 1)
        _lines_box(pdf, "Token bag serial(s), old and new (if any)", 1)
        _boxes(pdf, ["Signature", "Date and time (UTC)", "Witness initials"], height=14)
    return pdf.output()


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
    import pypdfium2  # loaded only to read PDFs back

    # PDFium is not thread-safe (pypdfium2's documentation): every call into it holds one lock, and each page
    # leaves as a copy, so no PDFium bitmap is freed later in whatever thread drops the image.
    with _PDFIUM_LOCK:
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
        with _PDFIUM_LOCK:
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
            with _PDFIUM_LOCK:
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
                    bitmap = page.render(scale=scale, grayscale=True)
                    image = bitmap.to_pil().copy()
                    bitmap.close()
                    page.close()
                except (pypdfium2.PdfiumError, ValueError) as err:
                    raise InputFileError(f"{source} page {index + 1}: a damaged page that cannot be rendered") from err
            yield image
    finally:
        with _PDFIUM_LOCK:
            document.close()
