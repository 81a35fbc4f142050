"""QR symbols: drawn from text, and found again in scans, photos and PDF pages.

A symbol here is only text in alphanumeric mode; what the text means (a part
of a metadata backup set, the words of a key share) is for backup.py and
shares.py. Both read their scans through ``images_of`` and ``decode_image``,
so every image from a restore (which may have been made by an attacker) is
bounded the same way: its file size, and its pixel count read from the PNG or
JPEG header before Pillow decodes it (docs/backup.md, "Limits").

This module is the only importer of qrcode, zxing-cpp and Pillow.
"""

from __future__ import annotations

import contextlib
import io
import struct
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import qrcode
import qrcode.exceptions
import qrcode.image.svg
import zxingcpp
from PIL import Image, ImageFilter, ImageOps
from qrcode.util import MODE_ALPHA_NUM, QRData

from ceremony.core._json import read_bytes
from ceremony.core._text import printable
from ceremony.errors import InputFileError, QrCapacityError

#: The error correction levels --ecc accepts: a symbol survives about 7, 15, 25 or 30% damage.
ECC_LEVELS = {
    "L": qrcode.constants.ERROR_CORRECT_L,
    "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q,
    "H": qrcode.constants.ERROR_CORRECT_H,
}


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


# --------------------------------------------------------------------------- reading symbols


_QR = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


def _slower_passes(gray: Any) -> Iterable[tuple[Any, Any]]:
    """The same image prepared other ways, each with a binarizer: scanners and phones blur, tilt and wash out differently."""
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
