"""Settings of one NetSuite connection (an Airflow Connection or env vars in production)."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

ENV_PREFIX = "NETSUITE_"
#: settlement journal roles whose account depends on a key (asset class, gain/loss, reason code)
KEYED_ROLES = ("digital_asset", "write_off")


class SubsidiaryAccounts(BaseModel):
    """GL account internal ids one subsidiary posts settlements to (its own accounts only).

    The receivables account is not here: each payment uses the A/R account of the invoice it
    pays, read with the invoice at sync time.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    crypto_clearing: str = Field(description="bank-type account the crypto payments land in")
    digital_asset: dict[str, str] = Field(
        description="asset class (crypto_asset, financial_instrument, ...) -> account id"
    )
    settlement_gain: str
    settlement_loss: str
    write_off: dict[str, str] = Field(description="write-off reason code -> account id")
    time_zone: str | None = Field(
        default=None, description="IANA time zone of the subsidiary (default: the connection's)"
    )

    @field_validator("digital_asset", "write_off")
    @classmethod
    def _not_empty(cls, value: dict[str, str]) -> dict[str, str]:
        if not value or not all(value.values()):
            raise ValueError("needs at least one key with a non-empty account id")
        return value

    def account(self, role: str, key: str) -> str | None:
        """The account id of a settlement line's role and key (None: not configured)."""
        if role == "settlement_gain_loss":
            return self.settlement_gain if key == "gain" else self.settlement_loss
        if role in KEYED_ROLES:
            return getattr(self, role).get(key)
        return getattr(self, role, None)


