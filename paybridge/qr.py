"""QR codes for payment links (segno: pure Python, writes SVG and PNG without Pillow).

Files are written atomically (temporary file + rename) so a retried task never leaves a
half-written image behind.
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import segno

from paybridge.eip681 import PaymentUri

__all__ = ["PaymentQr", "make_qr", "qr_png", "qr_svg", "write_payment_qr"]

#: Error correction "M" (15 %) survives a smudged print or a phone screen glare; segno raises
#: it further for free when the data leaves room in the chosen version.
ERROR_LEVEL = "m"
DEFAULT_SCALE = 8
QUIET_ZONE = 4  # modules of white border the QR standard requires


@dataclass(frozen=True)
class PaymentQr:
    """Both renderings of one payment link, and where they were written."""

    uri: str
    svg: bytes
    png: bytes
    svg_path: Path
    png_path: Path


def make_qr(data: str | PaymentUri) -> segno.QRCode:
    """A full-size (never micro) QR code of the URI text."""
    return segno.make(str(data), error=ERROR_LEVEL, micro=False)


def qr_svg(
    data: str | PaymentUri, *, scale: int = DEFAULT_SCALE, title: str | None = None
) -> bytes:
    """SVG bytes; ``title`` becomes the SVG <title> (accessible label, e.g. the amount)."""
    buffer = io.BytesIO()
    make_qr(data).save(buffer, kind="svg", scale=scale, border=QUIET_ZONE, title=title)
    return buffer.getvalue()


def qr_png(data: str | PaymentUri, *, scale: int = DEFAULT_SCALE) -> bytes:
    buffer = io.BytesIO()
    make_qr(data).save(buffer, kind="png", scale=scale, border=QUIET_ZONE)
    return buffer.getvalue()


def write_payment_qr(
    data: str | PaymentUri,
    directory: str | Path,
    stem: str,
    *,
    scale: int = DEFAULT_SCALE,
    title: str | None = None,
) -> PaymentQr:
    """Write ``<stem>.svg`` and ``<stem>.png`` into ``directory`` and return their bytes."""
    if not stem or Path(stem).name != stem:
        raise ValueError(f"QR file stem must be a plain file name, got {stem!r}")
    target_dir = Path(directory)
    target_dir.mkdir(parents=True, exist_ok=True)
    svg, png = qr_svg(data, scale=scale, title=title), qr_png(data, scale=scale)
    svg_path, png_path = target_dir / f"{stem}.svg", target_dir / f"{stem}.png"
    _atomic_write(svg_path, svg)
    _atomic_write(png_path, png)
    return PaymentQr(uri=str(data), svg=svg, png=png, svg_path=svg_path, png_path=png_path)


def _atomic_write(path: Path, content: bytes) -> None:
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
