"""The RFC layer: ``call(name, **params)`` exactly as ``pyrfc.Connection`` offers it.

Two implementations with the same shape:

* :class:`PyRfcConnection` wraps ``pyrfc.Connection`` (optional: it needs SAP's NW RFC SDK,
  which is not on the package registries) and talks to a real ECC unchanged.
* :class:`SoapRfcConnection` sends the same calls to SAP's SOAP-RFC endpoint
  (``/sap/bc/soap/rfc``, namespace ``urn:sap-com:document:sap:rfc:functions``) in one stateful
  HTTP session (``sap-sessioncmd: open``), so CHECK, POST and COMMIT share one LUW as over RFC.

Values follow pyrfc: structures are dicts, tables lists of dicts, scalars strings (dates given
as ``date`` and amounts as ``Decimal`` are serialised exactly). RFC bypasses conversion exits,
so callers send ALPHA fields (customer, G/L account) in internal form (:func:`alpha`).
"""

from __future__ import annotations

import contextlib
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

import requests
from lxml import etree

from paybridge_connectors.erp.protocol import ErpAuthError, ErpRejectedError
from paybridge_connectors.erp.sap.config import SapConnectionConfig
from paybridge_connectors.erp.sap.gateway import SapGateway, Transient

RFC_NS = "urn:sap-com:document:sap:rfc:functions"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP_RFC_PATH = "/sap/bc/soap/rfc"
PYRFC_MISSING = (
    "rfc_transport = 'pyrfc' needs the pyrfc package and SAP's NW RFC SDK: download the SDK from "
    "SAP (support.sap.com/nwrfcsdk, S-user needed), set SAPNWRFC_HOME, then `pip install pyrfc` "
    "(github.com/SAP/PyRFC); or use rfc_transport = 'soap' (SOAP-RFC over HTTPS)"
)


class RfcConnection(Protocol):
    def call(self, func_name: str, **params: Any) -> dict[str, Any]: ...

    def close(self) -> None: ...


def alpha(value: str, length: int = 10) -> str:
    """ALPHA conversion exit (input): all-digit values get leading zeros to ``length``."""
    value = value.strip()
    return value.zfill(length) if value.isdigit() else value


def alpha_out(value: str) -> str:
    return value.lstrip("0") or "0" if value.isdigit() else value


class PyRfcConnection:
    """pyrfc, when installed; its errors mapped onto the connector's error types."""

    def __init__(self, config: SapConnectionConfig) -> None:
        try:
            import pyrfc  # type: ignore[import-not-found]
        except ImportError as exc:
            raise ErpRejectedError(PYRFC_MISSING, "PYRFC_MISSING", "rfc_transport") from exc
        self._pyrfc = pyrfc
        params = {"client": config.client, "user": config.user or ""}
        if config.password is not None:
            params["passwd"] = config.password.get_secret_value()
        params.update(config.rfc_params)
        try:
            self._conn = pyrfc.Connection(**params)
        except Exception as exc:
            raise self._mapped(exc) from exc

    def _mapped(self, exc: Exception) -> Exception:
        name = type(exc).__name__
        if name == "LogonError":
            return ErpAuthError(f"SAP RFC logon failed: {exc}", "LOGON", "credentials", 401)
        if name == "ExternalAuthorizationError":
            return ErpAuthError(f"SAP RFC not authorised: {exc}", "AUTH", "authorisation", 403)
        if name == "CommunicationError":
            return Transient(f"RFC communication: {exc}")
        return ErpRejectedError(f"SAP RFC error {name}: {exc}", name, "rfc")

    def call(self, func_name: str, **params: Any) -> dict[str, Any]:
        try:
            return dict(self._conn.call(func_name, **params))
        except Exception as exc:
            raise self._mapped(exc) from exc

    def close(self) -> None:
        self._conn.close()


def _serialise(parent: etree._Element, name: str, value: Any) -> None:
    element = etree.SubElement(parent, name)
    if isinstance(value, dict):
        for key, inner in value.items():
            _serialise(element, key, inner)
    elif isinstance(value, list | tuple):
        for row in value:
            _serialise(element, "item", row)
    elif isinstance(value, Decimal):
        element.text = f"{value:f}"
    elif isinstance(value, date):
        element.text = value.isoformat()
    elif value is not None:
        element.text = str(value)


def _deserialise(element: etree._Element) -> Any:
    children = [c for c in element if isinstance(c.tag, str)]
    if not children:
        return (element.text or "").strip()
    if all(etree.QName(c).localname == "item" for c in children):
        return [_deserialise(c) for c in children]
    return {etree.QName(c).localname: _deserialise(c) for c in children}


def rfc_request(func_name: str, params: dict[str, Any]) -> bytes:
    envelope = etree.Element(f"{{{SOAP11}}}Envelope", nsmap={"soapenv": SOAP11, "urn": RFC_NS})
    body = etree.SubElement(envelope, f"{{{SOAP11}}}Body")
    call = etree.SubElement(body, f"{{{RFC_NS}}}{func_name}")
    for name, value in params.items():
        _serialise(call, name, value)
    return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")


def rfc_response(func_name: str, content: bytes) -> dict[str, Any]:
    root = etree.fromstring(content, parser=etree.XMLParser(resolve_entities=False))
    for element in root.iter():
        if (
            isinstance(element.tag, str)
            and etree.QName(element).localname == f"{func_name}.Response"
        ):
            result = _deserialise(element)
            return result if isinstance(result, dict) else {}
    fault = next(
        (
            e.text
            for e in root.iter()
            if isinstance(e.tag, str) and etree.QName(e).localname == "faultstring"
        ),
        None,
    )
    raise ErpRejectedError(
        f"SAP SOAP-RFC {func_name}: {fault or 'no response element'}", "RFC", func_name
    )


class SoapRfcConnection:
    """pyrfc's ``call`` shape over ``/sap/bc/soap/rfc``, one stateful session per connection."""

    def __init__(self, config: SapConnectionConfig, gateway: SapGateway | None = None) -> None:
        self.gateway = gateway or SapGateway(config)
        self.gateway.session.headers["sap-client"] = config.client
        self._opened = False

    def call(self, func_name: str, **params: Any) -> dict[str, Any]:
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f"{RFC_NS}:{func_name}"}
        if not self._opened:
            headers["sap-sessioncmd"] = "open"
        response = self.gateway.send(
            "POST",
            SOAP_RFC_PATH,
            what=func_name,
            data=rfc_request(func_name, params),
            headers=headers,
            soap=True,
        )
        self._opened = True
        return rfc_response(func_name, response.content)

    def close(self) -> None:
        if self._opened:
            # ends the session; anything not committed is rolled back, as over RFC; a failure
            # here is harmless: the server's idle timeout rolls back as well
            with contextlib.suppress(Transient, ErpRejectedError, requests.RequestException):
                self.gateway.send(
                    "POST",
                    SOAP_RFC_PATH,
                    what="close session",
                    data=rfc_request("BAPI_TRANSACTION_ROLLBACK", {}),
                    headers={"Content-Type": "text/xml; charset=utf-8", "sap-sessioncmd": "close"},
                )
            self._opened = False
        self.gateway.session.cookies.clear()


def open_rfc(config: SapConnectionConfig) -> RfcConnection:
    return PyRfcConnection(config) if config.rfc_transport == "pyrfc" else SoapRfcConnection(config)
