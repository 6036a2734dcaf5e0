"""Names and units a person reads in the reports: chain and token names, token amounts with
their symbol, fiat at its ISO 4217 exponent, long ids shortened (the full value kept beside).

The engine works in chain ids, asset addresses and integer base units; reports show
``Base · USDC`` and ``480.00 USDC`` instead of ``8453 0x833589fc``. Amounts are formatted
exactly from integers (no float). The built-in registry mirrors ``paybridge/defaults.toml``
(a test keeps them equal); the store run builds its labels from the live configuration.
This is a private formatter of the reports; the CLI has its own (to be unified).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from paybridge.domain.amounts import format_base_units, format_fiat
from paybridge.domain.money import MoneyError, currency_exponent


@dataclass(frozen=True)
class Token:
    symbol: str
    decimals: int


#: chain id -> name (paybridge/defaults.toml, plus the public test networks the engine knows)
DEFAULT_CHAINS: dict[int, str] = {
    1: "Ethereum",
    137: "Polygon",
    8453: "Base",
    42161: "Arbitrum",
    31337: "Anvil (local)",
    11155111: "Sepolia",
}

#: (chain id, asset) -> token; asset is the lower-case contract address or "native"
DEFAULT_TOKENS: dict[tuple[int, str], Token] = {
    (1, "native"): Token("ETH", 18),
    (1, "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"): Token("USDC", 6),
    (1, "0xdac17f958d2ee523a2206206994597c13d831ec7"): Token("USDT", 6),
    (137, "native"): Token("POL", 18),
    (137, "0x3c499c542cef5e3811e1192ce70d8cc03d5c3359"): Token("USDC", 6),
    (8453, "native"): Token("ETH", 18),
    (8453, "0x833589fcd6edb6e08f4c7c32d4f71b54bda02913"): Token("USDC", 6),
    (42161, "native"): Token("ETH", 18),
    (42161, "0xaf88d065e77c8cc2239327c5edb3a432268e5831"): Token("USDC", 6),
    (31337, "native"): Token("ETH", 18),
    (31337, "0x5fbdb2315678afecb367f032d93f642f64180aa3"): Token("USDC", 6),
    (31337, "0xe7f1725e7734ce288f8367e1bb143e90bb3f0512"): Token("DAI", 18),
    (11155111, "native"): Token("ETH", 18),
}


def short_id(text: str, keep: int = 10) -> str:
    """``0x1234ab…89ef``: long ids shortened for tables (the full value goes in title/copy)."""
    text = str(text)
    if len(text) <= 2 * keep + 3:
        return text
    return f"{text[:keep]}…{text[-6:]}"


def units_text(base_units: int, decimals: int, min_places: int = 2) -> str:
    """Exact token units from base units (the display rule of ``paybridge.domain.amounts``)."""
    return format_base_units(int(base_units), decimals, min_fraction_digits=min_places)


def fiat_exponent(currency: str) -> int:
    try:
        return currency_exponent(currency)
    except MoneyError:
        return 2


def fiat_text(amount: Decimal | str, currency: str) -> str:
    """``12,345.60 USD``, ``1,200 JPY``, ``1.250 BHD``: at the currency's ISO exponent, never
    rounded (``paybridge.domain.amounts.format_fiat``); a code that is not ISO 4217 as given."""
    try:
        return format_fiat(amount, currency)
    except MoneyError:
        return f"{amount} {currency}"


@dataclass(frozen=True)
class ReportLabels:
    chains: dict[int, str] = field(default_factory=lambda: dict(DEFAULT_CHAINS))
    tokens: dict[tuple[int, str], Token] = field(default_factory=lambda: dict(DEFAULT_TOKENS))

    def chain(self, chain_id: int | str) -> str:
        try:
            number = int(chain_id)
        except (TypeError, ValueError):
            return str(chain_id)
        return self.chains.get(number, f"chain {number}")

    def token(self, chain_id: int | str, asset: str) -> Token | None:
        try:
            return self.tokens.get((int(chain_id), str(asset).lower()))
        except (TypeError, ValueError):
            return None

    def asset(self, chain_id: int | str, asset: str) -> str:
        token = self.token(chain_id, asset)
        return token.symbol if token else short_id(str(asset), 6)

    def chain_asset(self, chain_id: int | str, asset: str) -> str:
        return f"{self.chain(chain_id)} · {self.asset(chain_id, asset)}"

    def amount(self, chain_id: int | str, asset: str, base_units: int | str) -> str:
        """``480.00 USDC``; base units said explicitly where the token is unknown."""
        text = str(base_units).strip()
        if not text or text.lstrip("-").isdigit() is False:
            return text
        token = self.token(chain_id, asset)
        if token is None:
            return f"{int(text):,} base units"
        return f"{units_text(int(text), token.decimals)} {token.symbol}"

    def with_decimals(self, known: Iterable[tuple[int, str, int]]) -> ReportLabels:
        """Tokens the inputs describe (rates.csv carries decimals): unknown symbols shown short."""
        tokens = dict(self.tokens)
        for chain_id, asset, decimals in known:
            key = (int(chain_id), str(asset).lower())
            if key not in tokens:
                tokens[key] = Token(
                    short_id(key[1], 6) if key[1] != "native" else "native", decimals
                )
        return ReportLabels(dict(self.chains), tokens)
