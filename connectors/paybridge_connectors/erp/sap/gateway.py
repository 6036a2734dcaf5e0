"""HTTP to an SAP system: auth, ``sap-client``, CSRF token, retries, SAP errors made clear.

One ``requests.Session`` (what ``pyodata`` takes) per connector: Basic auth or an OAuth 2.0
client-credentials bearer token, ``sap-client`` on every request, the CSRF token fetched
(``X-CSRF-Token: Fetch``) before the first write and again when SAP answers 403 "Required".
Transient failures (connection, timeout, 429, 5xx) are retried with jittered backoff; writes
are only retried where the caller made them idempotent (look-up before post).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from paybridge_connectors.erp.protocol import ErpAuthError, ErpRejectedError, ErpUnavailableError
from paybridge_connectors.erp.sap.config import SapConnectionConfig
from paybridge_connectors.erp.sap.soap import soap_fault

T = TypeVar("T")


class Transient(Exception):
    """Retry me: the request may not have reached SAP, or SAP was overloaded."""


@dataclass
class GatewayStats:
    requests: int = 0
    retries: int = 0


def gateway_error(response: requests.Response) -> tuple[str, str]:
    """(code, message) of SAP Gateway's ``{"error":{"code","message":{"value"}}}``, else the
    text; an XML error body (``<error><code/><message/>``) is read too."""
    try:
        error = response.json()["error"]
        message = error.get("message")
        text = message.get("value", "") if isinstance(message, dict) else str(message or "")
        details = (error.get("innererror") or {}).get("errordetails") or []
        extra = "; ".join(str(d.get("message", "")) for d in details if d.get("message"))
        return str(error.get("code", "")), (
            text + (f" ({extra})" if extra and extra != text else "")
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        text = response.text[:300].strip()
        return "", text or response.reason or ""


class SapGateway:
    """Synchronous; not thread-safe (one per worker thread, like the NetSuite connector)."""

    def __init__(self, config: SapConnectionConfig) -> None:
        self.config = config
        self.session = requests.Session()
        self.session.params = {"sap-client": config.client}  # type: ignore[assignment]
        self.session.headers.update({"Accept": "application/json"})
        if config.user is not None and config.password is not None:
            self.session.auth = (config.user, config.password.get_secret_value())
        self._bearer: str | None = None
        self._csrf: str | None = None
        self.stats = GatewayStats()

    def close(self) -> None:
        self.session.close()

    # ------------------------------------------------------------ auth
    @property
    def uses_oauth(self) -> bool:
        return bool(self.config.oauth_token_url) and self.session.auth is None

    def _token(self) -> None:
        cfg = self.config
        assert cfg.oauth_token_url and cfg.oauth_client_id and cfg.oauth_client_secret
        try:
            response = requests.post(
                cfg.oauth_token_url,
                data={"grant_type": "client_credentials"},
                auth=(cfg.oauth_client_id, cfg.oauth_client_secret.get_secret_value()),
                timeout=cfg.timeout_s,
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise Transient(f"OAuth token endpoint {cfg.oauth_token_url}: {exc}") from exc
        if response.status_code in (400, 401):
            raise ErpAuthError(
                f"SAP OAuth token endpoint refused the client credentials ({response.status_code}):"
                f" {gateway_error(response)[1]}. Check oauth_client_id / oauth_client_secret.",
                "oauth",
                "oauth_client_id",
                401,
            )
        if response.status_code >= 300:
            raise Transient(f"OAuth token endpoint answered {response.status_code}")
        self._bearer = str(response.json()["access_token"])
        self.session.headers["Authorization"] = f"Bearer {self._bearer}"

    # ------------------------------------------------------------ retries
    def retrying(self, call: Callable[[], T], what: str, attempts: int | None = None) -> T:
        """Run ``call`` with retries on :class:`Transient`; raise ErpUnavailableError after."""
        attempts = attempts or self.config.max_attempts
        retrying = Retrying(
            stop=stop_after_attempt(attempts),
            wait=wait_random_exponential(
                multiplier=self.config.backoff_initial_s, max=self.config.backoff_max_s
            ),
            retry=retry_if_exception_type(Transient),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        self.stats.retries += 1
                    return call()
        except Transient as exc:
            raise ErpUnavailableError(
                f"SAP {what}: still failing after {attempts} attempts: {exc}"
            ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------ one request
    def check(
        self, response: requests.Response, what: str, soap: bool = False
    ) -> requests.Response:
        """Map an answer: 2xx returned; 401/403 auth errors; 429/5xx transient; a SOAP fault
        (SAP answers schema and mapping errors with 500 + Fault) rejected; else rejected."""
        status = response.status_code
        if status < 300:
            return response
        fault = soap_fault(response.content) if soap and status == 500 else None
        if fault and fault[0]:
            raise ErpRejectedError(
                f"SAP {what}: SOAP fault: {fault[1]}", "SOAP_FAULT", what, status
            )
        if fault:
            raise Transient(f"HTTP 500 SOAP server fault: {fault[1]}")
        code, message = gateway_error(response)
        if status == 401:
            raise ErpAuthError(
                f"SAP {what}: logon failed (401 {code}): {message or 'unauthorized'}. Check user "
                f"and password (or the OAuth client) and client {self.config.client}.",
                code,
                "credentials",
                401,
            )
        if status == 403:
            raise ErpAuthError(
                f"SAP {what}: not authorised (403 {code}): {message or 'forbidden'}. Give the "
                "communication user the missing authorisation (role / communication arrangement).",
                code,
                "authorisation",
                403,
            )
        if status == 429 or status >= 500:
            raise Transient(f"HTTP {status} {code}: {message}")
        raise ErpRejectedError(
            f"SAP {what}: rejected ({status} {code}): {message}", code, what, status
        )

    def send(
        self,
        method: str,
        path: str,
        *,
        what: str,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        write: bool = False,
        soap: bool = False,
    ) -> requests.Response:
        """One request (no retry here: see :meth:`retrying`)."""
        if self.uses_oauth and self._bearer is None:
            self._token()
        if write and self._csrf is None:
            self.fetch_csrf()
        all_headers = dict(headers or {})
        if write and self._csrf:
            all_headers["X-CSRF-Token"] = self._csrf
        response = self._raw(method, path, data, all_headers, params)
        if (
            response.status_code == 403
            and response.headers.get("X-CSRF-Token", "").lower() == "required"
        ):
            self.fetch_csrf()  # token expired with the session: fetch again, once
            all_headers["X-CSRF-Token"] = self._csrf or ""
            response = self._raw(method, path, data, all_headers, params)
        if response.status_code == 401 and self.uses_oauth:
            self._token()  # bearer expired: one new token
            response = self._raw(method, path, data, all_headers, params)
        return self.check(response, what, soap)

    def _raw(
        self,
        method: str,
        path: str,
        data: bytes | None,
        headers: dict[str, str],
        params: dict[str, Any] | None,
    ) -> requests.Response:
        self.stats.requests += 1
        url = path if path.startswith("http") else f"{self.config.base_url}{path}"
        try:
            return self.session.request(
                method,
                url,
                data=data,
                headers=headers,
                params=params,
                timeout=self.config.timeout_s,
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise Transient(f"{type(exc).__name__}: {exc}") from exc

    def fetch_csrf(self, path: str = "/sap/opu/odata/sap/API_OPLACCTGDOCITEMCUBE_SRV/") -> None:
        response = self._raw("GET", path, None, {"X-CSRF-Token": "Fetch"}, None)
        self.check(response, "CSRF token fetch")
        self._csrf = response.headers.get("X-CSRF-Token")

    def json(self, response: requests.Response) -> Any:
        return json.loads(response.content)
