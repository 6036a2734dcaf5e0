"""Settings of one NetSuite connection (an Airflow Connection or env vars in production)."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

REQUIRED_ROLES = ("ar", "crypto_clearing")
ENV_PREFIX = "NETSUITE_"


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
    accounts: dict[str, str] = Field(
        description="GL account internal ids by role: ar, crypto_clearing, digital_asset, "
        "settlement_gain_loss, write_off, customer_credit"
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
    page_size: Annotated[int, Field(ge=1, le=1000)] = 1000
    timeout_s: Annotated[float, Field(gt=0)] = 30.0
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 6
    backoff_initial_s: Annotated[float, Field(ge=0)] = 0.5
    backoff_max_s: Annotated[float, Field(ge=0)] = 30.0
    max_retry_after_s: Annotated[float, Field(ge=0)] = 120.0  # longest Retry-After we honour
    max_connections: Annotated[int, Field(ge=1, le=25)] = 4

    @field_validator("accounts")
    @classmethod
    def _required_roles(cls, value: dict[str, str]) -> dict[str, str]:
        missing = [role for role in REQUIRED_ROLES if not value.get(role)]
        if missing:
            raise ValueError(f"accounts: missing GL account id for role(s) {missing}")
        return value

    @field_validator("eligibility_filter")
    @classmethod
    def _single_condition(cls, value: str | None) -> str | None:
        if value is not None and (";" in value or "--" in value):
            raise ValueError("eligibility_filter must be one SuiteQL condition (no ';' or '--')")
        return value

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> NetSuiteConnectionConfig:
        """NETSUITE_ACCOUNT, _CONSUMER_KEY, _CONSUMER_SECRET, _TOKEN_ID, _TOKEN_SECRET (the
        ``netsuite`` package's names), NETSUITE_BASE_URL, NETSUITE_ACCOUNTS (JSON role -> id),
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
