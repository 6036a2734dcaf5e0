"""The NetSuite simulator's HTTP server: a real socket on loopback, one thread per connection.

``http.server`` rather than an ASGI stack because the "committed, then the connection dropped"
fault needs to close the socket after the work is done and before a single response byte is
written, which is direct here.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from simulators.netsuite.fields import check_names
from simulators.netsuite.oauth import AuthError, SignatureVerifier, TokenGrant
from simulators.netsuite.state import Account, RecordError
from simulators.netsuite.suiteql import SuiteQLError

SUITEQL_PATH = "/services/rest/query/v1/suiteql"
RECORD_PREFIX = "/services/rest/record/v1/"
RECORD_TYPES = ("customer", "invoice", "customerPayment", "journalEntry", "creditMemo")
SUBLISTS = {"customerPayment": ("apply", "credit"), "journalEntry": ("line",)}
MAX_PAGE = 1000
MAX_ROWS = 100_000
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass
class FaultConfig:
    """What goes wrong, and how often. Rates are per request, drawn from a seeded RNG."""

    latency_s: float = 0.0
    error_5xx_rate: float = 0.0
    rate_429: float = 0.0
    commit_then_drop_rate: float = 0.0
    retry_after_s: int | None = 1
    writes_only: bool = False  # apply faults to POST/PUT/PATCH only
    seed: int = 0


@dataclass
class Counters:
    requests: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    dropped_after_commit: int = 0
    suiteql_requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, status: int) -> None:
        with self.lock:
            self.by_status[status] = self.by_status.get(status, 0) + 1


def _dumps(payload: Any) -> bytes:
    """JSON with Decimals as exact number tokens (fast path when there is none, e.g. SuiteQL)."""
    try:
        return json.dumps(payload, separators=(",", ":"), default=_no_decimal).encode()
    except _HasDecimal:
        pass
    encoder = json.JSONEncoder(default=str, separators=(",", ":"))
    return "".join(_iter_exact(encoder, payload)).encode()


class _HasDecimal(TypeError):
    pass


def _no_decimal(value: Any) -> Any:
    raise _HasDecimal(type(value).__name__)


def _iter_exact(encoder: json.JSONEncoder, value: Any) -> Any:
    if isinstance(value, Decimal):
        yield format(value, "f")
    elif isinstance(value, dict):
        yield "{"
        for i, (key, item) in enumerate(value.items()):
            if i:
                yield ","
            yield encoder.encode(str(key))
            yield ":"
            yield from _iter_exact(encoder, item)
        yield "}"
    elif isinstance(value, list | tuple):
        yield "["
        for i, item in enumerate(value):
            if i:
                yield ","
            yield from _iter_exact(encoder, item)
        yield "]"
    else:
        yield encoder.encode(value)


def error_body(status: int, title: str, code: str, detail: str, path: str | None = None) -> dict:
    """NetSuite's REST error shape."""
    item: dict[str, Any] = {"detail": detail, "o:errorCode": code}
    if path:
        item["o:errorPath"] = path
    return {
        "type": f"https://www.rfc-editor.org/rfc/rfc9110.html#section-15.{5 if status < 500 else 6}"
        f".{status % 100 + 1}",
        "title": title,
        "status": status,
        "o:errorDetails": [item],
    }


