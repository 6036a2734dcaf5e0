"""Python client of the PayBridge payment API, and webhook signature checks for receivers.

``PayBridgeClient`` creates, reads and lists payments over HTTP (``X-API-Key``).
``verify_webhook`` checks ``X-Payment-Signature: t=<unix>,v1=<hex>`` where the hex is
HMAC-SHA256(secret, "<t>.<raw body>"): it refuses tampered bodies, timestamps outside the
tolerance (stale, or from the future) and, given a ``ReplayGuard``, the same signed delivery
seen twice. A redelivery is signed anew (new ``t``): de-duplicate those on ``event_id``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from typing import Any

SIGNATURE_HEADER = "X-Payment-Signature"
EVENT_ID_HEADER = "X-Payment-Event-Id"


class WebhookVerificationError(ValueError):
    """The delivery is not authentic, too old, or a replay: answer 400 and do nothing."""


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of "<timestamp>.<raw body>" with the endpoint's secret."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secrets: list[str], timestamp: int, body: bytes) -> str:
    """``t=<unix>,v1=<hex>[,v1=<hex>]``: one v1 per active secret (two while rotating)."""
    return ",".join([f"t={timestamp}", *(f"v1={signature(s, timestamp, body)}" for s in secrets)])


class ReplayGuard:
    """Signatures already accepted, kept for the tolerance window (thread-safe, in memory)."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()

    def check_and_remember(self, key: str, timestamp: int, tolerance: int, now: int) -> bool:
        with self._lock:
            self._seen = {k: t for k, t in self._seen.items() if now - t <= tolerance}
            if key in self._seen:
                return False
            self._seen[key] = timestamp
            return True


def verify_webhook(
    body: bytes,
    header: str,
    secret: str,
    tolerance: int = 300,
    *,
    replay_guard: ReplayGuard | None = None,
    now: int | None = None,
) -> dict[str, Any]:
    """The event (parsed JSON) if ``header`` signs ``body`` with ``secret`` within
    ``tolerance`` seconds; else :class:`WebhookVerificationError`."""
    parts: dict[str, list[str]] = {}
    for item in (header or "").split(","):
        name, _, value = item.strip().partition("=")
        parts.setdefault(name, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError) as exc:
        raise WebhookVerificationError("signature header has no t=<unix time>") from exc
    current = int(time.time()) if now is None else now
    if abs(current - timestamp) > tolerance:
        raise WebhookVerificationError(
            f"signature timestamp {timestamp} is {current - timestamp} s from now "
            f"(tolerance {tolerance} s): stale or replayed"
        )
    expected = signature(secret, timestamp, body)
    given = parts.get("v1", [])
    if not any(hmac.compare_digest(expected, candidate) for candidate in given):
        raise WebhookVerificationError("no v1 signature matches: wrong secret or altered body")
    if replay_guard is not None and not replay_guard.check_and_remember(
        expected, timestamp, tolerance, current
    ):
        raise WebhookVerificationError("this signed delivery was already accepted: a replay")
    try:
        event = json.loads(body)
    except ValueError as exc:
        raise WebhookVerificationError("the signed body is not JSON") from exc
    if not isinstance(event, dict):
        raise WebhookVerificationError("the signed body is not a JSON object")
    return event


class PayBridgeClient:
    """create / get / list payments; errors raise ``PayBridgeError`` with the problem details."""

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 30.0) -> None:
        import httpx

        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), headers={"X-API-Key": api_key}, timeout=timeout
        )

    def __enter__(self) -> PayBridgeClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def create_payment(
        self, body: dict[str, Any], *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """POST /v1/payments/create-order; retried safely with the same idempotency key."""
        key = idempotency_key or uuid.uuid4().hex
        return self._call(
            "POST", "/v1/payments/create-order", json=body, headers={"Idempotency-Key": key}
        )

    def get_payment(self, payment_id: str) -> dict[str, Any]:
        return self._call("GET", f"/v1/payments/{payment_id}")

    def list_payments(self, **filters: Any) -> dict[str, Any]:
        return self._call("GET", "/v1/payments", params=filters)

    def cancel_payment(self, payment_id: str) -> dict[str, Any]:
        return self._call("POST", f"/v1/payments/{payment_id}/cancel")

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self._http.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise PayBridgeError(response.status_code, _problem(response))
        result: dict[str, Any] = response.json()
        return result


class PayBridgeError(RuntimeError):
    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(f"{status} {problem.get('title')}: {problem.get('detail')}")
        self.status = status
        self.problem = problem


def _problem(response: Any) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {"title": "HTTP error", "detail": response.text[:500]}
    return data if isinstance(data, dict) else {"detail": str(data)}
