"""The SAP simulator's HTTP server: OData V2, SOAP and SOAP-RFC on one loopback socket.

``http.server`` (as the NetSuite simulator) because "committed, then the connection dropped"
must close the socket after the work and before any response byte, which is direct here.
"""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from simulators.faults import Fault, FaultConfig, FaultInjector
from simulators.sap import odata, odata_http, rfc, soap
from simulators.sap.ledger import Ledger
from simulators.sap.views import RowCache, cube_rows

SESSION_COOKIE = "SAP_SESSIONID_SIM_{client}"
XSRF_COOKIE = "sap-XSRF_SIM_{client}"
CONTEXT_COOKIE = "sap-contextid"


@dataclass(frozen=True)
class User:
    password: str
    roles: frozenset[str]  # "read" (OData, GETOPENITEMS), "post" (SOAP), "rfc" (BAPI posting)


@dataclass
class RfcSession:
    luw: rfc.Luw = field(default_factory=rfc.Luw)
    last_used: float = field(default_factory=time.monotonic)


@dataclass
class Counters:
    requests: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    dropped_after_commit: int = 0
    odata_requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, status: int) -> None:
        with self.lock:
            self.by_status[status] = self.by_status.get(status, 0) + 1


class _Dropped(Exception):
    """The request was handled; the connection is closed without an answer."""


class SAPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        ledger: Ledger,
        client: str,
        users: dict[str, User],
        faults: FaultConfig,
        page_size: int,
        session_idle_s: float,
        schedule_clearing: Callable[[list[soap.ClearingJob]], None],
    ) -> None:
        super().__init__(address, _Handler)
        self.ledger = ledger
        self.client = client
        self.users = users
        self.injector = FaultInjector(faults)
        self.page_size = page_size
        self.session_idle_s = session_idle_s
        self.schedule_clearing = schedule_clearing
        self.counters = Counters()
        self.csrf_tokens: set[str] = set()
        self.rfc_sessions: dict[str, RfcSession] = {}
        self.lock = threading.Lock()
        self._cube: tuple[int, list[dict[str, Any]]] = (-1, [])
        self._rows_by_document: RowCache = {}
        self._filtered: dict[tuple[int, str, str], list[dict[str, Any]]] = {}

    def cube(self, filter_text: str, orderby: str) -> list[dict[str, Any]]:
        """Filtered, sorted rows, cached per ledger version (paging re-reads the same list)."""
        with self.ledger.lock:
            version = self.ledger.version
            if self._cube[0] != version:
                self._cube = (version, cube_rows(self.ledger, self._rows_by_document))
                self._filtered.clear()
            rows = self._cube[1]
        key = (version, filter_text, orderby)
        with self.lock:
            cached = self._filtered.get(key)
        if cached is None:
            predicate = odata.parse_filter(filter_text) if filter_text else None
            chosen = [row for row in rows if predicate is None or predicate(row)]
            cached = odata.sort_rows(chosen, orderby)
            with self.lock:
                if len(self._filtered) > 32:
                    self._filtered.clear()
                self._filtered[key] = cached
        return cached

    def expire_sessions(self) -> None:
        """Roll back the LUW of every RFC session idle longer than session_idle_s."""
        now = time.monotonic()
        with self.lock:
            stale = [
                k for k, s in self.rfc_sessions.items() if now - s.last_used > self.session_idle_s
            ]
            sessions = [self.rfc_sessions.pop(k) for k in stale]
        for session in sessions:
            self.ledger.rollback(session.luw.pending)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: SAPServer

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._handle("GET")

    def do_HEAD(self) -> None:
        self._handle("HEAD")

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
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        # counted before the first byte leaves: a client that has the answer sees it counted
        self.server.counters.count(status)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("sap-server", "true")
        for key, value in (headers or {}).items():
            for one in value.split("\n"):
                self.send_header(key, one)
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode()
        self._send(status, body, "application/json; charset=utf-8", headers)

    def _gateway_error(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        self._json(status, odata.gateway_error(code, message, uuid.uuid4().hex.upper()), headers)

    def _drop(self) -> None:
        with self.server.counters.lock:
            self.server.counters.dropped_after_commit += 1
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        raise _Dropped

    def _cookies(self) -> dict[str, str]:
        jar = SimpleCookie()
        with contextlib.suppress(Exception):
            jar.load(self.headers.get("Cookie", ""))
        return {key: morsel.value for key, morsel in jar.items()}

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with self.server.counters.lock:
            self.server.counters.requests += 1
        with contextlib.suppress(_Dropped):
            self._handle_inner(method, body)

    def _handle_inner(self, method: str, body: bytes) -> None:
        server = self.server
        fault = server.injector.decide(method)
        if fault is Fault.TOO_MANY_REQUESTS:
            after = server.injector.config.retry_after_s
            self._gateway_error(
                429,
                "/IWFND/CM_BEC/026",
                "Too many requests (injected)",
                {} if after is None else {"Retry-After": str(after)},
            )
            return
        if fault in (Fault.SERVER_ERROR, Fault.SERVICE_UNAVAILABLE):
            status = 500 if fault is Fault.SERVER_ERROR else 503
            self._gateway_error(status, "/IWFND/CM_BEC/076", "Internal server error (injected)")
            return
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        user = self._authenticate(query)
        if user is None:
            return
        server.expire_sessions()
        handled = self._route(method, url.path, query, body, user)
        if handled is None:
            return
        status, payload, content_type, headers = handled
        if fault is Fault.COMMIT_THEN_DROP:
            self._drop()
        self._send(status, payload, content_type, headers)

    def _authenticate(self, query: dict[str, list[str]]) -> User | None:
        client = (query.get("sap-client") or [self.headers.get("sap-client", "")])[0]
        auth = self.headers.get("Authorization", "")
        user = None
        if auth.startswith("Basic ") and client == self.server.client:
            with contextlib.suppress(ValueError, UnicodeDecodeError):
                name, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                candidate = self.server.users.get(name.upper())
                if candidate is not None and secrets.compare_digest(candidate.password, password):
                    user = candidate
        if user is None:
            realm = f'Basic realm="SAP NetWeaver Application Server [SIM/{self.server.client}]"'
            self._send(
                401,
                b"<html><body><h1>Logon failed</h1></body></html>",
                "text/html; charset=utf-8",
                {"WWW-Authenticate": realm},
            )
        return user

    # ---------------------------------------------------------------- routes
    def _route(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes, user: User
    ) -> tuple[int, bytes, str, dict[str, str]] | None:
        headers = self._csrf_fetch(method)
        if path.startswith(odata.SERVICE_ROOT.rstrip("/")):
            if "read" not in user.roles:
                return (
                    403,
                    b"No authorization for service API_OPLACCTGDOCITEMCUBE_SRV",
                    "text/plain",
                    headers,
                )
            if method not in ("GET", "HEAD"):
                if not self._csrf_valid():
                    return (
                        403,
                        b"CSRF token validation failed",
                        "text/plain",
                        {"x-csrf-token": "Required"},
                    )
                self._gateway_error(
                    405, "/IWBEP/CM_MGW_RT/049", "Method not allowed: the service is read-only"
                )
                return None
            try:
                host, accept = self.headers.get("Host", ""), self.headers.get("Accept", "")
                return odata_http.answer(self.server, host, accept, path, query, headers)
            except odata.ODataError as exc:
                self._gateway_error(exc.status, exc.code, exc.message, headers)
                return None
        if method != "POST" or path not in (soap.CREATE_PATH, soap.CLEARING_PATH, rfc.RFC_PATH):
            if method == "GET" and headers:  # a token fetch on any other path
                return 200, b"", "text/plain", headers
            self._send(404, b"Service cannot be reached", "text/plain")
            return None
        needed = "rfc" if path == rfc.RFC_PATH else "post"
        if needed not in user.roles:
            return 403, b"Forbidden: no authorization for this service", "text/plain", {}
        soap_ns = soap.SOAP12 if "soap+xml" in self.headers.get("Content-Type", "") else soap.SOAP11
        content_type = (
            f"{'application/soap+xml' if soap_ns == soap.SOAP12 else 'text/xml'}; charset=utf-8"
        )
        try:
            if path == soap.CREATE_PATH:
                answer, soap_ns = soap.create_journal_entries(self.server.ledger, body)
                return 200, answer, _soap_content_type(soap_ns), headers
            if path == soap.CLEARING_PATH:
                self.server.schedule_clearing(soap.parse_clearing(body))
                return 202, b"", "text/plain", headers
            command = (query.get("sap-sessioncmd") or [self.headers.get("sap-sessioncmd", "")])[0]
            return self._rfc(body, content_type, command.lower())
        except soap.SoapFault as exc:
            return 500, soap.fault_envelope(exc, soap_ns), content_type, {}

    def _csrf_fetch(self, method: str) -> dict[str, str]:
        """SAP Help "Cross-Site Request Forgery Protection": a GET with X-CSRF-Token: Fetch gets
        the token in the response header and in the anti-XSRF cookie sap-XSRF_<SID>_<client>."""
        if method not in ("GET", "HEAD") or self.headers.get("X-CSRF-Token", "").lower() != "fetch":
            return {}
        client = self.server.client
        cookies = self._cookies()
        token = cookies.get(XSRF_COOKIE.format(client=client), "")
        headers = {}
        with self.server.lock:
            if token not in self.server.csrf_tokens:
                token = secrets.token_urlsafe(18)
                self.server.csrf_tokens.add(token)
                headers["Set-Cookie"] = (
                    f"{XSRF_COOKIE.format(client=client)}={token}; path=/; HttpOnly\n"
                    f"{SESSION_COOKIE.format(client=client)}={secrets.token_urlsafe(24)}; "
                    f"path=/; HttpOnly\nsap-usercontext=sap-client={client}; path=/"
                )
        headers["x-csrf-token"] = token
        return headers

    def _csrf_valid(self) -> bool:
        """The header token must match the anti-XSRF cookie the server issued (else 403)."""
        cookie = self._cookies().get(XSRF_COOKIE.format(client=self.server.client), "")
        token = self.headers.get("X-CSRF-Token", "")
        with self.server.lock:
            issued = cookie in self.server.csrf_tokens
        return issued and secrets.compare_digest(cookie, token)

    def _rfc(
        self, body: bytes, content_type: str, command: str
    ) -> tuple[int, bytes, str, dict[str, str]]:
        """One SOAP-RFC call in its session (`sap-sessioncmd` open/close, header or URL)."""
        server = self.server
        context = self._cookies().get(CONTEXT_COOKIE)
        headers: dict[str, str] = {}
        with server.lock:
            session = server.rfc_sessions.get(context or "")
            if session is None and context and command != "open":
                raise soap.SoapFault(
                    "Client",
                    "Session context no longer exists (timed out or closed); "
                    "its uncommitted work was rolled back",
                    context,
                )
            if session is None and command == "open":
                context = secrets.token_hex(16)
                session = server.rfc_sessions[context] = RfcSession()
                headers["Set-Cookie"] = f"{CONTEXT_COOKIE}={context}; path={rfc.RFC_PATH}"
            stateless = session is None
            if session is None:
                session = RfcSession()
            session.last_used = time.monotonic()
        answer = rfc.call(server.ledger, session.luw, body)
        if stateless or command == "close":
            server.ledger.rollback(session.luw.pending)  # the LUW ends with the session
            with server.lock:
                server.rfc_sessions.pop(context or "", None)
        return 200, answer, content_type, headers


def _soap_content_type(soap_ns: str) -> str:
    return f"{'application/soap+xml' if soap_ns == soap.SOAP12 else 'text/xml'}; charset=utf-8"
