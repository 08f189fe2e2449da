"""QR rendering at ECC level M, read back through a real decoder (zxing-cpp)."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET

import pytest
from PIL import Image, ImageDraw

from tests.unit.verify.support import HOST, make_claims
from verify import qr
from verify.errors import QrImageError
from verify.seal import issue_token, parse_scanned, seal_url

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def typical_url(ring):
    return seal_url(issue_token(make_claims(), ring), HOST)


def parse_svg(svg: bytes) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - parsing our own output


def rasterize_svg_path(svg: bytes, scale: int = 6) -> Image.Image:
    """Draw our SVG's module path (runs of ``M x,y h w v1 h-w z``) into a bitmap."""
    root = parse_svg(svg)
    width, height = (int(float(v)) for v in root.attrib["viewBox"].split()[2:])
    image = Image.new("L", (width * scale, height * scale), 255)
    draw = ImageDraw.Draw(image)
    path = root.find(f"{SVG}path")
    assert path is not None
    for x, y, run in re.findall(r"M(\d+),(\d+)h(\d+)v1h-\d+z", path.attrib["d"]):
        x0, y0 = int(x) * scale, int(y) * scale
        draw.rectangle([x0, y0, x0 + int(run) * scale - 1, y0 + scale - 1], fill=0)
    return image


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_typical_certificate_fits_qr_version_10_at_ecc_m_in_alphanumeric_mode(typical_url):
    code = qr.make_qr(typical_url)
    assert code.version == qr.qr_version(typical_url) == 10  # measured: 304 characters, capacity 311
    assert code.error_correction == qr.ERROR_CORRECT_M
    assert [segment.mode for segment in code.data_list] == [2]  # 2 = MODE_ALNUM: the whole URL


def test_png_round_trip_gives_back_the_exact_url(typical_url):
    png = qr.render_png(typical_url)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert qr.decode_qr_image(png) == [typical_url]
    image = Image.open(io.BytesIO(png))
    assert image.width == (57 + 2 * 4) * 8  # version 10 = 57 modules, quiet zone 4, 8 px/module


def test_svg_draws_the_same_code(typical_url):
    svg = qr.render_svg(typical_url)
    root = parse_svg(svg)
    assert root.tag == f"{SVG}svg" and root.attrib["viewBox"] == "0 0 65 65"
    assert qr.decode_qr_image(png_bytes(rasterize_svg_path(svg))) == [typical_url]


def test_png_label_carries_the_number_and_still_scans(typical_url):
    label = qr.render_label_png(typical_url, "CQC2026011234567", "CNCA-R-2002-001")
    image = Image.open(io.BytesIO(label))
    assert image.height > image.width  # room for the text under the code
    # There is ink below the code, where the number is printed.
    below = image.convert("L").crop((0, image.width, image.width, image.height))
    assert below.getextrema()[0] == 0
    assert qr.decode_qr_image(label) == [typical_url]


def test_svg_label_has_the_number_as_text(typical_url):
    svg = qr.render_label_svg(typical_url, "CQC2026011234567", "CNCA-R-2002-001 <&>")
    root = parse_svg(svg)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts == ["CQC2026011234567", "CNCA-R-2002-001 <&>"]
    assert qr.decode_qr_image(png_bytes(rasterize_svg_path(svg))) == [typical_url]


def test_decoded_lowercase_or_uppercase_url_parses_back_to_the_seal(typical_url):
    (text,) = qr.decode_qr_image(qr.render_png(typical_url))
    assert parse_scanned(text) == parse_scanned(typical_url.lower())


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not an image",
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 50,
        b"GIF89a" + b"\xff" * 20,
    ],
)
def test_unreadable_images_raise_qr_image_error(data):
    with pytest.raises(QrImageError, match="not a readable image"):
        qr.decode_qr_image(data)


def test_image_without_a_qr_code(tmp_path):
    blank = png_bytes(Image.new("L", (200, 200), 255))
    with pytest.raises(QrImageError, match="no QR code"):
        qr.decode_qr_image(blank)
    with pytest.raises(QrImageError, match="cannot read"):
        qr.decode_qr_image(tmp_path / "missing.png")


def test_oversized_images_are_refused(monkeypatch):
    monkeypatch.setattr(qr, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(QrImageError, match="too many pixels"):
        qr.decode_qr_image(png_bytes(Image.new("L", (20, 20), 255)))
    monkeypatch.setattr(qr, "MAX_IMAGE_BYTES", 10)
    with pytest.raises(QrImageError, match="larger than"):
        qr.decode_qr_image(b"x" * 11)
