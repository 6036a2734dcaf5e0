"""Payment QR codes: both the PNG and the SVG decode (zxing-cpp) back to the exact URI."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from paybridge.addresses import ANVIL_DEMO_XPUB, derive_addresses
from paybridge.eip681 import describe_amount, erc20_transfer_uri, native_payment_uri
from paybridge.qr import QUIET_ZONE, qr_png, qr_svg, write_payment_qr

SVG_NS = "{http://www.w3.org/2000/svg}"
USDC_BASE = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"


def _decode(image: Image.Image) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(image)]


def _rasterize_segno_svg(svg: bytes) -> Image.Image:
    """Draw segno's path (``M x y`` then runs of ``h n`` / relative ``m dx dy``) as pixels.

    Enough SVG for segno's line-based output; no SVG renderer is available offline.
    """
    root = ET.fromstring(svg)
    size = int(root.get("width", "0"))
    path = root.find(f"{SVG_NS}path")
    assert path is not None
    scale = int(re.fullmatch(r"scale\((\d+)\)", path.get("transform", "scale(1)")).group(1))
    modules = size // scale
    image = Image.new("L", (modules, modules), 255)
    x = y = 0.0
    for command, a, b in re.findall(r"([MmHh])(-?[\d.]+)(?:\s+(-?[\d.]+))?", path.get("d", "")):
        if command == "M":
            x, y = float(a), float(b)
        elif command == "m":
            x, y = x + float(a), y + float(b)
        else:  # h: a dark horizontal run of n modules on row floor(y)
            for column in range(int(x), int(x + float(a))):
                image.putpixel((column, int(y)), 0)
            x += float(a)
    return image.resize((modules * 8, modules * 8), Image.NEAREST)


@pytest.fixture
def erc20_uri() -> str:
    deposit = derive_addresses(ANVIL_DEMO_XPUB, 0, 1)[0]
    return str(erc20_transfer_uri(USDC_BASE, 8453, deposit, 1_234_500_000))


def test_png_decodes_to_the_uri(erc20_uri: str) -> None:
    png = qr_png(erc20_uri)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert _decode(Image.open(io.BytesIO(png))) == [erc20_uri]


def test_svg_decodes_to_the_uri_and_carries_the_title(erc20_uri: str) -> None:
    label = describe_amount(1_234_500_000, 6, "USDC")
    svg = qr_svg(erc20_uri, title=label)
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG_NS}svg"
    assert root.find(f"{SVG_NS}title").text == "1,234.50 USDC"
    assert _decode(_rasterize_segno_svg(svg)) == [erc20_uri]


def test_quiet_zone_is_white(erc20_uri: str) -> None:
    image = Image.open(io.BytesIO(qr_png(erc20_uri, scale=1))).convert("L")
    width, _ = image.size
    border = [image.getpixel((i, j)) for i in range(width) for j in range(QUIET_ZONE)]
    assert set(border) == {255}


def test_write_payment_qr_writes_both_files_and_returns_bytes(
    tmp_path: Path, erc20_uri: str
) -> None:
    result = write_payment_qr(erc20_uri, tmp_path / "qr", "INV-1001", title="1,234.50 USDC")
    assert result.svg_path == tmp_path / "qr" / "INV-1001.svg"
    assert result.png_path.read_bytes() == result.png
    assert result.svg_path.read_bytes() == result.svg
    assert result.uri == erc20_uri
    assert _decode(Image.open(result.png_path)) == [erc20_uri]
    assert sorted(p.name for p in (tmp_path / "qr").iterdir()) == ["INV-1001.png", "INV-1001.svg"]


def test_rewriting_is_idempotent_and_leaves_no_temp_files(tmp_path: Path, erc20_uri: str) -> None:
    first = write_payment_qr(erc20_uri, tmp_path, "req")
    second = write_payment_qr(erc20_uri, tmp_path, "req")
    assert (first.svg, first.png) == (second.svg, second.png)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["req.png", "req.svg"]


def test_payment_uri_object_is_accepted(tmp_path: Path) -> None:
    deposit = derive_addresses(ANVIL_DEMO_XPUB, 3, 1)[0]
    uri = native_payment_uri(deposit, 31337, 2_014 * 10**15, exponent=18)
    result = write_payment_qr(uri, tmp_path, "native")
    assert _decode(Image.open(io.BytesIO(result.png))) == [str(uri)]


@pytest.mark.parametrize("stem", ["", "../escape", "a/b"])
def test_stem_must_be_a_plain_name(tmp_path: Path, stem: str) -> None:
    with pytest.raises(ValueError, match="plain file name"):
        write_payment_qr("ethereum:0x0", tmp_path, stem)
