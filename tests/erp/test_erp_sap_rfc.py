"""The RFC layer: pyrfc's call shape, pyrfc optional with a clear error, SOAP-RFC encoding."""

from __future__ import annotations

import sys
import types
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar

import pytest
from paybridge_connectors.erp.protocol import ConnectionProblem, ErpAuthError, ErpRejectedError
from paybridge_connectors.erp.sap.ecc import EccConnector
from paybridge_connectors.erp.sap.gateway import Transient
from paybridge_connectors.erp.sap.rfc import (
    PyRfcConnection,
    alpha,
    alpha_out,
    rfc_request,
    rfc_response,
)
from sap_support import sap_config


def ecc(**overrides: object) -> Any:
    return sap_config(system="ecc", customers=("17100001",), **overrides)


def test_without_pyrfc_the_error_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyrfc", None)  # import fails as when not installed
    with pytest.raises(ErpRejectedError, match="NW RFC SDK"):
        PyRfcConnection(ecc(rfc_transport="pyrfc"))
    check = EccConnector(ecc(rfc_transport="pyrfc")).test_connection()
    assert check.problem is ConnectionProblem.UNEXPECTED and "pip install pyrfc" in check.message


class FakeConnection:
    """Stands in for pyrfc.Connection: same constructor keywords and call shape."""

    opened: ClassVar[dict[str, Any]] = {}

    def __init__(self, **params: Any) -> None:
        if params.get("passwd") == "wrong":
            raise LogonError("Name or password is incorrect (repeat logon)")
        FakeConnection.opened = params
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def call(self, name: str, **params: Any) -> dict[str, Any]:
        self.calls.append((name, params))
        if name == "BAPI_AR_ACC_GETOPENITEMS" and params["COMPANYCODE"] == "9999":
            raise CommunicationError("partner not reached")
        return {"RETURN": {"TYPE": ""}, "LINEITEMS": []}

    def close(self) -> None:
        pass


class LogonError(Exception):
    pass


class CommunicationError(Exception):
    pass


def test_pyrfc_connection_is_used_unchanged_and_errors_mapped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = types.SimpleNamespace(Connection=FakeConnection)
    monkeypatch.setitem(sys.modules, "pyrfc", fake)
    cfg = ecc(rfc_transport="pyrfc", rfc_params={"ashost": "ecc.example.com", "sysnr": "00"})
    connection = PyRfcConnection(cfg)
    assert FakeConnection.opened == {
        "client": "100",
        "user": "PAYBRIDGE",
        "passwd": "secret",
        "ashost": "ecc.example.com",
        "sysnr": "00",
    }
    assert connection.call("BAPI_AR_ACC_GETOPENITEMS", COMPANYCODE="1010") == {
        "RETURN": {"TYPE": ""},
        "LINEITEMS": [],
    }
    with pytest.raises(Transient, match="partner not reached"):
        connection.call("BAPI_AR_ACC_GETOPENITEMS", COMPANYCODE="9999")
    with pytest.raises(ErpAuthError, match="logon failed") as refused:
        PyRfcConnection(cfg.model_copy(update={"password": cfg.password.__class__("wrong")}))
    assert refused.value.status == 401


def test_soap_rfc_encoding_round_trip() -> None:
    body = rfc_request(
        "BAPI_ACC_DOCUMENT_POST",
        {
            "DOCUMENTHEADER": {"PSTNG_DATE": date(2026, 5, 2), "REF_DOC_NO": "PBX"},
            "CURRENCYAMOUNT": [{"ITEMNO_ACC": "0000000001", "AMT_DOCCUR": Decimal("-12.340")}],
            "RETURN": [],
        },
    )
    assert b"<PSTNG_DATE>2026-05-02</PSTNG_DATE>" in body
    assert (
        b"<item><ITEMNO_ACC>0000000001</ITEMNO_ACC><AMT_DOCCUR>-12.340</AMT_DOCCUR></item>" in body
    )
    answer = (
        b'<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/">'
        b"<soap-env:Body><n0:BAPI_ACC_DOCUMENT_POST.Response "
        b'xmlns:n0="urn:sap-com:document:sap:rfc:functions">'
        b"<OBJ_KEY>010000000140102026</OBJ_KEY><RETURN><item><TYPE>S</TYPE><MESSAGE>ok</MESSAGE></item>"
        b"</RETURN></n0:BAPI_ACC_DOCUMENT_POST.Response></soap-env:Body></soap-env:Envelope>"
    )
    assert rfc_response("BAPI_ACC_DOCUMENT_POST", answer) == {
        "OBJ_KEY": "010000000140102026",
        "RETURN": [{"TYPE": "S", "MESSAGE": "ok"}],
    }


def test_alpha_conversion() -> None:
    assert alpha("17100001") == "0017100001"
    assert alpha("CUST-A") == "CUST-A"
    assert alpha_out("0017100001") == "17100001"
