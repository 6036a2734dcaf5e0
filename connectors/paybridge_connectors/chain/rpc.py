"""Thin JSON-RPC layer over web3.py's HTTP provider: counted calls, batches, classified errors.

web3's own retry is switched off (as the web3.py event-scanner example does): a generic retry
cannot shrink a block range. Transport failures (timeouts, refused connections, 5xx) are retried
here with backoff; provider errors come back as ``RpcError`` so the scanner can decide.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pydantic_core
import requests
import urllib3.exceptions
from web3 import HTTPProvider
from web3._utils.http_session_manager import HTTPSessionManager

RANGE_ERROR_PATTERNS = (
    "query returned more than",
    "block range too large",
    "range too large",
    "block range is too large",
    "exceed maximum block range",
    "exceeds max results",
    "response size exceeded",
    "log response size",
    "limit exceeded",
    "too many results",
    "try with this block range",
    "this block range should work",
    "limited to a",
    "at most",
)
_SUGGESTED_RANGE = re.compile(r"\[\s*(0x[0-9a-fA-F]+)\s*,\s*(0x[0-9a-fA-F]+)\s*\]")


class RpcError(Exception):
    """The node answered with a JSON-RPC error."""

    def __init__(self, method: str, code: int | None, message: str, data: Any = None) -> None:
        super().__init__(f"{method}: RPC error {code}: {message}")
        self.method = method
        self.code = code
        self.message = message
        self.data = data

    @property
    def is_range_limit(self) -> bool:
        text = self.message.lower()
        return self.code == -32005 or any(p in text for p in RANGE_ERROR_PATTERNS)

    def suggested_to_block(self) -> int | None:
        """Providers such as Alchemy and Infura name a range that works: use its end."""
        match = _SUGGESTED_RANGE.search(self.message)
        if match:
            return int(match.group(2), 16)
        if isinstance(self.data, dict) and "to" in self.data:
            try:
                return int(str(self.data["to"]), 16)
            except ValueError:
                return None
        return None


class RpcUnavailable(Exception):
    """The node could not be reached (or kept timing out) after the configured retries."""


class _SessionManager(HTTPSessionManager):
    """web3's session manager, reading an answer's body in one read.

    ``requests``' ``content`` joins 10 KB chunks, each through urllib3's streaming layers:
    about 2 ms of CPU for a 2.5 MB ``eth_getLogs`` answer (4,000 Transfer logs), half of that
    read in one ``read`` (chunked transfer and content encodings still decoded by urllib3).
    urllib3's errors while reading become the ones ``content`` raises (a read timeout stays a
    ``requests`` ``ConnectionError``, retried by ``RpcClient``)."""

    def make_post_request(self, endpoint_uri: Any, data: Any, **kwargs: Any) -> bytes:
        kwargs.setdefault("timeout", 30.0)
        kwargs["stream"] = True
        with self.get_response_from_post_request(endpoint_uri, data=data, **kwargs) as response:
            response.raise_for_status()
            try:
                return response.raw.read(decode_content=True)
            except urllib3.exceptions.ReadTimeoutError as exc:
                raise requests.exceptions.ConnectionError(exc) from exc
            except urllib3.exceptions.ProtocolError as exc:
                raise requests.exceptions.ChunkedEncodingError(exc) from exc
            except urllib3.exceptions.DecodeError as exc:
                raise requests.exceptions.ContentDecodingError(exc) from exc


class _Provider(HTTPProvider):
    """web3's HTTP provider with a faster JSON parser for answers (and ``_SessionManager``).

    A scan's answers are megabytes: web3 decodes them to text, then with the standard
    library's ``json`` (8 ms for 4,000 logs here); pydantic-core's parser (a dependency
    already) reads the bytes in half that. Same values: JSON-RPC results are strings,
    objects, arrays, booleans and small integers, exact in both."""

    def __init__(self, url: str, timeout: float) -> None:
        super().__init__(
            url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None
        )
        self._request_session_manager = _SessionManager()

    @staticmethod
    def decode_rpc_response(raw_response: bytes) -> Any:
        try:
            return pydantic_core.from_json(raw_response, cache_strings="keys")
        except ValueError as exc:
            raise ValueError(
                f"the node's answer is not valid JSON ({exc}): {raw_response[:200]!r}"
            ) from None


TRANSIENT = (requests.exceptions.ConnectionError, requests.exceptions.Timeout, OSError)


@dataclass
class RpcClient:
    """Counts every JSON-RPC call (a batch of n counts n calls and 1 request)."""

    url: str
    timeout: float = 30.0
    attempts: int = 5
    backoff: float = 0.2
    max_backoff: float = 5.0
    #: No new attempt starts once this many seconds have passed since the first one (plus the
    #: backoff), so an unreachable node costs one chain about this long, not attempts x timeout.
    retry_budget: float = 10.0
    calls: Counter[str] = field(default_factory=Counter)
    http_requests: int = 0

    def __post_init__(self) -> None:
        self.provider = _Provider(self.url, self.timeout)

    def call(self, method: str, params: Sequence[Any]) -> Any:
        response = self._with_retries(lambda: self.provider.make_request(method, list(params)))
        self.calls[method] += 1
        return self._result(method, response)

    def batch(self, requests_: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Results in request order; raises the first error (callers batch one kind of call)."""
        results = self.batch_results(requests_)
        for result in results:
            if isinstance(result, RpcError):
                raise result
        return results

    def batch_results(self, requests_: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Like ``batch``, but an item the node answered with an error comes back in its place
        as an ``RpcError``, not raised: for calls that may fail on their own (a block tag a
        node does not know) sent in one request with others."""
        if not requests_:
            return []
        payload = [(method, list(params)) for method, params in requests_]
        responses = self._with_retries(lambda: self.provider.make_batch_request(payload))
        for method, _ in requests_:
            self.calls[method] += 1
        if not isinstance(responses, list):  # the whole batch was refused
            self._result(requests_[0][0], responses)
            raise RpcError(requests_[0][0], None, f"unexpected batch answer {responses!r}")
        if len(responses) != len(requests_):
            raise RpcError(requests_[0][0], None, "batch answer has the wrong length")
        results: list[Any] = []
        for (method, _), response in zip(requests_, responses, strict=True):
            try:
                results.append(self._result(method, response))
            except RpcError as exc:
                results.append(exc)
        return results

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def _give_up(self, attempt: int, started: float, delay: float) -> bool:
        elapsed = time.monotonic() - started
        return attempt == self.attempts or elapsed + delay > self.retry_budget

    def _with_retries(self, send: Any) -> Any:
        delay = self.backoff
        started = time.monotonic()
        for attempt in range(1, self.attempts + 1):
            try:
                self.http_requests += 1
                return send()
            except TRANSIENT as exc:
                if self._give_up(attempt, started, delay):
                    raise RpcUnavailable(
                        f"{self.url} unreachable after {attempt} attempt(s): {exc}"
                    ) from exc
                time.sleep(delay)
                delay = min(delay * 2, self.max_backoff)
            except requests.exceptions.HTTPError as exc:
                status = exc.response.status_code if exc.response is not None else None
                if status is not None and status < 500 and status != 429:
                    raise
                if self._give_up(attempt, started, delay):
                    raise RpcUnavailable(f"{self.url} answered HTTP {status}: {exc}") from exc
                time.sleep(delay)
                delay = min(delay * 2, self.max_backoff)
        raise AssertionError("unreachable")

    @staticmethod
    def _result(method: str, response: Any) -> Any:
        if not isinstance(response, dict):
            raise RpcError(method, None, f"malformed answer {response!r}")
        error = response.get("error")
        if error:
            if isinstance(error, dict):
                raise RpcError(
                    method, error.get("code"), str(error.get("message")), error.get("data")
                )
            raise RpcError(method, None, str(error))
        return response.get("result")
