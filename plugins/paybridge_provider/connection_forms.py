"""The connection forms an ERP admin fills in Airflow's UI, one per connection type.

Plain data, read by ``get_provider_info`` (Airflow 3 draws the form from it without importing
the hooks) and by each hook's ``get_ui_field_behaviour``/``get_connection_form_widgets``.
Extra fields are stored under their plain names in the Connection's extra.
"""

from __future__ import annotations

from typing import Any

Form = dict[str, Any]


def _text(label: str, description: str, *, secret: bool = False, default: Any = None) -> Form:
    schema: dict[str, Any] = {"type": ["string", "null"]}
    if secret:
        schema["format"] = "password"
    if default is not None:
        schema["default"] = default
    return {"label": label, "description": description, "schema": schema}


_PAYMENT = {
    "payment_chain": _text(
        "Payment chain", "Chain name from paybridge.toml that synced invoices are billed on"
    ),
    "payment_asset": _text("Payment asset", "Asset symbol on that chain, e.g. USDC"),
}

NETSUITE: Form = {
    "hook-name": "NetSuite (token-based authentication)",
    "conn-fields": {
        "account": _text("Account ID", "NetSuite account id, e.g. 1234567 or 1234567_SB1"),
        "token_id": _text("Token ID", "Access token id of the integration user", secret=True),
        "token_secret": _text("Token secret", "Access token secret", secret=True),
        "accounts": _text(
            "Posting accounts (JSON)",
            'Per subsidiary: {"1": {"crypto_clearing": "...", "digital_asset": {...}, ...}}',
        ),
        "eligibility_filter": _text(
            "Invoice filter (SuiteQL)", "Optional extra WHERE clause choosing invoices to bill"
        ),
        **_PAYMENT,
    },
    "ui-field-behaviour": {
        "hidden-fields": ["schema", "port"],
        "relabeling": {
            "host": "REST base URL (optional)",
            "login": "Consumer key",
            "password": "Consumer secret",
        },
        "placeholders": {
            "host": "https://1234567.suitetalk.api.netsuite.com",
            "login": "consumer key of the integration record",
            "account": "1234567_SB1",
        },
    },
}

SAP_S4: Form = {
    "hook-name": "SAP S/4HANA (OData + SOAP)",
    "conn-fields": {
        "client": _text("SAP client", "Three digits (sap-client), e.g. 100", default="100"),
        "company_codes": _text("Company codes", "Comma-separated, e.g. 1010,1710"),
        "accounts": _text("G/L accounts (JSON)", "Per company code: clearing, digital asset, ..."),
        **_PAYMENT,
    },
    "ui-field-behaviour": {
        "hidden-fields": ["schema", "port"],
        "relabeling": {
            "host": "SAP base URL",
            "login": "Communication user",
            "password": "Password",
        },
        "placeholders": {"host": "https://my-s4.example.com:44300", "client": "100"},
    },
}

SAP_RFC: Form = {
    "hook-name": "SAP ECC (RFC BAPIs over SOAP-RFC)",
    "conn-fields": {
        "client": _text("SAP client", "Three digits (sap-client), e.g. 800", default="800"),
        "company_codes": _text("Company codes", "Comma-separated, e.g. 1000"),
        "accounts": _text("G/L accounts (JSON)", "Per company code: clearing, digital asset, ..."),
        **_PAYMENT,
    },
    "ui-field-behaviour": {
        "hidden-fields": ["schema", "port"],
        "relabeling": {"host": "SAP base URL (ICM)", "login": "RFC user", "password": "Password"},
        "placeholders": {"host": "https://my-ecc.example.com:8443"},
    },
}

EVM_RPC: Form = {
    "hook-name": "EVM chain (JSON-RPC node)",
    "conn-fields": {
        "chain_name": _text("Chain name", "Name of the chain in paybridge.toml, e.g. base"),
        "chain_id": _text("Expected chain id", "e.g. 8453; the test refuses a node on another"),
    },
    "ui-field-behaviour": {
        "hidden-fields": ["schema", "port", "login", "password"],
        "relabeling": {"host": "RPC URL"},
        "placeholders": {"host": "https://rpc.example.com/v1/KEY"},
    },
}

PAYBRIDGE_STORE: Form = {
    "hook-name": "PayBridge store",
    "conn-fields": {
        "database_url": _text(
            "Database URL",
            "SQLAlchemy URL of the PayBridge store, e.g. postgresql+psycopg://...",
            secret=True,
        ),
        "config_path": _text("paybridge.toml path", "Path on the workers, e.g. /opt/paybridge/x"),
    },
    "ui-field-behaviour": {
        "hidden-fields": ["schema", "port", "host", "login", "password"],
        "relabeling": {},
        "placeholders": {"config_path": "/opt/paybridge/config/paybridge.toml"},
    },
}


def field_behaviour(form: Form) -> dict[str, Any]:
    """The ``get_ui_field_behaviour`` shape (snake_case keys) of a form."""
    behaviour = form["ui-field-behaviour"]
    return {
        "hidden_fields": list(behaviour["hidden-fields"]),
        "relabeling": dict(behaviour["relabeling"]),
        "placeholders": dict(behaviour["placeholders"]),
    }
