"""Server side of NetSuite token-based authentication (OAuth 1.0a, HMAC-SHA256, realm = account).

The base string is rebuilt from what arrived on the wire (method, Host, path, query, OAuth
header), exactly as RFC 5849 section 3.4.1 prescribes; authlib and oauthlib supply the encoding
rules, so the simulator shares no code path with the client that could hide a signing bug.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from authlib.oauth1.rfc5849.signature import construct_base_string
from authlib.oauth1.rfc5849.util import unescape
from oauthlib.oauth1.rfc5849.signature import sign_hmac_sha256

TIMESTAMP_WINDOW_S = 300


@dataclass(frozen=True)
class TokenGrant:
    """An integration record + access token pair, with the permissions of its role."""

    consumer_key: str
    consumer_secret: str
    token_id: str
    token_secret: str
    permissions: frozenset[str] = frozenset(
        {"invoice", "customerPayment", "journalEntry", "customer", "suiteql"}
    )


class AuthError(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _parse_authorization(header: str) -> dict[str, str]:
    if not header.startswith("OAuth "):
        raise AuthError("Missing or non-OAuth Authorization header")
    params: dict[str, str] = {}
    for part in header[len("OAuth ") :].split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        params[unescape(key)] = unescape(value.strip().strip('"'))
    return params


@dataclass
class SignatureVerifier:
    account: str
    grants: Mapping[str, TokenGrant]  # by token id
    _seen_nonces: dict[tuple[str, str], float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def verify(
        self, method: str, host: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> TokenGrant:
        """Return the grant the request was signed with, or raise AuthError."""
        oauth = _parse_authorization(headers.get("authorization", ""))
        if oauth.get("realm") != self.account:
            raise AuthError(f"Invalid realm {oauth.get('realm')!r}: expected the account id")
        if oauth.get("oauth_signature_method") != "HMAC-SHA256":
            raise AuthError("Unsupported signature method; use HMAC-SHA256")
        grant = self.grants.get(oauth.get("oauth_token", ""))
        if grant is None or not hmac.compare_digest(
            grant.consumer_key, oauth.get("oauth_consumer_key", "")
        ):
            raise AuthError("Unknown consumer key or token")
        try:
            timestamp = int(oauth.get("oauth_timestamp", ""))
        except ValueError as exc:
            raise AuthError("Invalid oauth_timestamp") from exc
        if abs(time.time() - timestamp) > TIMESTAMP_WINDOW_S:
            raise AuthError("oauth_timestamp outside the allowed window")
        if "oauth_body_hash" in oauth:
            expected_hash = base64.b64encode(hashlib.sha1(body).digest()).decode()
            if not hmac.compare_digest(expected_hash, oauth["oauth_body_hash"]):
                raise AuthError("oauth_body_hash does not match the request body")
        elif body:
            raise AuthError("Request body is not covered by the signature (no oauth_body_hash)")
        params = [(k, v) for k, v in oauth.items() if k not in ("realm", "oauth_signature")]
        params += parse_qsl(query, keep_blank_values=True)
        base_string = construct_base_string(method.upper(), f"http://{host}{path}", params)
        expected = sign_hmac_sha256(base_string, grant.consumer_secret, grant.token_secret)
        if not hmac.compare_digest(expected, oauth.get("oauth_signature", "")):
            raise AuthError("Invalid signature")
        self._remember_nonce(grant.token_id, oauth.get("oauth_nonce", ""), timestamp)
        return grant

    def _remember_nonce(self, token_id: str, nonce: str, timestamp: int) -> None:
        now = time.time()
        with self._lock:
            key = (token_id, nonce)
            if not nonce or key in self._seen_nonces:
                raise AuthError("Nonce already used (replayed request)")
            if len(self._seen_nonces) > 50_000:
                cutoff = now - 2 * TIMESTAMP_WINDOW_S
                for old, seen in list(self._seen_nonces.items()):
                    if seen < cutoff:
                        del self._seen_nonces[old]
            self._seen_nonces[key] = now
