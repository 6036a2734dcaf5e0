"""The hook of an ERP connection, chosen by its Connection type (NetSuite, SAP S/4, SAP ECC).

The ERP DAGs take a list of Connection ids; each may be any ERP the provider knows, so one
deployment syncs and posts NetSuite and SAP side by side.
"""

from __future__ import annotations

from airflow.sdk import BaseHook

from paybridge_provider.hooks.netsuite_hook import NetSuiteHook
from paybridge_provider.hooks.sap_hook import SapRfcHook, SapS4Hook

ERP_HOOKS: dict[str, type[NetSuiteHook] | type[SapS4Hook] | type[SapRfcHook]] = {
    NetSuiteHook.conn_type: NetSuiteHook,
    SapS4Hook.conn_type: SapS4Hook,
    SapRfcHook.conn_type: SapRfcHook,
}


def erp_hook(conn_id: str) -> NetSuiteHook | SapS4Hook | SapRfcHook:
    """The hook for ``conn_id``; a Connection of another type is a configuration error."""
    conn_type = BaseHook.get_connection(conn_id).conn_type
    hook = ERP_HOOKS.get(str(conn_type))
    if hook is None:
        raise ValueError(
            f"connection {conn_id!r} has type {conn_type!r}, not an ERP connection: use one of "
            f"{sorted(ERP_HOOKS)} (Admin > Connections)"
        )
    return hook(conn_id)