class _Dropped(Exception):
    """The request was handled; the connection is closed without an answer."""


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        account: Account,
        verifier: SignatureVerifier,
        faults: FaultConfig,
        concurrency_limit: int,
    ) -> None:
        super().__init__(address, _Handler)
        self.account = account
        self.verifier = verifier
        self.faults = faults
        self.concurrency_limit = concurrency_limit
        self.in_flight = 0
        self.in_flight_lock = threading.Lock()
        self.counters = Counters()
        self.rng = random.Random(faults.seed)
        self.rng_lock = threading.Lock()
        self.suiteql_cache: dict[tuple[str, int], list[dict[str, Any]]] = {}

    def draw(self) -> float:
        with self.rng_lock:
            return self.rng.random()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes on keep-alive
    server: SimulatorServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet by default
        return

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # ---------------------------------------------------------------- plumbing
    def _send(
        self, status: int, payload: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        body = b"" if payload is None else _dumps(payload)
        # counted before the first byte leaves: a client that has the answer sees it counted
        self.server.counters.count(status)
        self.send_response(status)
        if payload is not None:
            self.send_header(
                "Content-Type",
                "application/vnd.oracle.resource+json; type=error"
                if status >= 400
                else "application/json; charset=UTF-8",
            )
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _error(
        self,
        status: int,
        title: str,
        code: str,
        detail: str,
        path: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self._send(status, error_body(status, title, code, detail, path), headers)

    def _drop(self) -> None:
        with self.server.counters.lock:
            self.server.counters.dropped_after_commit += 1
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        raise _Dropped

    def _handle(self, method: str) -> None:
        server = self.server
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with server.counters.lock:
            server.counters.requests += 1
        with server.in_flight_lock:
            over_limit = server.in_flight >= server.concurrency_limit
            if not over_limit:
                server.in_flight += 1
        if over_limit:
            self._error(
                429,
                "Too Many Requests",
                "CONCURRENCY_LIMIT_EXCEEDED",
                "Request blocked by the concurrency limit of the account.",
                headers=self._retry_after(),
            )
            return
        try:
            self._handle_admitted(method, body)
        except _Dropped:
            pass
        finally:
            with server.in_flight_lock:
                server.in_flight -= 1

    def _retry_after(self) -> dict[str, str]:
        after = self.server.faults.retry_after_s
        return {} if after is None else {"Retry-After": str(after)}

    def _handle_admitted(self, method: str, body: bytes) -> None:
        server, faults = self.server, self.server.faults
        faulty = not faults.writes_only or method in WRITE_METHODS
        if faults.latency_s:
            time.sleep(faults.latency_s)
        drop_after = False
        if faulty:
            roll = server.draw()
            if roll < faults.rate_429:
                self._error(
                    429,
                    "Too Many Requests",
                    "CONCURRENCY_LIMIT_EXCEEDED",
                    "Request blocked by the concurrency limit (injected).",
                    headers=self._retry_after(),
                )
                return
            roll -= faults.rate_429
            if roll < faults.error_5xx_rate:
                status = 503 if server.draw() < 0.5 else 500
                self._error(
                    status,
                    "Internal Server Error" if status == 500 else "Service Unavailable",
                    "UNEXPECTED_ERROR",
                    "An unexpected error occurred (injected).",
                )
                return
            roll -= faults.error_5xx_rate
            drop_after = roll < faults.commit_then_drop_rate
        url = urlsplit(self.path)
        try:
            grant = server.verifier.verify(
                method,
                self.headers.get("Host", ""),
                url.path,
                url.query,
                {k.lower(): v for k, v in self.headers.items()},
                body,
            )
        except AuthError as exc:
            self._error(
                401,
                "Unauthorized",
                "INVALID_LOGIN",
                "Invalid login attempt. For more details, see the Login Audit Trail in "
                f"the NetSuite UI at Setup > Users/Roles > View Login Audit Trail. "
                f"({exc.detail})",
            )
            return
        try:
            status, payload, headers = self._route(
                method, url.path, parse_qs(url.query), body, grant
            )
        except RecordError as exc:
            self._error(exc.status, exc.title, exc.code, exc.detail, exc.path)
            return
        except SuiteQLError as exc:
            self._error(400, "Bad Request", "INVALID_PARAMETER", str(exc), "q")
            return
        if drop_after:
            self._drop()
        self._send(status, payload, headers)

    # ---------------------------------------------------------------- routes
    def _base_url(self) -> str:
        return f"http://{self.headers.get('Host', '')}"

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes, grant: TokenGrant
    ) -> tuple[int, Any, dict[str, str]]:
        if path == SUITEQL_PATH and method == "POST":
            return self._suiteql(query, body, grant)
        if not path.startswith(RECORD_PREFIX):
            raise RecordError(404, "INVALID_URL", f"Unknown resource {path}")
        parts = path[len(RECORD_PREFIX) :].split("/")
        record_type = parts[0]
        if record_type not in RECORD_TYPES or len(parts) > 3:
            raise RecordError(
                404,
                "NONEXISTENT_RECORD_TYPE",
                f"Record type {record_type!r} is not modeled by the simulator.",
            )
        permission = "invoice" if record_type == "creditMemo" else record_type
        if permission not in grant.permissions:
            raise RecordError(
                403,
                "INSUFFICIENT_PERMISSION",
                f"Permission Violation: your role lacks access to {record_type}.",
                title="Forbidden",
            )
        account = self.server.account
        key = parts[1] if len(parts) >= 2 else None
        if len(parts) == 3:
            return self._sublist(method, record_type, parts[1], parts[2])
        if method == "GET" and key is None:
            limit = int(query.get("limit", ["1000"])[0])
            offset = int(query.get("offset", ["0"])[0])
            ids, total = account.list_records(record_type, limit, offset)
            return (
                200,
                {
                    "links": [],
                    "count": len(ids),
                    "hasMore": offset + len(ids) < total,
                    "offset": offset,
                    "totalResults": total,
                    "items": [
                        {
                            "links": [
                                {
                                    "rel": "self",
                                    "href": f"{self._base_url()}{RECORD_PREFIX}{record_type}/{i}",
                                }
                            ],
                            "id": str(i),
                        }
                        for i in ids
                    ],
                },
                {},
            )
        if method == "GET":
            assert key is not None
            record = account.get_record(record_type, key)
            if query.get("expandSubResources", ["false"])[0].lower() != "true":
                record = self._collapse(record_type, record)
            return 200, record, {}
        mode = (self.headers.get("X-NetSuite-PropertyNameValidation") or "Warning").lower()
        payload = check_names(record_type, self._json_body(body), mode)
        replace = {name.strip() for value in query.get("replace", []) for name in value.split(",")}
        if method == "POST" and key is None:
            rid = account.create(record_type, payload)
        elif method == "PUT" and key is not None:
            if not key.startswith("eid:"):
                raise RecordError(
                    400,
                    "INVALID_REQUEST",
                    "Upsert requires an external ID: PUT /{type}/eid:{externalId}.",
                )
            external = key[4:]
            if not external or "|" in external:
                raise RecordError(400, "INVALID_ID", f"Invalid external ID {external!r}.")
            rid = account.create(
                record_type, payload, external_id=external, upsert=True, replace=replace
            )
        elif method == "PATCH" and key is not None:
            rid = account.patch(record_type, key, payload, replace)
        else:
            raise RecordError(405, "METHOD_NOT_ALLOWED", f"{method} is not supported here.")
        location = f"{self._base_url()}{RECORD_PREFIX}{record_type}/{rid}"
        return 204, None, {"Location": location}

    def _collapse(self, record_type: str, record: dict[str, Any]) -> dict[str, Any]:
        """Sublists are links unless ``expandSubResources=true`` (REST: Format of Sublists)."""
        for name in SUBLISTS.get(record_type, ()):
            if name in record:
                href = f"{self._base_url()}{RECORD_PREFIX}{record_type}/{record['id']}/{name}"
                record[name] = {"links": [{"rel": "self", "href": href}]}
        return record

    def _sublist(
        self, method: str, record_type: str, key: str, name: str
    ) -> tuple[int, Any, dict[str, str]]:
        """``GET /{type}/{id}/{sublist}``: the sublist as a collection."""
        if method != "GET" or name not in SUBLISTS.get(record_type, ()):
            raise RecordError(
                404, "INVALID_URL", f"Unknown sub-resource {record_type}/{key}/{name}"
            )
        items = self.server.account.get_record(record_type, key)[name]["items"]
        href = f"{self._base_url()}{RECORD_PREFIX}{record_type}/{key}/{name}"
        return (
            200,
            {
                "links": [{"rel": "self", "href": href}],
                "count": len(items),
                "hasMore": False,
                "offset": 0,
                "totalResults": len(items),
                "items": items,
            },
            {},
        )

    @staticmethod
    def _json_body(body: bytes) -> dict[str, Any]:
        try:
            payload = json.loads(body or b"{}", parse_float=Decimal)
        except ValueError as exc:
            raise RecordError(400, "INVALID_CONTENT", f"Invalid JSON body: {exc}") from exc
        if not isinstance(payload, dict):
            raise RecordError(400, "INVALID_CONTENT", "The request body must be a JSON object.")
        return payload

    def _suiteql(
        self, query: dict[str, list[str]], body: bytes, grant: TokenGrant
    ) -> tuple[int, Any, dict[str, str]]:
        if "suiteql" not in grant.permissions:
            raise RecordError(
                403,
                "INSUFFICIENT_PERMISSION",
                "Permission Violation: your role lacks REST Query permission.",
                title="Forbidden",
            )
        if "transient" not in (self.headers.get("Prefer") or ""):
            raise RecordError(
                400, "INVALID_HEADER", "SuiteQL requests need the header 'Prefer: transient'."
            )
        try:
            limit = int(query.get("limit", [str(MAX_PAGE)])[0])
            offset = int(query.get("offset", ["0"])[0])
        except ValueError as exc:
            raise RecordError(
                400, "INVALID_PARAMETER", "limit and offset must be integers."
            ) from exc
        if not 1 <= limit <= MAX_PAGE:
            raise RecordError(
                400,
                "INVALID_PARAMETER",
                f"Invalid limit {limit}: must be between 1 and {MAX_PAGE}.",
                "limit",
            )
        if offset < 0 or offset % limit:
            raise RecordError(
                400,
                "INVALID_PARAMETER",
                f"Invalid offset {offset}: must be a multiple of limit {limit}.",
                "offset",
            )
        cap = min(MAX_ROWS, limit * 1000)
        if offset >= cap:
            raise RecordError(
                400,
                "INVALID_PARAMETER",
                f"Offset {offset} is beyond the {cap}-row maximum of one query.",
                "offset",
            )
        text = self._json_body(body).get("q")
        if not isinstance(text, str) or not text.strip():
            raise RecordError(400, "INVALID_PARAMETER", "Missing query text 'q'.", "q")
        server = self.server
        with server.counters.lock:
            server.counters.suiteql_requests += 1
        with server.account.lock:
            cache_key = (text, server.account.version)
            rows = server.suiteql_cache.get(cache_key)
            if rows is None:
                rows = server.account.run_suiteql(text)
                server.suiteql_cache.clear()
                server.suiteql_cache[cache_key] = rows
        total = min(len(rows), cap)
        page = rows[offset : min(offset + limit, total)]
        base = f"{self._base_url()}{SUITEQL_PATH}"
        last_offset = max(0, ((total - 1) // limit) * limit)
        links = [{"rel": "self", "href": f"{base}?limit={limit}&offset={offset}"}]
        if offset > 0:
            links.append(
                {"rel": "previous", "href": f"{base}?limit={limit}&offset={offset - limit}"}
            )
        links.append({"rel": "first", "href": f"{base}?limit={limit}&offset=0"})
        if offset + len(page) < total:
            links.append({"rel": "next", "href": f"{base}?limit={limit}&offset={offset + limit}"})
        links.append({"rel": "last", "href": f"{base}?limit={limit}&offset={last_offset}"})
        items = []
        zone = ZoneInfo(server.account.time_zone)
        for row in page:
            item: dict[str, Any] = {"links": []}
            for column, value in row.items():
                if value is not None:  # SuiteQL leaves out null columns
                    item[column] = _suiteql_text(value, zone)
            items.append(item)
        return (
            200,
            {
                "links": links,
                "count": len(items),
                "hasMore": offset + len(items) < total,
                "items": items,
                "offset": offset,
                "totalResults": total,
            },
            {},
        )


def _suiteql_text(value: Any, zone: ZoneInfo) -> str:
    """SuiteQL answers every value as text; dates in the default M/D/YYYY preference, a
    timestamp as its date in the user's time zone."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        value = value.replace(tzinfo=UTC).astimezone(zone)
    if hasattr(value, "strftime"):
        return f"{value.month}/{value.day}/{value.year}"
    return str(value)
