"""QR rendering (``qrcode``, ECC level M, smallest version that fits) and reading (``zxingcpp``).

Rendering costs about 20 ms per code, almost all of it in ``qrcode`` choosing the version and
the mask. A seal never changes once issued, so callers MUST render once and cache the bytes
(e.g. keyed by the token, or stored beside the certificate), never render per request.

The seal URL is uppercase, so ``qrcode`` puts it in alphanumeric mode (5.5 bits a character).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape

import qrcode
from PIL import Image, ImageDraw, ImageFont
from qrcode.constants import ERROR_CORRECT_M

from verify.errors import QrImageError

MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000
QUIET_ZONE = 4  # modules, as ISO/IEC 18004 requires


def make_qr(text: str) -> qrcode.QRCode:
    """The QR code for ``text`` at ECC level M in the smallest version that fits."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=QUIET_ZONE)
    code.add_data(text)
    code.make(fit=True)
    return code


def qr_version(text: str) -> int:
    """The QR version (1..40) ``text`` needs at ECC level M."""
    return int(make_qr(text).version)


def _modules(text: str) -> list[list[bool]]:
    """Dark-module matrix including the quiet zone."""
    return [[bool(cell) for cell in row] for row in make_qr(text).get_matrix()]


def _matrix_image(matrix: Sequence[Sequence[bool]], box_size: int) -> Image.Image:
    size = len(matrix)
    pixels = bytes(0 if dark else 255 for row in matrix for dark in row)
    image = Image.frombytes("L", (size, size), pixels)
    return image.resize((size * box_size, size * box_size), Image.Resampling.NEAREST).convert("1")


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def render_png(text: str, *, box_size: int = 8) -> bytes:
    """PNG (1-bit) of the QR code, ``box_size`` pixels per module. Cache the result."""
    return _png_bytes(_matrix_image(_modules(text), box_size))


def _svg_path(matrix: Sequence[Sequence[bool]]) -> str:
    """One path drawing each horizontal run of dark modules as a rectangle."""
    parts = []
    for y, row in enumerate(matrix):
        x = 0
        while x < len(row):
            if row[x]:
                start = x
                while x < len(row) and row[x]:
                    x += 1
                parts.append(f"M{start},{y}h{x - start}v1h-{x - start}z")
            else:
                x += 1
    return "".join(parts)


def render_svg(text: str, *, module_mm: float = 0.5) -> bytes:
    """SVG of the QR code, ``module_mm`` millimetres per module when printed. Cache the result."""
    matrix = _modules(text)
    size = len(matrix)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{size * module_mm:g}mm" '
        f'height="{size * module_mm:g}mm" viewBox="0 0 {size} {size}" shape-rendering="crispEdges">'
        f'<rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path fill="#000" d="{_svg_path(matrix)}"/></svg>'
    ).encode()


def _caption_lines(caption: str, subcaption: str | None) -> list[tuple[str, int]]:
    lines = [(caption, 3)]
    if subcaption:
        lines.append((subcaption, 2))
    return lines


def render_label_png(text: str, caption: str, subcaption: str | None = None, *, box_size: int = 8) -> bytes:
    """Printable label: the QR code with ``caption`` (the certificate number, for manual entry)
    printed under it, and optionally ``subcaption`` (e.g. the body code) below that."""
    qr_image = _matrix_image(_modules(text), box_size).convert("L")
    width = qr_image.width
    line_heights = [(line, box_size * weight) for line, weight in _caption_lines(caption, subcaption)]
    text_height = sum(int(h * 1.4) for _, h in line_heights) + box_size * 2
    label = Image.new("L", (width, qr_image.height + text_height), 255)
    label.paste(qr_image, (0, 0))
    draw = ImageDraw.Draw(label)
    y = qr_image.height - box_size  # keeps three of the four quiet-zone modules clear
    for line, height in line_heights:
        font = ImageFont.load_default(size=height)
        while draw.textlength(line, font=font) > width - 2 * box_size and height > 6:
            height -= 1
            font = ImageFont.load_default(size=height)
        draw.text((width / 2, y), line, fill=0, font=font, anchor="ma")
        y += int(height * 1.4)
    return _png_bytes(label)


def render_label_svg(
    text: str, caption: str, subcaption: str | None = None, *, module_mm: float = 0.5
) -> bytes:
    """SVG version of :func:`render_label_png` (text kept as text, so it prints sharp)."""
    matrix = _modules(text)
    size = len(matrix)
    lines = _caption_lines(caption, subcaption)
    height = size + sum(int(weight * 1.6) for _, weight in lines) + 2
    texts = []
    y = size - 1.0
    for line, weight in lines:
        y += weight * 1.3
        # Shrink long captions to fit the code's width (monospace: about 0.6 em per character).
        font_size = min(float(weight), (size - 2) / max(1, len(line)) / 0.6)
        texts.append(
            f'<text x="{size / 2:g}" y="{y:g}" font-family="monospace" font-size="{font_size:.2f}" '
            f'text-anchor="middle">{escape(line)}</text>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{size * module_mm:g}mm" '
        f'height="{height * module_mm:g}mm" viewBox="0 0 {size} {height}">'
        f'<rect width="{size}" height="{height}" fill="#fff"/>'
        f'<path fill="#000" shape-rendering="crispEdges" d="{_svg_path(matrix)}"/>'
        f"{''.join(texts)}</svg>"
    ).encode()


def decode_qr_image(source: bytes | str | Path) -> list[str]:
    """Texts of the QR codes in a raster image (PNG, JPEG, ...), given as bytes or a path.

    Raises :class:`QrImageError` if the image cannot be read, is too large, or holds no QR code.
    """
    if isinstance(source, str | Path):
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise QrImageError(f"cannot read the image file: {exc.strerror}") from exc
    else:
        data = bytes(source)
    if len(data) > MAX_IMAGE_BYTES:
        raise QrImageError(f"the image is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data))
            if opened.width * opened.height > MAX_IMAGE_PIXELS:
                raise QrImageError("the image has too many pixels")
            image = opened.convert("L")
    except QrImageError:
        raise
    except Exception as exc:
        # Image decoders raise a zoo of exceptions (OSError, SyntaxError, struct.error,
        # DecompressionBombError, ...) on hostile input; every one means "not readable".
        raise QrImageError("not a readable image") from exc
    # Imported here: rendering (the server's job) must not need the decoder, which only the
    # offline verifier and image uploads use.
    import zxingcpp

    results = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode))
    texts = [result.text for result in results if result.valid]
    if not texts:
        raise QrImageError("no QR code found in the image")
    return texts
