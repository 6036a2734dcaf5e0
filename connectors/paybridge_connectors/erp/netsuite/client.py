"""The ``netsuite`` package's REST client, pointed at any base URL and with a pooled connection.

The package hard-codes ``https://<account>.suitetalk.api.netsuite.com`` in
``NetSuiteRestApi._make_url`` and opens a fresh ``httpx.AsyncClient`` for every request (new TCP
+ TLS handshake each time). We subclass rather than patch:

* ``_make_url`` is overridden to use ``base_url`` (loopback simulator, or a proxy); the OAuth 1.0a
  signature is still made by the package's own ``_make_auth`` (authlib, HMAC-SHA256, realm =
  account id), over the URL actually requested, so signing is exercised unchanged.
* ``PooledNetSuiteRestApi`` also overrides ``_request_impl`` to send through one long-lived
  ``httpx.AsyncClient`` (keep-alive pool). Everything else (headers, JSON, semaphore, timeouts)
  mirrors the package's implementation. ``benchmarks/netsuite_bench.py`` measures the difference.
"""

from __future__ import annotations

import warnings

import httpx
from authlib.deprecate import AuthlibDeprecationWarning

# authlib 1.9 warns when its httpx integration falls back from ``httpx2`` to ``httpx`` and
# forces that warning to "always" when authlib.deprecate is imported (above), so only a filter
# installed afterwards silences it. The ``netsuite`` package is built on ``httpx``: the fallback
# is what we rely on, the warning says nothing the user can act on. Only this one message is
# ignored, only while the package is imported.
with warnings.catch_warnings():
    warnings.filterwarnings(
        "ignore",
        message="The httpx module is deprecated",
        category=AuthlibDeprecationWarning,
    )
    from netsuite import Config, TokenAuth
    from netsuite.rest_api import NetSuiteRestApi


class BaseUrlNetSuiteRestApi(NetSuiteRestApi):
    """The package's client (a new httpx client per request) against ``base_url``."""

    def __init__(self, config: Config, *, base_url: str | None = None, **kwargs: object) -> None:
        super().__init__(config, **kwargs)  # type: ignore[arg-type]
        self._base_url = base_url.rstrip("/") if base_url else None

    def _make_url(self, subpath: str) -> str:
        if self._base_url is None:
            return super()._make_url(subpath)
        return f"{self._base_url}/services/rest{subpath}"


class PooledNetSuiteRestApi(BaseUrlNetSuiteRestApi):
    """Same client, but every request reuses one keep-alive ``httpx.AsyncClient``.

    The pool belongs to the event loop that first used it: create one instance per loop (the
    connector runs its own loop) and ``await aclose()`` at the end.
    """

    def __init__(
        self,
        config: Config,
        *,
        base_url: str | None = None,
        max_connections: int = 10,
        **kwargs: object,
    ) -> None:
        super().__init__(config, base_url=base_url, **kwargs)
        self._limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self._client: httpx.AsyncClient | None = None

    def _pooled_client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(limits=self._limits)
        return self._client

    async def _request_impl(
        self, method: str, subpath: str, **request_kw: object
    ) -> httpx.Response:
        method = method.upper()
        url = request_kw.pop("url", None) or self._make_url(subpath)
        headers = {**self._make_default_headers(), **request_kw.pop("headers", {})}  # type: ignore[dict-item]
        timeout = request_kw.pop("timeout", self._default_timeout)
        async with self._request_semaphore:
            return await self._pooled_client().request(
                method=method,
                url=str(url),
                headers=headers,
                auth=self._make_auth(),
                timeout=timeout,  # type: ignore[arg-type]
                **request_kw,  # type: ignore[arg-type]
            )

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def make_config(
    account: str, consumer_key: str, consumer_secret: str, token_id: str, token_secret: str
) -> Config:
    return Config(
        account=account,
        auth=TokenAuth(
            consumer_key=consumer_key,
            consumer_secret=consumer_secret,
            token_id=token_id,
            token_secret=token_secret,
        ),
    )
