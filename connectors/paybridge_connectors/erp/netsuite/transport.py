"""Retries and error mapping around the ``netsuite`` REST client.

Transient failures (429, 5xx, timeouts, connections dropped before an answer) are retried with
full-jitter exponential backoff, waiting at least what ``Retry-After`` asks for. Retrying a
write is only safe because every write PayBridge sends is an upsert keyed by an external id.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from paybridge_connectors.erp.netsuite.client import (
    BaseUrlNetSuiteRestApi,
    PooledNetSuiteRestApi,
    make_config,
)
from paybridge_connectors.erp.netsuite.config import NetSuiteConnectionConfig
from paybridge_connectors.erp.protocol import ErpAuthError, ErpRejectedError, ErpUnavailableError


class _Transient(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # HTTP-date form: fall back to our own backoff


def error_summary(response: httpx.Response) -> tuple[str, str, str]:
    """(o:errorCode, detail, o:errorPath) from NetSuite's error body, tolerant of other shapes."""
    try:
        body = response.json()
        detail = (body.get("o:errorDetails") or [{}])[0]
        return (
            str(detail.get("o:errorCode", "")),
            str(detail.get("detail", body.get("title", ""))),
            str(detail.get("o:errorPath", "")),
        )
    except (ValueError, AttributeError, IndexError):
        return "", response.text[:300], ""


@dataclass
class TransportStats:
    attempts: int = 0
    retries: int = 0


class NetSuiteTransport:
    """Synchronous facade: owns an event loop and one pooled client for its lifetime."""

    def __init__(self, config: NetSuiteConnectionConfig, *, pooled: bool = True) -> None:
        self.config = config
        ns_config = make_config(
            config.account,
            config.consumer_key.get_secret_value(),
            config.consumer_secret.get_secret_value(),
            config.token_id.get_secret_value(),
            config.token_secret.get_secret_value(),
        )
        api_cls = PooledNetSuiteRestApi if pooled else BaseUrlNetSuiteRestApi
        kwargs: dict[str, Any] = {"base_url": config.base_url, "default_timeout": config.timeout_s}
        if pooled:
            kwargs["max_connections"] = config.max_connections
        self.api = api_cls(ns_config, **kwargs)
        self.stats = TransportStats()
        self._runner = asyncio.Runner()

    @property
    def endpoint(self) -> str:
        return self.api._make_url("")

    def run(self, coroutine: Any) -> Any:
        return self._runner.run(coroutine)

    def close(self) -> None:
        if isinstance(self.api, PooledNetSuiteRestApi):
            self._runner.run(self.api.aclose())
        self._runner.close()

    def _wait(self, state: RetryCallState) -> float:
        base = wait_random_exponential(
            multiplier=self.config.backoff_initial_s, max=self.config.backoff_max_s
        )(state)
        exc = state.outcome.exception() if state.outcome else None
        after = exc.retry_after if isinstance(exc, _Transient) else None
        return max(base, min(after, self.config.max_retry_after_s)) if after is not None else base

    async def send(
        self,
        method: str,
        subpath: str,
        *,
        body: str | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        max_attempts: int | None = None,
        allow_404: bool = False,
    ) -> httpx.Response:
        """Send with retries; return a 2xx (or 404 when allowed) response, else raise ErpError."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(max_attempts or self.config.max_attempts),
            wait=self._wait,
            retry=retry_if_exception_type(_Transient),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        self.stats.retries += 1
                    response = await self._attempt(method, subpath, body, params, headers)
        except _Transient as exc:
            raise ErpUnavailableError(
                f"NetSuite {method} {subpath}: still failing after "
                f"{max_attempts or self.config.max_attempts} attempts: {exc}"
            ) from exc
        if response.status_code < 300 or (allow_404 and response.status_code == 404):
            return response
        code, detail, path = error_summary(response)
        where = f"NetSuite {method} {subpath}"
        if response.status_code == 401:
            raise ErpAuthError(
                f"{where}: authentication failed ({code or 401}): {detail}. Check the account id "
                "(realm), consumer key/secret and token id/secret of the integration.",
                code,
                path,
                401,
            )
        if response.status_code == 403:
            raise ErpAuthError(
                f"{where}: permission denied ({code or 403}): {detail}. Grant the token's role "
                "the missing permission.",
                code,
                path,
                403,
            )
        raise ErpRejectedError(
            f"{where}: rejected ({response.status_code} {code}) at {path or '-'}: {detail}",
            code,
            path,
            response.status_code,
        )

    async def _attempt(
        self,
        method: str,
        subpath: str,
        body: str | None,
        params: dict[str, Any] | None,
        headers: dict[str, str] | None,
    ) -> httpx.Response:
        self.stats.attempts += 1
        kwargs: dict[str, Any] = {"headers": headers or {}}
        if body is not None:
            kwargs["content"] = body.encode()
        if params:
            kwargs["params"] = params
        try:
            response = await self.api.request(method, subpath, **kwargs)
        except httpx.TimeoutException as exc:
            raise _Transient(f"timeout: {exc!r}") from exc
        except httpx.TransportError as exc:  # refused, reset, dropped before an answer
            raise _Transient(f"connection: {exc!r}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            code, detail, _ = error_summary(response)
            raise _Transient(
                f"HTTP {response.status_code} {code}: {detail}", _retry_after(response)
            )
        return response

    async def suiteql(self, query: str, limit: int, offset: int) -> dict[str, Any]:
        response = await self.send(
            "POST",
            "/query/v1/suiteql",
            body=json.dumps({"q": query}),
            params={"limit": limit, "offset": offset},
            headers={"Prefer": "transient"},
        )
        return json.loads(response.text)
