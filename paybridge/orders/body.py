"""The create-order body as integrators send it (the seed's fields, as written).

``amount`` is read from the JSON text as a Decimal (never through a float). ``currency`` is
the asset the payer sends ("ETH", "USDC"); with ``pricing_currency`` ("USD") the amount is in
that currency and is converted at the asset's configured rate (a fiat-priced order paid in a
chosen asset); without it the amount is in the asset itself.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: What integrators write for a chain: the seed's "MAINNET", common names, or chain ids.
NETWORK_ALIASES = {
    "mainnet": "ethereum",
    "eth": "ethereum",
    "ethereum-mainnet": "ethereum",
    "homestead": "ethereum",
    "matic": "polygon",
    "polygon-mainnet": "polygon",
    "base-mainnet": "base",
    "arbitrum-one": "arbitrum",
    "arbitrum-mainnet": "arbitrum",
    "local": "anvil",
    "localhost": "anvil",
}


class CreateOrder(BaseModel):
    """POST /v1/payments/create-order."""

    model_config = ConfigDict(extra="forbid")

    amount: Decimal = Field(
        gt=0,
        description="Amount, as a JSON number or string; in `pricing_currency` when given, "
        "otherwise in the asset `currency`.",
        examples=["0.05"],
    )
    currency: str = Field(
        min_length=1,
        max_length=16,
        description="The asset the payer sends (ETH, USDC, ...).",
        examples=["ETH"],
    )
    network: str | int = Field(
        description="Chain: MAINNET, a configured chain name (ethereum, polygon, base, "
        "arbitrum, anvil) or a chain id.",
        examples=["MAINNET"],
    )
    pricing_currency: str | None = Field(
        default=None,
        min_length=3,
        max_length=3,
        description="ISO 4217 currency `amount` is in; converted to `currency` at its rate.",
        examples=["USD"],
    )
    description: str | None = Field(default=None, max_length=2000)
    metadata: dict[str, Any] = Field(default_factory=dict)
    webhook_url: str | None = Field(
        default=None,
        max_length=2000,
        description="Must be the URL of a registered webhook endpoint (`paybridge webhooks "
        "add`); that endpoint's secret signs this payment's events.",
    )

    @field_validator("amount")
    @classmethod
    def _finite(cls, value: Decimal) -> Decimal:
        if not value.is_finite():
            raise ValueError("amount must be a finite number")
        return value

    @field_validator("metadata")
    @classmethod
    def _small_metadata(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value, default=str)) > 16_000:
            raise ValueError("metadata is larger than 16 000 characters of JSON")
        return value


def parse_json(raw: bytes) -> Any:
    """JSON with numbers as Decimal, so an amount like 0.1 stays exactly 0.1."""
    return json.loads(raw, parse_float=Decimal)


def body_fingerprint(body: CreateOrder) -> str:
    """Same meaning -> same fingerprint (key order, 0.10 vs 0.1), for Idempotency-Key."""
    data = body.model_dump(mode="json")
    data["amount"] = format(body.amount.normalize(), "f")
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
