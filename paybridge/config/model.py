"""Configuration model: the chain and asset registry, merchant key, quote policy, database URL.

Validated with pydantic so that a typo in an address or a missing
decimals field fails at start-up with the path of the bad key, not at 3 a.m. in a DAG run.
Precedence: built-in ``defaults.toml`` < the file given (or ``./paybridge.toml``) < environment.
"""

from __future__ import annotations

import os
from decimal import Decimal
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from paybridge.config.portal import PortalConfig
from paybridge.domain.money import currency_exponent

CONFIG_ENV = "PAYBRIDGE_CONFIG"
DATABASE_URL_ENV = "PAYBRIDGE_DATABASE_URL"
DEFAULT_CONFIG_FILE = "paybridge.toml"
DEFAULT_DATABASE_URL = "sqlite:///paybridge.db"


class ConfigError(ValueError):
    """Configuration that cannot be used; the message names the key and what to do."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _checksummed(value: str | None, what: str) -> str | None:
    from paybridge.addresses import is_checksummed  # not eth_utils: CLI start-up stays fast

    if value is not None and not is_checksummed(value):
        raise ValueError(f"{what} {value!r} is not an EIP-55 checksummed address")
    return value


class FinalityPolicy(_Strict):
    """How a receipt becomes *confirmed* and *finalized* on this chain."""

    confirmed: Literal["safe", "depth"]
    finalized: Literal["finalized", "depth"]
    confirmations: int = Field(ge=0, description="depth used for 'confirmed' when there is no tag")
    finality_depth: int = Field(ge=1, description="depth used for 'finalized' when there is no tag")


class ChainConfig(_Strict):
    name: str
    chain_id: int = Field(gt=0)
    rpc_url: str
    finality: FinalityPolicy
    traces_enabled: bool = False
    max_block_range: int = Field(default=2000, gt=0)
    explorer_tx_url: str | None = None
    xpub: str = Field(default="", description="this chain's account xpub; wins over merchant.xpub")

    def explorer_link(self, tx_hash: str) -> str | None:
        return self.explorer_tx_url.format(tx_hash=tx_hash) if self.explorer_tx_url else None


class RateConfig(_Strict):
    source: Literal["fixed", "pegged", "chainlink"]
    currency: str = "USD"
    price: Decimal | None = None
    feed: str | None = None
    heartbeat_seconds: int | None = Field(default=None, gt=0)
    max_depeg: Decimal = Decimal("0.005")

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        currency_exponent(value)
        return value

    @field_validator("feed")
    @classmethod
    def _feed_checksum(cls, value: str | None) -> str | None:
        return _checksummed(value, "feed")

    @model_validator(mode="after")
    def _source_fields(self) -> RateConfig:
        if self.source == "fixed" and (self.price is None or self.price <= 0):
            raise ValueError("a fixed rate needs a positive 'price'")
        if self.source == "chainlink" and (self.feed is None or self.heartbeat_seconds is None):
            raise ValueError("a chainlink rate needs 'feed' and 'heartbeat_seconds'")
        return self


class AssetConfig(_Strict):
    chain: str
    symbol: str
    kind: Literal["native", "erc20"]
    address: str | None = None
    decimals: int = Field(ge=0, le=77)
    rate: RateConfig
    #: how the asset is accounted for: ``crypto_asset`` (intangible at fair value) or
    #: ``financial_instrument`` (a fiat-backed stablecoin: a claim on the issuer); each has its
    #: own digital-asset account. Default: financial_instrument for pegged stablecoins.
    asset_class: str | None = None

    @property
    def accounting_class(self) -> str:
        if self.asset_class:
            return self.asset_class
        return "financial_instrument" if self.rate.source == "pegged" else "crypto_asset"

    @field_validator("address")
    @classmethod
    def _address_checksum(cls, value: str | None) -> str | None:
        return _checksummed(value, "address")

    @model_validator(mode="after")
    def _address_matches_kind(self) -> AssetConfig:
        if (self.kind == "erc20") != (self.address is not None):
            raise ValueError("an erc20 asset needs 'address'; a native asset must not have one")
        return self


class MerchantConfig(_Strict):
    name: str = "Merchant"
    xpub: str = ""


class QuoteConfig(_Strict):
    lock_minutes: int = Field(default=15, gt=0)
    late_window_hours: int = Field(default=24, ge=0)


class SettlementPolicy(_Strict):
    confirmed_max_amount: Decimal = Decimal("10000")


class DatabaseConfig(_Strict):
    url: str = DEFAULT_DATABASE_URL


class AuditConfig(_Strict):
    """Where the audit key ring is: outside the database (``$PAYBRIDGE_AUDIT_KEY_FILE`` and
    ``$PAYBRIDGE_AUDIT_KEY`` win). Relative paths are from the working directory."""

    key_file: str = "paybridge-audit.key"


class StatusThresholds(_Strict):
    """``[status]``: when ``paybridge status`` (and the monitoring DAG) call for attention."""

    max_chain_lag_blocks: int = Field(default=500, ge=0)
    max_chain_lag_seconds: int = Field(default=900, ge=0)  # since the watcher last advanced
    max_finality_gap_blocks: int = Field(default=1000, ge=0)  # head - finalized
    max_pending_settlement_age_seconds: int = Field(default=3600, ge=0)
    max_needs_attention_settlements: int = Field(default=0, ge=0)
    max_open_exception_age_seconds: int = Field(default=3 * 86_400, ge=0)
    #: a DAG whose last successful run is older than this (seconds), by dag_id
    max_dag_success_age_seconds: dict[str, int] = Field(
        default_factory=lambda: {
            "paybridge_chain_watch": 900,
            "paybridge_erp_sync": 3600,
            "paybridge_payment_requests": 1800,
        }
    )


class ApiConfig(_Strict):
    """The payment API and people: the server key that hashes API keys and user tokens (a
    file outside the database, ``$PAYBRIDGE_API_KEY_FILE`` wins), the bootstrap admin's token
    file, the per-key request budget, and the public base URL payment links use (default:
    the URL the request came in on)."""

    key_file: str = "paybridge-api.key"
    #: the token of the admin `paybridge init` creates (mode 0600); $PAYBRIDGE_TOKEN wins
    token_file: str = "paybridge-admin.token"
    rate_limit_per_minute: int = Field(default=600, gt=0)
    public_url: str = ""


class WebhooksConfig(_Strict):
    """Receivers on loopback or private networks are refused unless allowed (tests, LANs)."""

    allow_private_urls: bool = False


class NotificationsConfig(_Strict):
    """Payment-link e-mails to ERP invoices' customers (`paybridge notify send`). Templates:
    ``templates_dir`` holding ``subject.txt`` and ``body.txt`` (Jinja), per merchant; the
    built-in ones otherwise. Links use ``[api] public_url``."""

    enabled: bool = False
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, gt=0, le=65535)
    smtp_starttls: bool = False
    smtp_user: str = ""
    from_address: str = "billing@example.com"
    templates_dir: str = ""


class PayBridgeConfig(_Strict):
    merchant: MerchantConfig = MerchantConfig()
    status: StatusThresholds = StatusThresholds()
    api: ApiConfig = ApiConfig()
    webhooks: WebhooksConfig = WebhooksConfig()
    notifications: NotificationsConfig = NotificationsConfig()
    portal: PortalConfig = PortalConfig()
    quotes: QuoteConfig = QuoteConfig()
    settlement_policy: SettlementPolicy = SettlementPolicy()
    database: DatabaseConfig = DatabaseConfig()
    audit: AuditConfig = AuditConfig()
    chains: list[ChainConfig]
    assets: list[AssetConfig]
    #: "EUR/USD" = price of one EUR in USD: the exchange rate a settlement of an invoice in a
    #: currency other than its company's base currency is posted with (a fixed table; the
    #: same rate is recorded in the settlement the subledger keeps)
    fx_rates: dict[str, Decimal] = Field(default_factory=dict)

    @field_validator("fx_rates")
    @classmethod
    def _fx_pairs(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for pair, rate in value.items():
            parts = pair.split("/")
            if len(parts) != 2 or not all(len(p) == 3 and p.isalpha() for p in parts):
                raise ValueError(f"fx_rates: {pair!r} is not a pair like 'EUR/USD'")
            if not rate.is_finite() or rate <= 0:
                raise ValueError(f"fx_rates.{pair}: rate must be positive")
        return {pair.upper(): rate for pair, rate in value.items()}

    def fx_rate(self, currency: str, base: str) -> Decimal | None:
        """Price of one ``currency`` in ``base`` (1 when they are the same), else None."""
        if currency.upper() == base.upper():
            return Decimal(1)
        return self.fx_rates.get(f"{currency}/{base}".upper())

    @model_validator(mode="after")
    def _registry_consistent(self) -> PayBridgeConfig:
        names = [c.name for c in self.chains]
        ids = [c.chain_id for c in self.chains]
        if len(set(names)) != len(names) or len(set(ids)) != len(ids):
            raise ValueError("chain names and chain ids must be unique")
        seen: set[tuple[str, str]] = set()
        contracts: dict[tuple[str, str], str] = {}
        for asset in self.assets:
            if asset.chain not in names:
                raise ValueError(f"asset {asset.symbol} names unknown chain {asset.chain!r}")
            key = (asset.chain, asset.symbol)
            if key in seen:
                raise ValueError(f"asset {asset.symbol} is listed twice on {asset.chain}")
            seen.add(key)
            if asset.address is None:
                continue
            other = contracts.setdefault((asset.chain, asset.address.lower()), asset.symbol)
            if other != asset.symbol:  # one token contract, two meanings: refuse, never pick one
                raise ValueError(
                    f"assets {other} and {asset.symbol} on {asset.chain} have the same "
                    f"'address' (assets[{asset.chain}/{other}].address = "
                    f"assets[{asset.chain}/{asset.symbol}].address = {asset.address}); a token "
                    "contract can be one asset only: remove one, or set enabled = false on the "
                    "built-in entry"
                )
        return self

    @cached_property
    def _chains_by_name(self) -> dict[str, ChainConfig]:
        return {c.name: c for c in self.chains}

    def chain(self, name_or_id: str | int) -> ChainConfig:
        """Look a chain up by name ('base') or id (8453, '8453')."""
        for chain in self.chains:
            if name_or_id in (chain.name, chain.chain_id, str(chain.chain_id)):
                return chain
        known = ", ".join(f"{c.name} ({c.chain_id})" for c in self.chains)
        raise ConfigError(f"unknown chain {name_or_id!r}; configured chains: {known}")

    def asset(self, chain: str | int, symbol: str) -> AssetConfig:
        chain_name = self.chain(chain).name
        for asset in self.assets:
            if asset.chain == chain_name and asset.symbol.upper() == symbol.upper():
                return asset
        known = ", ".join(a.symbol for a in self.assets if a.chain == chain_name)
        raise ConfigError(f"unknown asset {symbol!r} on {chain_name}; configured: {known}")

    def assets_on(self, chain: str | int) -> list[AssetConfig]:
        chain_name = self.chain(chain).name
        return [a for a in self.assets if a.chain == chain_name]

    @property
    def database_url(self) -> str:
        return os.environ.get(DATABASE_URL_ENV) or self.database.url
