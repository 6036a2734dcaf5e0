"""``[portal]`` is checked when the configuration loads: colour format, WCAG AA contrast of
every pair the page draws text with (refused with the ratio and a shade that passes), and a
logo that is a local image file, never a URL."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from paybridge.config import ConfigError, PortalConfig, load_config
from paybridge.config.portal import contrast


def test_contrast_is_the_wcag_ratio() -> None:
    assert round(contrast("#000000", "#ffffff"), 2) == 21.0
    assert round(contrast("#777777", "#ffffff"), 2) == 4.48  # the classic just-failing grey
    assert contrast("#1f4fbf", "#1f4fbf") == 1.0


@pytest.mark.parametrize("colour", ["1f4fbf", "#1f4fb", "#1f4fbg", "blue", "#1f4fbf00"])
def test_colours_must_be_hex(colour: str) -> None:
    with pytest.raises(ValidationError, match="primary_color"):
        PortalConfig(primary_color=colour)


def test_unreadable_pairs_are_refused_with_a_shade_that_passes() -> None:
    with pytest.raises(ValidationError) as refused:
        PortalConfig(primary_color="#7fa0ff")  # white button text on light blue: 2.5:1
    message = str(refused.value)
    assert "portal.on_primary_color #ffffff on portal.primary_color #7fa0ff" in message
    assert "2.51:1" in message
    hint = message.split("portal.primary_color = '")[1][:7]
    assert PortalConfig(primary_color=hint).primary_color == hint
    with pytest.raises(ValidationError, match=r"text_color #999999 on portal\.surface_color"):
        PortalConfig(text_color="#999999")
    with pytest.raises(ValidationError, match=r"text_color .* on portal\.background_color"):
        PortalConfig(background_color="#333333")


def test_logo_is_a_local_image_never_a_url(tmp_path: Path) -> None:
    for url in ("https://cdn.example.com/logo.png", "//cdn.example.com/l.png", "data:image/png,"):
        with pytest.raises(ValidationError, match="is a URL"):
            PortalConfig(logo_file=url)
    with pytest.raises(ValidationError, match="no such file"):
        PortalConfig(logo_file=str(tmp_path / "missing.png"))
    (tmp_path / "logo.gif").write_bytes(b"GIF89a")
    with pytest.raises(ValidationError, match="must be one of"):
        PortalConfig(logo_file=str(tmp_path / "logo.gif"))
    (tmp_path / "logo.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    ok = PortalConfig(logo_file=str(tmp_path / "logo.svg"))
    assert ok.logo_media_type == "image/svg+xml" and Path(ok.logo_file).is_absolute()


def test_a_config_file_with_a_bad_portal_section_does_not_load(tmp_path: Path) -> None:
    path = tmp_path / "paybridge.toml"
    path.write_text('[portal]\nprimary_color = "#ffff00"\n')
    with pytest.raises(ConfigError, match=r"portal: .*contrast 1\.07:1"):
        load_config(path)
    path.write_text('[portal]\nbrand_name = "Acme"\nprimary_color = "#0b5d1e"\n')
    assert load_config(path).portal.brand_name == "Acme"
