"""``[portal]``: how the payer's page looks (brand name, logo, colours), checked at load.

Colours are ``#rrggbb``; every pair the page draws text with must reach the WCAG 2 AA contrast
ratio for body text (4.5:1), so a merchant cannot configure an unreadable page: a failing pair
is refused with the ratio and a shade that passes. The logo is a local file the API serves
itself (the page loads nothing from another host), never a URL.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MIN_CONTRAST = 4.5
LOGO_TYPES = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg",
              ".jpeg": "image/jpeg", ".webp": "image/webp"}  # fmt: skip
MAX_LOGO_BYTES = 512 * 1024
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


def _channel(value: int) -> float:
    # WCAG 2 relative luminance; floats are fine here: colours, not money
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(first: str, second: str) -> float:
    """WCAG 2 contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def darker_until_readable(colour: str, against: str) -> str | None:
    """The nearest darker shade of ``colour`` readable on ``against`` (None if none is)."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    for step in range(1, 101):
        shade = "#" + "".join(f"{round(c * (100 - step) / 100):02x}" for c in (r, g, b))
        if contrast(shade, against) >= MIN_CONTRAST:
            return shade
    return None


class PortalConfig(BaseModel):
    """``[portal]`` in paybridge.toml (all optional)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: shown as the page heading; empty: ``[merchant] name``
    brand_name: str = Field(default="", max_length=120)
    #: a local PNG, SVG, JPEG or WebP file (relative paths: from the working directory)
    logo_file: str = ""
    primary_color: str = "#1f4fbf"  # buttons, links, the header band
    on_primary_color: str = "#ffffff"  # text on buttons and the header band
    text_color: str = "#1a1a1a"
    background_color: str = "#f4f5f7"  # around the card
    surface_color: str = "#ffffff"  # the card the text sits on

    @field_validator(
        "primary_color", "on_primary_color", "text_color", "background_color", "surface_color"
    )
    @classmethod
    def _hex(cls, value: str) -> str:
        if not _HEX.match(value):
            raise ValueError(f"{value!r} is not a colour like '#1f4fbf' (# and 6 hex digits)")
        return value.lower()

    @field_validator("logo_file")
    @classmethod
    def _local_logo(cls, value: str) -> str:
        if not value:
            return value
        if "://" in value or value.startswith(("//", "data:")):
            raise ValueError(
                f"{value!r} is a URL: the payer's page loads nothing from other hosts; "
                "give the path of a local image file, which PayBridge serves itself"
            )
        path = Path(value).expanduser()
        if path.suffix.lower() not in LOGO_TYPES:
            raise ValueError(f"{value!r}: the logo must be one of {', '.join(LOGO_TYPES)}")
        if not path.is_file():
            raise ValueError(f"{value!r}: no such file")
        if path.stat().st_size > MAX_LOGO_BYTES:
            raise ValueError(f"{value!r} is larger than {MAX_LOGO_BYTES // 1024} KiB")
        return str(path.resolve())

    @model_validator(mode="after")
    def _readable(self) -> PortalConfig:
        pairs = (
            ("text_color", "surface_color"),
            ("text_color", "background_color"),
            ("on_primary_color", "primary_color"),
            ("primary_color", "surface_color"),  # links and outlined text on the card
        )
        for fore, back in pairs:
            fg, bg = getattr(self, fore), getattr(self, back)
            ratio = contrast(fg, bg)
            if ratio < MIN_CONTRAST:
                # darken the darker one of the pair: it moves away from the other
                name, shade = (fore, fg) if luminance(fg) <= luminance(bg) else (back, bg)
                other = bg if name == fore else fg
                hint = darker_until_readable(shade, other)
                raise ValueError(
                    f"portal.{fore} {fg} on portal.{back} {bg} has contrast {ratio:.2f}:1, "
                    f"below {MIN_CONTRAST}:1 (WCAG AA): payers could not read it"
                    + (
                        f"; e.g. portal.{name} = {hint!r} passes"
                        if hint
                        else "; choose a darker or lighter pair"
                    )
                )
        return self

    @property
    def logo_media_type(self) -> str | None:
        return LOGO_TYPES.get(Path(self.logo_file).suffix.lower()) if self.logo_file else None
