"""Engine configuration: rules, tolerances per customer group, confidence bands, accounts.

Loadable from TOML (`ReconConfig.from_toml(path)`); the canonical JSON of the config is hashed
into the run manifest so an auditor can tell which settings produced a run.
"""

from __future__ import annotations

import json
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

RuleId = Literal["own_address", "address_reuse", "batch"]
ALL_RULES: list[RuleId] = ["own_address", "address_reuse", "batch"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ToleranceGroup(_Strict):
    """SAP OBA3-style limits: the stricter of the two applies; shortfalls only."""

    absolute: Decimal = Decimal("0")
    percent: Decimal = Decimal("0")
    write_off_reason: str = "PAYMENT_DIFFERENCE"
    #: the account its differences are written off to (default: ``accounts.write_off``)
    write_off_account: str | None = None

    @field_validator("absolute", "percent")
    @classmethod
    def _non_negative(cls, value: Decimal) -> Decimal:
        if value < 0:
            raise ValueError("tolerance limits must be >= 0")
        return value


class Bands(_Strict):
    """Confidence >= auto is applied; >= propose goes to review; below is suppressed."""

    auto: float = 0.90
    propose: float = 0.50


class Confidence(_Strict):
    """Confidence each rule outcome carries (the score step)."""

    own_address: float = 1.00
    own_address_late: float = 0.95
    address_reuse_exact: float = 0.95
    address_reuse_tolerance: float = 0.91
    batch: float = 0.92
    tie: float = 0.60
    reuse_after_quote_expiry: float = 0.70


class Accounts(_Strict):
    accounts_receivable: str = "1200 Accounts receivable"
    crypto_clearing: str = "1090 Crypto clearing"
    digital_asset: dict[str, str] = Field(
        default_factory=lambda: {
            "crypto_asset": "1500 Digital assets (fair value)",
            "financial_instrument": "1510 Stablecoin receivables",
        }
    )
    settlement_gain: str = "7100 Settlement gain"
    settlement_loss: str = "7200 Settlement loss"
    write_off: str = "6900 Payment differences"
    # No customer-credit account: an overpayment stays on the customer payment as its unapplied
    # part, i.e. a credit balance of the customer inside accounts receivable (NetSuite's own
    # treatment), so the subledger credits accounts receivable for it too.

    @model_validator(mode="before")
    @classmethod
    def _no_customer_credit(cls, data: object) -> object:
        if isinstance(data, dict) and "customer_credit" in data:
            raise ValueError(
                "accounts.customer_credit was removed: an overpayment stays in accounts "
                "receivable as the customer's unapplied payment (see reconciliation/README.md, "
                "'Overpayments'); delete the key"
            )
        return data


DEFAULT_EXPLORERS: dict[int, str] = {
    1: "https://etherscan.io/tx/",
    137: "https://polygonscan.com/tx/",
    8453: "https://basescan.org/tx/",
    42161: "https://arbiscan.io/tx/",
    11155111: "https://sepolia.etherscan.io/tx/",
}


class ReconConfig(_Strict):
    rules: list[RuleId] = Field(default_factory=lambda: list(ALL_RULES))
    final_statuses: list[str] = Field(default_factory=lambda: ["confirmed", "finalized"])
    tolerance_groups: dict[str, ToleranceGroup] = Field(
        default_factory=lambda: {
            "default": ToleranceGroup(absolute=Decimal("1.00"), percent=Decimal("0.5"))
        }
    )
    customer_groups: dict[str, str] = Field(default_factory=dict)
    bands: Bands = Bands()
    confidence: Confidence = Confidence()
    subset_max_candidates: int = Field(12, ge=1, le=20)
    subset_max_size: int = Field(4, ge=1, le=6)
    asset_classes: dict[str, str] = Field(default_factory=dict)
    default_asset_class: str = "crypto_asset"
    accounts: Accounts = Accounts()
    explorers: dict[int, str] = Field(default_factory=lambda: dict(DEFAULT_EXPLORERS))
    rate_scale: int = Field(18, ge=0, le=36)
    xlsx_max_rows: int = Field(5_000, ge=0)

    @field_validator("tolerance_groups")
    @classmethod
    def _has_default(cls, value: dict[str, ToleranceGroup]) -> dict[str, ToleranceGroup]:
        if "default" not in value:
            raise ValueError("tolerance_groups needs a 'default' group")
        return value

    @field_validator("rules")
    @classmethod
    def _ordered_unique(cls, value: list[RuleId]) -> list[RuleId]:
        if len(set(value)) != len(value):
            raise ValueError("rules must not repeat")
        return value

    @classmethod
    def from_toml(cls, path: Path) -> ReconConfig:
        with Path(path).open("rb") as handle:
            data = tomllib.load(handle)
        if "explorers" in data:
            data["explorers"] = {int(k): v for k, v in data["explorers"].items()}
        return cls.model_validate(data)

    def canonical_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    def asset_class(self, asset: str) -> str:
        return self.asset_classes.get(asset.lower(), self.default_asset_class)
