"""The helpers behind the plain terminal: what counts as loopback, how external text is shown."""

from __future__ import annotations

from paybridge.cli.context import shown
from paybridge.cli.sim import _is_loopback


def test_shown_escapes_markup_controls_and_bidi() -> None:
    assert shown("[bold]x[/bold]") == "\\[bold]x\\[/bold]"
    assert shown("a\x1b[31mb\rc\u202ed\u2028") == "a\\x1b[31mb\\rc\\u202ed\\u2028"
    assert shown("line 1\nline 2", keep_newlines=True) == "line 1\nline 2"
    assert shown("Müller & Söhne – INV-1") == "Müller & Söhne – INV-1"


def test_loopback_hosts() -> None:
    hosts = ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost", "0.0.0.0", "::", "db")
    assert [_is_loopback(h) for h in hosts] == [True, True, True, True, True, False, False, False]
