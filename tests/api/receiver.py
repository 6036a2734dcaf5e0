"""A webhook receiver on loopback (real HTTP) that records deliveries and answers what the
test tells it to; and the seed's subscription webhook handler, reproduced in Python."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from paybridge.client import ReplayGuard, WebhookVerificationError, verify_webhook


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    port: int
    answer: int = 200
    received: list[Received] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"


@contextmanager
def running_receiver(port: int = 0, answer: int = 200) -> Iterator[Receiver]:
    state = Receiver(port, answer)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            state.received.append(Received(dict(self.headers.items()), self.rfile.read(length)))
            self.send_response(state.answer)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


class SubscriptionHandler:
    """The seed's SaaS webhook handler: payment.completed activates the subscription,
    payment.failed marks it failed; each event id is handled once (redeliveries ignored)."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.subscriptions: dict[str, str] = {}  # subscription id -> status
        self.handled: set[str] = set()
        self.guard = ReplayGuard()

    def handle(self, body: bytes, headers: dict[str, str], now: int | None = None) -> int:
        """The HTTP status the receiver answers."""
        try:
            event = verify_webhook(
                body,
                headers.get("X-Payment-Signature", ""),
                self.secret,
                300,
                replay_guard=self.guard,
                now=now,
            )
        except WebhookVerificationError:
            return 400
        if event["event_id"] in self.handled:
            return 200  # already processed: a redelivery
        self.handled.add(event["event_id"])
        subscription = event["data"]["metadata"].get("subscription_id")
        if event["event_type"] == "payment.completed" and subscription:
            self.subscriptions[subscription] = "active"
        elif event["event_type"] == "payment.failed" and subscription:
            self.subscriptions[subscription] = "payment_failed"
        return 200
