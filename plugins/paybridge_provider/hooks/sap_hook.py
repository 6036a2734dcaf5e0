"""SAP hooks: S/4HANA (OData read, SOAP posting) and ECC (RFC BAPIs over SOAP-RFC).

Host is the system's base URL (ICM / Web Dispatcher), Login/Password the communication or RFC
user; the extra holds client, company_codes, accounts and payment_chain/payment_asset, the
fields of the SAP connector's settings. "Test" sends one harmless authenticated request, the
way the connector itself talks to SAP: the OData service's ``$metadata`` (S/4) or the
``BAPI_TRANSACTION_ROLLBACK`` RFC (ECC; it changes nothing), both with ``sap-client``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from airflow.sdk import BaseHook
from paybridge_connectors.erp.connections import open_connector
from paybridge_connectors.erp.protocol import ErpConnector
from paybridge_connectors.erp.sap.config import SapConnectionConfig

from paybridge_provider import connection_forms
from paybridge_provider.hooks.connection_extras import plain_extra

ODATA_SERVICE = "/sap/opu/odata/sap/API_OPLACCTGDOCITEMCUBE_SRV/"
RFC_PATH = "/sap/bc/soap/rfc"
RFC_ROLLBACK = (
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:urn="urn:sap-com:document:sap:rfc:functions"><soapenv:Body>'
    "<urn:BAPI_TRANSACTION_ROLLBACK/></soapenv:Body></soapenv:Envelope>"
)


class _SapHook(BaseHook):
    conn_name_attr = "sap_conn_id"
    system: ClassVar[str]
    form: ClassVar[connection_forms.Form]

    def __init__(self, sap_conn_id: str) -> None:
        super().__init__()
        self.sap_conn_id = sap_conn_id

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return connection_forms.field_behaviour(cls.form)

    def get_settings(self) -> dict[str, Any]:
        """The SAP connector's settings (``SapConnectionConfig`` fields) from the Connection."""
        conn = self.get_connection(self.sap_conn_id)
        fields = plain_extra(dict(conn.extra_dejson), self.conn_type)
        codes = fields.get("company_codes", ())
        if isinstance(codes, str):
            fields["company_codes"] = tuple(c.strip() for c in codes.split(",") if c.strip())
        base_url = (conn.host or "").rstrip("/")
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(
                f"connection {self.sap_conn_id!r}: Host must be the SAP base URL with its scheme, "
                f"e.g. https://my-s4.example.com:44300 (got {conn.host!r})"
            )
        return {
            "name": self.sap_conn_id,
            "system": self.system,
            "base_url": base_url,
            "user": conn.login,
            "password": conn.password,
            **fields,
        }

    def get_config(self) -> SapConnectionConfig:
        """The connection as the SAP connector's validated settings (errors name the key)."""
        return SapConnectionConfig(**self.get_settings())

    def get_conn(self) -> ErpConnector:
        """The S/4HANA or ECC connector of this connection; use it as a context manager."""
        return open_connector(self.get_config())

    def _probe(self, settings: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
        raise NotImplementedError

    def test_connection(self) -> tuple[bool, str]:
        import httpx

        try:
            settings = self.get_settings()
        except ValueError as exc:
            return False, str(exc)
        client = str(settings.get("client") or "")
        method, url, kwargs = self._probe(settings)
        auth = (settings["user"] or "", settings["password"] or "")
        where = f"SAP {self.system.upper()} at {settings['base_url']} (client {client})"
        try:
            response = httpx.request(
                method, url, params={"sap-client": client}, auth=auth, timeout=15, **kwargs
            )
        except httpx.HTTPError as exc:
            return False, f"{where} is unreachable: {exc}. Check the host, port, proxy, firewall."
        if response.status_code == 401:
            return False, f"{where} refused user {settings['user']!r}: check user, password, client"
        if response.status_code == 403:
            return False, f"{where}: user {settings['user']!r} lacks the authorisation ({url})"
        if response.status_code != 200 or b"Fault>" in response.content:
            return False, f"{where} answered HTTP {response.status_code}: {response.text[:300]}"
        return True, f"connected to {where} as {settings['user']}"


class SapS4Hook(_SapHook):
    default_conn_name = "sap_s4_default"
    conn_type = "sap_s4"
    hook_name = connection_forms.SAP_S4["hook-name"]
    system = "s4"
    form = connection_forms.SAP_S4

    def __init__(self, sap_conn_id: str = default_conn_name) -> None:
        super().__init__(sap_conn_id)

    def _probe(self, settings: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
        return "GET", settings["base_url"] + ODATA_SERVICE + "$metadata", {}


class SapRfcHook(_SapHook):
    default_conn_name = "sap_rfc_default"
    conn_type = "sap_rfc"
    hook_name = connection_forms.SAP_RFC["hook-name"]
    system = "ecc"
    form = connection_forms.SAP_RFC

    def __init__(self, sap_conn_id: str = default_conn_name) -> None:
        super().__init__(sap_conn_id)

    def _probe(self, settings: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
        headers = {
            "Content-Type": "text/xml; charset=utf-8",
            "SOAPAction": "urn:sap-com:document:sap:rfc:functions:BAPI_TRANSACTION_ROLLBACK",
        }
        return (
            "POST",
            settings["base_url"] + RFC_PATH,
            {"content": RFC_ROLLBACK, "headers": headers},
        )
