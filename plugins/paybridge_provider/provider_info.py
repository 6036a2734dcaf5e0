"""``get_provider_info``: what Airflow learns about PayBridge from the entry point."""

from __future__ import annotations

from typing import Any

from paybridge_provider import connection_forms as forms

HOOKS = "paybridge_provider.hooks"
CONNECTION_TYPES: list[tuple[str, str, forms.Form]] = [
    ("netsuite", f"{HOOKS}.netsuite_hook.NetSuiteHook", forms.NETSUITE),
    ("sap_s4", f"{HOOKS}.sap_hook.SapS4Hook", forms.SAP_S4),
    ("sap_rfc", f"{HOOKS}.sap_hook.SapRfcHook", forms.SAP_RFC),
    ("evm_rpc", f"{HOOKS}.evm_hook.EvmRpcHook", forms.EVM_RPC),
    ("paybridge", f"{HOOKS}.store_hook.PayBridgeHook", forms.PAYBRIDGE_STORE),
]


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "paybridge",
        "name": "PayBridge",
        "description": "Crypto invoice payments: ERP sync, chain watching, settlement posting.",
        "versions": ["0.1.0"],
        "integrations": [
            {"integration-name": name, "tags": ["service"]}
            for name in ("NetSuite", "SAP", "EVM chains", "PayBridge")
        ],
        "hooks": [
            {"integration-name": "PayBridge", "python-modules": [f"{HOOKS}.{module}"]}
            for module in ("netsuite_hook", "sap_hook", "evm_hook", "store_hook")
        ],
        "sensors": [
            {
                "integration-name": "EVM chains",
                "python-modules": ["paybridge_provider.sensors.new_blocks"],
            }
        ],
        "triggers": [
            {
                "integration-name": "EVM chains",
                "python-modules": ["paybridge_provider.triggers.confirmations"],
            }
        ],
        "connection-types": [
            {
                "connection-type": conn_type,
                "hook-class-name": hook_class,
                "hook-name": form["hook-name"],
                "conn-fields": form["conn-fields"],
                "ui-field-behaviour": form["ui-field-behaviour"],
            }
            for conn_type, hook_class, form in CONNECTION_TYPES
        ],
    }
