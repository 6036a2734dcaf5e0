"""A JSON-RPC proxy in front of anvil that misbehaves like public providers do.

Real HTTP on loopback, forwarding to the real node; it only injects faults:
range-limit errors (Infura's -32005 / "block range too large"), slow answers that make the
client time out, empty ``eth_getLogs`` answers for ranges that touch the head (a load-balanced
backend that has not indexed the newest block), and being down (connection refused).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx


@dataclass
class Faults:
    max_log_range: int | None = None  # eth_getLogs wider than this -> error
    range_messages: tuple[str, ...] = (
        "query returned more than 10000 results",
        "block range too large",
    )
    slow_calls: int = 0  # the next N calls of slow_method answer after slow_seconds
    slow_method: str = "eth_getLogs"
    slow_seconds: float = 1.5
    empty_head_logs: int = 0  # the next N range eth_getLogs touching the head answer []
    empty_hash_logs: int = 0  # the next N blockHash eth_getLogs answer []
    fail_after_calls: int | None = None  # then every call fails with HTTP 503 (a dying node)


@dataclass
class ProxyStats:
    calls: Counter[str] = field(default_factory=Counter)
    range_errors: int = 0
    slow_answers: int = 0
    empty_answers: int = 0
    log_ranges: list[tuple[int, int]] = field(default_factory=list)


class RpcProxy:
    def __init__(self, upstream: str, port: int = 0, faults: Faults | None = None) -> None:
        self.upstream = upstream
        self.port = port
        self.faults = faults or Faults()
        self.stats = ProxyStats()
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=30)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> RpcProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status, answer = proxy._handle(body)
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])  # port 0: the OS picked a free one
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- behaviour ----------------------------------------------------------------------------
    def _forward(self, body: Any) -> Any:
        return self._client.post(self.upstream, json=body).json()

    def _head(self) -> int:
        answer = self._forward(
            {"jsonrpc": "2.0", "id": 0, "method": "eth_blockNumber", "params": []}
        )
        return int(answer["result"], 16)

    def _handle(self, body: Any) -> tuple[int, Any]:
        items = body if isinstance(body, list) else [body]
        with self._lock:
            total = sum(self.stats.calls.values())
            for item in items:
                self.stats.calls[item["method"]] += 1
            dying = (
                self.faults.fail_after_calls is not None and total >= self.faults.fail_after_calls
            )
        if dying:
            return 503, {"error": "service unavailable"}
        answers = [self._one(item) for item in items]
        return 200, answers if isinstance(body, list) else answers[0]

    def _one(self, item: dict[str, Any]) -> Any:
        method, params, faults = item["method"], item.get("params", []), self.faults
        slow = False
        with self._lock:
            if method == faults.slow_method and faults.slow_calls > 0:
                faults.slow_calls -= 1
                self.stats.slow_answers += 1
                slow = True
        if slow:
            time.sleep(faults.slow_seconds)
        if method == "eth_getLogs":
            query = params[0]
            if "blockHash" in query:
                with self._lock:
                    if faults.empty_hash_logs > 0:
                        faults.empty_hash_logs -= 1
                        self.stats.empty_answers += 1
                        return {"jsonrpc": "2.0", "id": item["id"], "result": []}
            else:
                start, end = int(query["fromBlock"], 16), int(query["toBlock"], 16)
                with self._lock:
                    self.stats.log_ranges.append((start, end))
                    if faults.max_log_range is not None and end - start + 1 > faults.max_log_range:
                        message = faults.range_messages[
                            self.stats.range_errors % len(faults.range_messages)
                        ]
                        self.stats.range_errors += 1
                        return {
                            "jsonrpc": "2.0",
                            "id": item["id"],
                            "error": {"code": -32005, "message": message},
                        }
                if faults.empty_head_logs > 0 and end >= self._head():
                    with self._lock:
                        faults.empty_head_logs -= 1
                        self.stats.empty_answers += 1
                    return {"jsonrpc": "2.0", "id": item["id"], "result": []}
        return self._forward(item)