class NetSuiteConnectionConfig(BaseModel):
    # hide_input_in_errors: a secret given with the wrong type (a number, a list) must not be
    # echoed back by the validation error that refuses it
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    name: str = "netsuite"
    account: str = Field(description="NetSuite account id, e.g. 1234567 or 1234567_SB1 (= realm)")
    consumer_key: SecretStr
    consumer_secret: SecretStr
    token_id: SecretStr
    token_secret: SecretStr
    base_url: str | None = Field(
        default=None,
        description="Override https://<account>.suitetalk.api.netsuite.com (simulator, proxy)",
    )
    accounts: dict[str, SubsidiaryAccounts] = Field(
        description="subsidiary internal id -> its GL accounts (crypto_clearing, digital_asset "
        "by asset class, settlement_gain, settlement_loss, write_off by reason code)"
    )
    time_zone: str = Field(
        default="UTC",
        description="IANA time zone of the company (NetSuite's company time zone preference): "
        "documents are dated by the receipt's block time in it",
    )
    property_validation: str = Field(
        default="error",
        description="X-NetSuite-PropertyNameValidation sent with writes: error refuses a "
        "misspelt field instead of ignoring it",
    )
    eligibility_filter: str | None = Field(
        default=None,
        description="Extra SuiteQL condition on invoice alias t, e.g. t.custbody_pb_crypto = 'T'",
    )
    # No default on purpose: a synced invoice must be billed where the merchant decided, never
    # on a built-in chain whose RPC is a placeholder. Required (and checked against the chain
    # and asset registry of paybridge.toml) by `paybridge erp sync`; posting does not need them.
    payment_chain: str | None = Field(
        default=None, description="Chain (name in paybridge.toml) synced invoices are billed on"
    )
    payment_asset: str | None = Field(
        default=None, description="Asset symbol (on payment_chain) synced invoices are billed in"
    )
    sync_overlap_s: Annotated[int, Field(ge=0, le=86_400)] = Field(
        default=900,
        description="how far before the stored watermark an incremental sync re-reads "
        "(rows committed late carry an older lastmodifieddate)",
    )
    page_size: Annotated[int, Field(ge=1, le=1000)] = 1000
    timeout_s: Annotated[float, Field(gt=0)] = 30.0
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 6
    backoff_initial_s: Annotated[float, Field(ge=0)] = 0.5
    backoff_max_s: Annotated[float, Field(ge=0)] = 30.0
    max_retry_after_s: Annotated[float, Field(ge=0)] = 120.0  # longest Retry-After we honour
    max_connections: Annotated[int, Field(ge=1, le=25)] = 4

    @model_validator(mode="before")
    @classmethod
    def _accounts_by_subsidiary(cls, data: object) -> object:
        accounts = data.get("accounts") if isinstance(data, dict) else None
        if isinstance(accounts, dict) and any(isinstance(v, str) for v in accounts.values()):
            raise ValueError(
                "accounts must map each subsidiary id to its own accounts, e.g. "
                '{"1": {"crypto_clearing": "301", "digital_asset": {"crypto_asset": "302"}, '
                '"settlement_gain": "303", "settlement_loss": "303", "write_off": '
                '{"PAYMENT_DIFFERENCE": "304"}}}; the A/R account now comes from each invoice'
            )
        return data

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    @field_validator("accounts")
    @classmethod
    def _zones(cls, value: dict[str, SubsidiaryAccounts]) -> dict[str, SubsidiaryAccounts]:
        for subsidiary, accounts in value.items():
            if accounts.time_zone is not None:
                try:
                    ZoneInfo(accounts.time_zone)
                except (ZoneInfoNotFoundError, ValueError) as exc:
                    raise ValueError(
                        f"{subsidiary}.time_zone: unknown IANA time zone {accounts.time_zone!r}"
                    ) from exc
        return value

    def zone_of(self, subsidiary: str) -> ZoneInfo:
        """The subsidiary's time zone; ``""`` (or one without its own): the connection's."""
        own = self.accounts.get(subsidiary)
        return ZoneInfo(own.time_zone if own and own.time_zone else self.time_zone)

    @field_validator("eligibility_filter")
    @classmethod
    def _single_condition(cls, value: str | None) -> str | None:
        if value is not None and (";" in value or "--" in value):
            raise ValueError("eligibility_filter must be one SuiteQL condition (no ';' or '--')")
        return value

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> NetSuiteConnectionConfig:
        """NETSUITE_ACCOUNT, _CONSUMER_KEY, _CONSUMER_SECRET, _TOKEN_ID, _TOKEN_SECRET (the
        ``netsuite`` package's names), NETSUITE_BASE_URL, NETSUITE_ACCOUNTS (JSON subsidiary ->
        accounts), NETSUITE_TIME_ZONE,
        NETSUITE_ELIGIBILITY_FILTER, NETSUITE_PAYMENT_CHAIN and NETSUITE_PAYMENT_ASSET (what
        synced invoices are billed in)."""
        env = os.environ if environ is None else environ
        missing = [
            f"{ENV_PREFIX}{k}"
            for k in ("ACCOUNT", "CONSUMER_KEY", "CONSUMER_SECRET", "TOKEN_ID", "TOKEN_SECRET")
            if not env.get(f"{ENV_PREFIX}{k}")
        ]
        if missing:
            raise ValueError(f"NetSuite connection: set {', '.join(missing)}")
        try:
            accounts = json.loads(env.get(f"{ENV_PREFIX}ACCOUNTS", "{}"))
        except ValueError as exc:
            raise ValueError(f"{ENV_PREFIX}ACCOUNTS must be a JSON object: {exc}") from exc
        return cls(
            account=env[f"{ENV_PREFIX}ACCOUNT"],
            consumer_key=SecretStr(env[f"{ENV_PREFIX}CONSUMER_KEY"]),
            consumer_secret=SecretStr(env[f"{ENV_PREFIX}CONSUMER_SECRET"]),
            token_id=SecretStr(env[f"{ENV_PREFIX}TOKEN_ID"]),
            token_secret=SecretStr(env[f"{ENV_PREFIX}TOKEN_SECRET"]),
            base_url=env.get(f"{ENV_PREFIX}BASE_URL") or None,
            accounts=accounts,
            time_zone=env.get(f"{ENV_PREFIX}TIME_ZONE") or "UTC",
            eligibility_filter=env.get(f"{ENV_PREFIX}ELIGIBILITY_FILTER") or None,
            payment_chain=env.get(f"{ENV_PREFIX}PAYMENT_CHAIN") or None,
            payment_asset=env.get(f"{ENV_PREFIX}PAYMENT_ASSET") or None,
        )


def load_connection_config(path: str | Path | None = None) -> NetSuiteConnectionConfig:
    """From a JSON/TOML file (same field names) when given, else from NETSUITE_* variables."""
    if path is None:
        return NetSuiteConnectionConfig.from_env()
    file = Path(path)
    text = file.read_text()
    data = tomllib.loads(text) if file.suffix == ".toml" else json.loads(text)
    if "netsuite" in data and isinstance(data["netsuite"], dict):
        data = data["netsuite"]
    return NetSuiteConnectionConfig(**data)
