"""How the CLI shows things to people: amounts (``paybridge.domain.amounts``' rule), tables whose
ids are never cut, and paging that says when a list is cut.

Machines get ``--json`` with base units under ``*_base_units`` keys beside ``*_display`` text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from paybridge.cli.context import USAGE_ERROR, console, errors, fail, shown
from paybridge.config import PayBridgeConfig
from paybridge.domain.amounts import format_token, parse_token_amount
from paybridge.domain.money import MoneyError

LimitOption = Annotated[int, typer.Option("--limit", min=1, help="Show at most this many rows.")]
OffsetOption = Annotated[int, typer.Option("--offset", min=0, help="Skip this many rows first.")]


@dataclass(frozen=True)
class Token:
    symbol: str
    decimals: int

    def show(self, base_units: int | str) -> str:
        return format_token(int(base_units), self.decimals, self.symbol)


class TokenBook:
    """(chain id, asset) -> symbol and decimals from the config; the asset is a token address
    (any case), ``native`` or a symbol. Unknown assets are shown as explicit base units."""

    def __init__(self, cfg: PayBridgeConfig) -> None:
        names = {c.name: c.chain_id for c in cfg.chains}
        self._by_key: dict[tuple[int, str], Token] = {}
        for asset in cfg.assets:
            chain_id = names[asset.chain]
            token = Token(asset.symbol, asset.decimals)
            self._by_key[(chain_id, asset.symbol.upper())] = token
            self._by_key[(chain_id, (asset.address or "native").lower())] = token

    def get(self, chain_id: int | None, asset: str | None) -> Token | None:
        if chain_id is None or not asset:
            return None
        found = self._by_key.get((int(chain_id), asset.lower()))
        return found or self._by_key.get((int(chain_id), asset.upper()))

    def show(self, chain_id: int | None, asset: str | None, base_units: int | str) -> str:
        token = self.get(chain_id, asset)
        if token is None:
            return f"{int(base_units)} base units of {asset or 'an unknown asset'}"
        return token.show(base_units)


def parse_amount_option(text: str | None, token: Token | None, option: str) -> int | None:
    """An amount option (``--amount "12.5 USDC"`` or ``"12500000 base units"``) -> base units;
    a wrong symbol, too many decimals or a bare number is a usage error (exit 2) naming it."""
    if text is None:
        return None
    if token is None:  # the asset is not configured: only explicit base units are exact
        token = Token("(unknown asset)", 0)
        if not text.strip().lower().endswith("base units"):
            fail(
                f"{option} {text!r}: this asset is not in the config, so give base units, "
                f'e.g. {option} "12500000 base units"',
                code=USAGE_ERROR,
            )
    try:
        return parse_token_amount(text, token.symbol, token.decimals, what=option)
    except MoneyError as exc:
        fail(str(exc), code=USAGE_ERROR)


def table(
    title: str | None, *columns: str, ids: Sequence[str] = (), keep: Sequence[str] = ()
) -> Table:
    """A table whose id columns (``ids``) are never wrapped or cut (``pr_c381…``): the other
    columns wrap first (long words fold, whole). ``keep``: short columns (fiat amounts) kept
    on one line too."""
    grid = Table(
        title=title,
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
        padding=(0, 1),
    )
    for name in columns:
        if name in ids or name in keep:
            grid.add_column(name, no_wrap=True, overflow="fold")
        else:
            grid.add_column(name, overflow="fold")
    return grid


#: the narrowest a wrapping column may get before a table is shown as one block per row
MIN_WRAP_WIDTH = 10


def print_table(grid: Table, empty: str) -> None:
    """Print ``grid``; ``empty`` when it has no rows. On a terminal too narrow for its whole
    ids plus readable other columns, each row is shown as a block of ``header: value`` lines
    instead, so that ids stay whole and nothing is squeezed to one letter per line."""
    if not grid.row_count:
        console.print(empty, highlight=False)
        return
    columns = grid.columns
    needed = 2 * (len(columns) - 1)
    for column in columns:
        texts = [str(column.header), *(str(c) for c in column.cells)]
        widest = max(len(line) for text in texts for line in text.split("\n"))
        needed += widest if column.no_wrap else min(widest, MIN_WRAP_WIDTH)
    if console.width >= needed:
        console.print(grid)
        return
    if grid.title:
        console.print(grid.title, highlight=False)
    cells = [list(column.cells) for column in columns]
    for row in range(grid.row_count):
        console.print()
        for column, values in zip(columns, cells, strict=True):
            value = str(values[row]).replace("\n", " ")
            console.print(f"{column.header}: {value}", highlight=False, soft_wrap=True)


def page_notice(what: str, shown_count: int, total: int, offset: int, limit: int) -> None:
    """Say on stderr when a list is cut (stdout stays the data), and how to see the rest."""
    if shown_count == total and offset == 0:
        return
    first = offset + 1 if shown_count else offset
    more = f"; next page: --offset {offset + limit}" if offset + shown_count < total else ""
    errors.print(
        f"showing {what} {first}-{offset + shown_count} of {total}{more}"
        f" (--limit {limit} --offset {offset})",
        highlight=False,
    )


def cell(*parts: object) -> str:
    """A table cell of several lines (each external text shown as plain text)."""
    return "\n".join(shown(part) for part in parts)


def print_fields(view: dict[str, Any], width: int = 20) -> None:
    """``key  value`` lines of a ``show`` command; empty values left out, lists joined, and
    long values (hashes, links) never broken by the console (the terminal wraps them)."""
    for key, value in view.items():
        if value is None or value == "" or value == []:
            continue
        text = ", ".join(map(str, value)) if isinstance(value, list) else value
        console.print(f"[bold]{key:>{width}}[/] {shown(text)}", highlight=False, soft_wrap=True)


def say(text: str) -> None:
    """One line of external text, never broken by the console (ids and links stay whole)."""
    console.print(shown(text), highlight=False, soft_wrap=True)
