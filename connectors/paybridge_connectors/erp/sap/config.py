"""Settings of one SAP connection (S/4HANA over OData + SOAP, or ECC over RFC BAPIs).

Validated with pydantic so that a wrong setting is refused before anything talks to SAP, with
the key named (``accounts.1010.digital_asset``). The CLI reads ``SAP_*`` variables or a file
(JSON/TOML, optionally under ``[sap]``); Airflow a Connection's extra.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

ENV_PREFIX = "SAP_"
_GL = re.compile(r"^[0-9A-Za-z]{1,10}$")  # HKONT / SAKNR: CHAR 10, ALPHA conversion
_CODE = re.compile(r"^[0-9A-Z]{1,4}$")  # BUKRS: CHAR 4


def _zone(name: str, key: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{key}: {name!r} is not an IANA time zone such as Europe/Berlin") from exc


def _gl(value: str, key: str) -> str:
    if not isinstance(value, str) or not _GL.match(value):
        raise ValueError(f"{key}: {value!r} is not a G/L account number (1-10 letters or digits)")
    return value


class CompanyCodeAccounts(BaseModel):
    """G/L accounts of one company code (charts of accounts differ between company codes)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    clearing: str = Field(description="crypto clearing G/L account (incoming crypto payments)")
    digital_asset: dict[str, str] = Field(
        description="digital-asset G/L account per asset class (e.g. USDC, ETH)"
    )
    gain: str = Field(description="realised settlement gain")
    loss: str = Field(description="realised settlement loss")
    write_off: dict[str, str] = Field(
        description="payment-difference G/L account per write-off reason (key 'default' = any)"
    )
    reason_codes: dict[str, str] = Field(
        default_factory=dict,
        description="SAP payment-difference reason code (T053R, 3 chars) per write-off reason",
    )
    receivables: str | None = Field(
        default=None, description="customer reconciliation account (read-only check)"
    )
    time_zone: str | None = Field(
        default=None, description="IANA zone of the company code (default: the connection's)"
    )

    @field_validator("write_off", mode="before")
    @classmethod
    def _one_account_for_all(cls, value: object) -> object:
        return {"default": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _accounts_well_formed(self) -> CompanyCodeAccounts:
        for key in ("clearing", "gain", "loss"):
            _gl(getattr(self, key), key)
        if not self.digital_asset:
            raise ValueError("digital_asset: name at least one asset class and its G/L account")
        for asset_class, account in self.digital_asset.items():
            _gl(account, f"digital_asset.{asset_class}")
        if not self.write_off:
            raise ValueError("write_off: give a G/L account (or one per reason)")
        for reason, account in self.write_off.items():
            _gl(account, f"write_off.{reason}")
        if self.time_zone is not None:
            _zone(self.time_zone, "time_zone")
        for reason, code in self.reason_codes.items():
            if not (isinstance(code, str) and 1 <= len(code) <= 3):
                raise ValueError(f"reason_codes.{reason}: {code!r} is not a 1-3 character code")
        return self


class SapConnectionConfig(BaseModel):
    # hide_input_in_errors: a secret given with the wrong type must not be echoed back
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    name: str = "sap"
    system: Literal["s4", "ecc"] = Field(description="S/4HANA (OData + SOAP) or ECC (RFC BAPIs)")
    base_url: str = Field(description="https://host:port of the SAP system (ICM/Web Dispatcher)")
    client: str = Field(description="SAP client (sap-client), 3 digits")
    user: str | None = None
    password: SecretStr | None = None
    oauth_token_url: str | None = Field(default=None, description="OAuth 2.0 client credentials")
    oauth_client_id: str | None = None
    oauth_client_secret: SecretStr | None = None
    company_codes: tuple[str, ...] = Field(description="company codes to sync and post in")
    accounts: dict[str, CompanyCodeAccounts] = Field(description="G/L accounts per company code")
    customers: tuple[str, ...] = Field(
        default=(), description="ECC: customers whose open items are read (the BAPI needs one)"
    )
    payment_document_type: str = "DZ"
    clearing_document_type: str = "DZ"
    eligible_document_types: tuple[str, ...] = ("DR", "RV")
    eligible_payment_methods: tuple[str, ...] = ()  # empty: any payment method
    asset_class: str | None = Field(
        default=None,
        description="asset class of digital-asset lines without one; default: payment_asset",
    )
    time_zone: str = Field(
        default="UTC",
        description="IANA zone the company codes book in (documents are dated by the day the "
        "payment arrived there)",
    )
    currency_decimals: dict[str, int] = Field(
        default_factory=dict,
        description="the system's TCURX decimals where they differ from ISO 4217",
    )
    created_by_user: str | None = None  # SOAP CreatedByUser; default: user
    payment_chain: str | None = None
    payment_asset: str | None = None
    sync_overlap_hours: Annotated[int, Field(ge=1, le=24 * 31)] = 24
    page_size: Annotated[int, Field(ge=1, le=5000)] = 1000
    timeout_s: Annotated[float, Field(gt=0)] = 30.0
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 6
    backoff_initial_s: Annotated[float, Field(ge=0)] = 0.5
    backoff_max_s: Annotated[float, Field(ge=0)] = 30.0
    clearing_checks: Annotated[int, Field(ge=1, le=100)] = 10
    clearing_check_interval_s: Annotated[float, Field(ge=0)] = 1.0
    rfc_transport: Literal["soap", "pyrfc"] = "soap"
    rfc_params: dict[str, str] = Field(
        default_factory=dict, description="extra pyrfc Connection parameters (ashost, sysnr...)"
    )

    @field_validator("client")
    @classmethod
    def _three_digits(cls, value: str) -> str:
        if not re.fullmatch(r"[0-9]{3}", value):
            raise ValueError(f"client: {value!r} is not a 3-digit SAP client such as 100")
        return value

    @field_validator("base_url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"base_url: {value!r} must start with https:// (or http://)")
        return value.rstrip("/")

    @field_validator("company_codes", "customers", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        return (
            tuple(c.strip() for c in value.split(",") if c.strip())
            if isinstance(value, str)
            else value
        )

    @model_validator(mode="after")
    def _consistent(self) -> SapConnectionConfig:
        if not self.company_codes:
            raise ValueError("company_codes: name at least one company code")
        for code in self.company_codes:
            if not _CODE.match(code):
                raise ValueError(f"company_codes: {code!r} is not a company code (1-4 chars)")
            if code not in self.accounts:
                raise ValueError(f"accounts.{code}: no G/L accounts for company code {code}")
        basic = self.user is not None and self.password is not None
        oauth = bool(self.oauth_token_url and self.oauth_client_id and self.oauth_client_secret)
        if self.rfc_transport == "soap" and not (basic or oauth):
            raise ValueError(
                "credentials: set user and password (Basic auth), or oauth_token_url, "
                "oauth_client_id and oauth_client_secret (OAuth client credentials)"
            )
        if self.system == "ecc" and not self.customers:
            raise ValueError("customers: ECC reads open items per customer; list them")
        if self.system == "ecc" and oauth and not basic:
            raise ValueError("credentials: ECC over SOAP-RFC needs user and password")
        _zone(self.time_zone, "time_zone")
        for code, decimals in self.currency_decimals.items():
            if not 0 <= decimals <= 4:
                raise ValueError(f"currency_decimals.{code}: {decimals} is not 0-4")
        return self

    def zone(self, company_code: str) -> ZoneInfo:
        """The time zone a company code books in (its own, else the connection's)."""
        return ZoneInfo(self.accounts[company_code].time_zone or self.time_zone)

    @property
    def sap_user(self) -> str:
        return self.created_by_user or self.user or "PAYBRIDGE"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> SapConnectionConfig:
        """SAP_SYSTEM (S4|ECC), SAP_BASE_URL, SAP_CLIENT, SAP_USER, SAP_PASSWORD (or
        SAP_OAUTH_TOKEN_URL, _CLIENT_ID, _CLIENT_SECRET), SAP_COMPANY_CODES (comma list),
        SAP_ACCOUNTS (JSON company code -> accounts), SAP_PAYMENT_CHAIN, SAP_PAYMENT_ASSET."""
        env = os.environ if environ is None else environ
        missing = [
            f"{ENV_PREFIX}{k}"
            for k in ("SYSTEM", "BASE_URL", "CLIENT", "COMPANY_CODES", "ACCOUNTS")
            if not env.get(f"{ENV_PREFIX}{k}")
        ]
        if missing:
            raise ValueError(f"SAP connection: set {', '.join(missing)}")
        try:
            accounts = json.loads(env[f"{ENV_PREFIX}ACCOUNTS"])
        except ValueError as exc:
            raise ValueError(f"{ENV_PREFIX}ACCOUNTS must be a JSON object: {exc}") from exc
        values: dict[str, object] = {
            "system": env[f"{ENV_PREFIX}SYSTEM"].lower(),
            "base_url": env[f"{ENV_PREFIX}BASE_URL"],
            "client": env[f"{ENV_PREFIX}CLIENT"],
            "company_codes": env[f"{ENV_PREFIX}COMPANY_CODES"],
            "accounts": accounts,
        }
        for key in (
            "user",
            "password",
            "oauth_token_url",
            "oauth_client_id",
            "oauth_client_secret",
            "payment_chain",
            "payment_asset",
            "name",
            "customers",
            "time_zone",
        ):
            if env.get(f"{ENV_PREFIX}{key.upper()}"):
                values[key] = env[f"{ENV_PREFIX}{key.upper()}"]
        return cls(**values)  # type: ignore[arg-type]


def load_sap_config(path: str | Path | None = None) -> SapConnectionConfig:
    """From a JSON/TOML file (same field names, optionally under ``[sap]``), else SAP_*."""
    if path is None:
        return SapConnectionConfig.from_env()
    file = Path(path)
    text = file.read_text()
    data = tomllib.loads(text) if file.suffix == ".toml" else json.loads(text)
    if "sap" in data and isinstance(data["sap"], dict):
        data = data["sap"]
    return SapConnectionConfig(**data)
