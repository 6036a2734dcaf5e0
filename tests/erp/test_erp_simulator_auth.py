"""The simulator checks OAuth 1.0a HMAC-SHA256 signatures like NetSuite: tampering -> 401."""

from __future__ import annotations

import json

import httpx
import paybridge_connectors.erp.netsuite.client  # noqa: F401  (registers HMAC-SHA256 with authlib)
import pytest
from authlib.integrations.httpx_client import OAuth1Auth

from simulators.netsuite import DEFAULT_GRANT, NetSuiteSimulator

QUERY = {"q": "SELECT cur.id AS id, cur.symbol AS symbol FROM currency cur ORDER BY cur.id"}


def _signed(
    sim: NetSuiteSimulator,
    *,
    token_secret: str = DEFAULT_GRANT.token_secret,
    realm: str | None = None,
) -> httpx.Request:
    """A SuiteQL request signed exactly as the netsuite package signs it."""
    auth = OAuth1Auth(
        client_id=DEFAULT_GRANT.consumer_key,
        client_secret=DEFAULT_GRANT.consumer_secret,
        token=DEFAULT_GRANT.token_id,
        token_secret=token_secret,
        realm=realm or sim.account_id,
        force_include_body=True,
        signature_method="HMAC-SHA256",
    )
    request = httpx.Request(
        "POST",
        f"{sim.base_url}/services/rest/query/v1/suiteql?limit=2&offset=0",
        headers={"Content-Type": "application/json", "Prefer": "transient"},
        content=json.dumps(QUERY).encode(),
    )
    return next(auth.auth_flow(request))


def _send(request: httpx.Request) -> httpx.Response:
    with httpx.Client() as client:
        return client.send(request)


def _rebuilt(
    request: httpx.Request,
    *,
    url: str | None = None,
    body: bytes | None = None,
    method: str | None = None,
) -> httpx.Request:
    content = request.content if body is None else body
    headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
    headers["Content-Length"] = str(len(content))
    return httpx.Request(
        method or request.method, url or str(request.url), headers=headers, content=content
    )


def _assert_invalid_login(response: httpx.Response) -> None:
    assert response.status_code == 401
    body = response.json()
    assert body["status"] == 401
    assert body["o:errorDetails"][0]["o:errorCode"] == "INVALID_LOGIN"


def test_correctly_signed_request_is_answered(sim: NetSuiteSimulator) -> None:
    response = _send(_signed(sim))
    assert response.status_code == 200, response.text
    assert response.json()["items"][0]["symbol"] == "USD"


@pytest.mark.parametrize(
    "tamper",
    ["query", "body", "method", "path"],
)
def test_tampered_request_is_rejected(sim: NetSuiteSimulator, tamper: str) -> None:
    original = _signed(sim)
    if tamper == "query":
        tampered = _rebuilt(original, url=str(original.url).replace("limit=2", "limit=3"))
    elif tamper == "body":
        evil = json.dumps({"q": QUERY["q"].replace("ORDER BY cur.id", "")}).encode()
        tampered = _rebuilt(original, body=evil)
    elif tamper == "method":
        tampered = _rebuilt(original, method="PUT")
    else:
        tampered = _rebuilt(original, url=str(original.url).replace("suiteql", "suiteql2"))
    _assert_invalid_login(_send(tampered))


def test_wrong_secret_wrong_realm_and_replay_are_rejected(sim: NetSuiteSimulator) -> None:
    _assert_invalid_login(_send(_signed(sim, token_secret="not-the-secret")))
    _assert_invalid_login(_send(_signed(sim, realm="7654321")))
    request = _signed(sim)
    assert _send(request).status_code == 200
    _assert_invalid_login(_send(_rebuilt(request)))  # same nonce again


def test_unsigned_request_is_rejected(sim: NetSuiteSimulator) -> None:
    with httpx.Client() as client:
        response = client.get(f"{sim.base_url}/services/rest/record/v1/invoice/1")
    _assert_invalid_login(response)
