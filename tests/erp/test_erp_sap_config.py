"""SAP connection settings and the HTTP edge: validation naming keys, OAuth client credentials,
Gateway error JSON made readable (a small loopback server plays the SAP side)."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from paybridge_connectors.erp.connections import load_erp_connection
from paybridge_connectors.erp.protocol import ErpAuthError, ErpRejectedError, ErpUnavailableError
from paybridge_connectors.erp.sap.config import SapConnectionConfig
from paybridge_connectors.erp.sap.gateway import SapGateway
from pydantic import ValidationError
from sap_support import ACCOUNTS, sap_config


def test_env_settings_and_one_write_off_account_for_all_reasons() -> None:
    env = {
        "SAP_SYSTEM": "ECC",
        "SAP_BASE_URL": "https://sap.example.com:44300/",
        "SAP_CLIENT": "200",
        "SAP_USER": "PB_RFC",
        "SAP_PASSWORD": "pw",
        "SAP_COMPANY_CODES": "1010, 1710",
        "SAP_CUSTOMERS": "17100001,17100002",
        "SAP_ACCOUNTS": json.dumps(
            {c: {**ACCOUNTS, "write_off": "70030000"} for c in ("1010", "1710")}
        ),
    }
    cfg = load_erp_connection(None, env)
    assert isinstance(cfg, SapConnectionConfig)
    assert (cfg.system, cfg.base_url, cfg.company_codes) == (
        "ecc",
        "https://sap.example.com:44300",
        ("1010", "1710"),
    )
    assert cfg.accounts["1710"].write_off == {"default": "70030000"}
    assert "pw" not in repr(cfg)


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"company_codes": ("1010", "9999")}, "accounts.9999"),
        ({"client": "10"}, "client"),
        ({"base_url": "sap.example.com"}, "base_url"),
        ({"user": None, "password": None}, "credentials"),
        ({"system": "ecc"}, "customers"),
        (
            {
                "accounts": {
                    "1010": {**ACCOUNTS, "digital_asset": {}},
                    "2910": ACCOUNTS,
                    "4010": ACCOUNTS,
                }
            },
            "digital_asset",
        ),
        (
            {
                "accounts": {
                    "1010": {**ACCOUNTS, "gain": "not an account!"},
                    "2910": ACCOUNTS,
                    "4010": ACCOUNTS,
                }
            },
            "gain",
        ),
        ({"currency_decimals": {"JPY": 7}}, "currency_decimals.JPY"),
    ],
)
def test_bad_settings_are_refused_naming_the_key(overrides: dict[str, Any], key: str) -> None:
    with pytest.raises(ValidationError, match=key.replace(".", r"\.")):
        sap_config(**overrides)


def test_oauth_needs_all_three_settings() -> None:
    cfg = sap_config(
        user=None,
        password=None,
        oauth_token_url="https://t/oauth/token",
        oauth_client_id="id",
        oauth_client_secret="s",
    )
    assert cfg.oauth_client_secret is not None
    with pytest.raises(ValidationError, match="credentials"):
        sap_config(user=None, password=None, oauth_token_url="https://t/oauth/token")


class FakeSap(BaseHTTPRequestHandler):
    """Just enough SAP: an OAuth token endpoint, CSRF fetch, and scripted answers."""

    answers: ClassVar[list[tuple[int, dict[str, str], bytes]]] = []
    seen: ClassVar[list[dict[str, str]]] = []

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        FakeSap.seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
        if self.path.startswith("/oauth/token"):
            client = base64.b64decode(self.headers["Authorization"][6:]).decode()
            status, body = (
                (200, b'{"access_token":"tok-1","token_type":"bearer"}')
                if client == "id:s"
                else (401, b'{"error":"invalid_client"}')
            )
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)
            return
        if self.headers.get("X-CSRF-Token") == "Fetch":
            self.send_response(200)
            self.send_header("X-CSRF-Token", "csrf-1")
            self.end_headers()
            return
        status, headers, body = FakeSap.answers.pop(0)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer


@pytest.fixture
def fake_sap() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeSap)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeSap.answers, FakeSap.seen = [], []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def gateway_error(status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    body = {
        "error": {
            "code": code,
            "message": {"lang": "en", "value": message},
            "innererror": {"errordetails": [{"message": message}]},
        }
    }
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


def test_oauth_token_then_bearer_and_sap_client(fake_sap: str) -> None:
    cfg = sap_config(
        base_url=fake_sap,
        user=None,
        password=None,
        oauth_token_url=f"{fake_sap}/oauth/token",
        oauth_client_id="id",
        oauth_client_secret="s",
    )
    FakeSap.answers = [(200, {}, b"{}")]
    gateway = SapGateway(cfg)
    gateway.send("POST", "/sap/x", what="x", data=b"<a/>", write=True)
    request = FakeSap.seen[-1]
    assert request["authorization"] == "Bearer tok-1"
    assert request["x-csrf-token"] == "csrf-1"  # fetched before the write
    assert "sap-client=100" in request["path"]
    bad = SapGateway(cfg.model_copy(update={"oauth_client_id": "other"}))
    with pytest.raises(ErpAuthError, match="oauth_client_id"):
        bad.send("GET", "/sap/x", what="x")


def test_gateway_errors_become_clear_errors(fake_sap: str) -> None:
    gateway = SapGateway(sap_config(base_url=fake_sap))
    FakeSap.answers = [
        gateway_error(400, "F5/117", "Document already entered under number 100000001")
    ]
    with pytest.raises(
        ErpRejectedError, match=r"rejected \(400 F5/117\): Document already entered"
    ):
        gateway.send("GET", "/sap/x", what="open items")
    FakeSap.answers = [gateway_error(403, "/IWFND/CM_CONSUMER/101", "No authorization")]
    with pytest.raises(ErpAuthError, match="not authorised") as denied:
        gateway.send("GET", "/sap/x", what="open items")
    assert denied.value.status == 403
    FakeSap.answers = [gateway_error(503, "/IWFND/CM_BEC/076", "down")] * 3
    with pytest.raises(ErpUnavailableError, match="still failing after 3 attempts"):
        gateway.retrying(lambda: gateway.send("GET", "/sap/x", what="open items"), "open items")
    FakeSap.answers = [(403, {"X-CSRF-Token": "Required"}, b""), (200, {}, b"ok")]
    assert gateway.send("POST", "/sap/x", what="post", data=b"x", write=True).content == b"ok"
