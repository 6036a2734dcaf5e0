"""Signed webhooks over real HTTP: the seed's subscription handler, signatures checked by an
independent HMAC, tampered/stale/replayed deliveries refused, a receiver down then up, a
sender crash between send and record, retries and failures, secret rotation, URL checks."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from api_server import ApiServer, serve
from receiver import SubscriptionHandler, running_receiver

from paybridge.client import verify_webhook
from paybridge.config import PayBridgeConfig, WebhooksConfig
from paybridge.devchain import free_port
from paybridge.requests.actions import mark_request
from paybridge.requests.lifecycle import Status
from paybridge.store.db import create_engine_for, transaction
from paybridge.store.models import WebhookAttempt, WebhookDelivery, WebhookEvent
from paybridge.webhooks import delivery
from paybridge.webhooks.delivery import LEASE, DeliverySummary, deliver_due
from paybridge.webhooks.endpoints import WebhookError, add_endpoint, check_url, rotate_secret

CREATE = "/v1/payments/create-order"


@pytest.fixture
def hook_api(api_config: PayBridgeConfig, store) -> Iterator[ApiServer]:  # type: ignore[no-untyped-def]
    allowed = api_config.model_copy(update={"webhooks": WebhooksConfig(allow_private_urls=True)})
    yield from serve(allowed, store)


def _endpoint(server: ApiServer, url: str, events: list[str] | None = None) -> tuple[str, str]:
    with transaction(server.engine) as session:
        row, secret = add_endpoint(session, url, events or [], allow_private=True, actor="t")
        return row.id, secret


def _order(http, url: str | None, **metadata: str) -> str:  # type: ignore[no-untyped-def]
    body = {"amount": "10", "currency": "USDC", "network": "anvil", "metadata": metadata}
    if url:
        body["webhook_url"] = url
    response = http.post(CREATE, json=body)
    assert response.status_code == 201, response.text
    return response.json()["payment_id"]


def _independent_check(secret: str, headers: dict[str, str], body: bytes) -> dict:
    parts = dict(item.split("=", 1) for item in headers["X-Payment-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256)
    assert hmac.compare_digest(parts["v1"], expected.hexdigest())
    event = json.loads(body)
    assert headers["X-Payment-Event-Id"] == event["event_id"]
    return event


def test_seed_subscription_handler_and_signatures(hook_api: ApiServer) -> None:
    with running_receiver() as rx:
        _id, secret = _endpoint(hook_api, rx.url)
        with hook_api.client(hook_api.key("payments:write")) as http:
            paid = _order(http, rx.url, subscription_id="sub_1")
            unpaid = _order(http, rx.url, subscription_id="sub_2")
            assert http.post(f"/v1/payments/{unpaid}/cancel").status_code == 200
        with transaction(hook_api.engine) as session:
            mark_request(session, paid, Status.COMPLETED, actor="t", reason="paid (test)")
        summary = deliver_due(hook_api.engine, allow_private=True)
        assert len(summary.delivered) == 4 and not summary.retrying
        events = [_independent_check(secret, r.headers, r.body) for r in rx.received]
        assert sorted((e["event_type"], e["data"]["payment_id"]) for e in events) == sorted(
            [
                ("payment.created", paid),
                ("payment.created", unpaid),
                ("payment.failed", unpaid),
                ("payment.completed", paid),
            ]
        )
        completed = next(e for e in events if e["event_type"] == "payment.completed")
        assert completed["version"] == 1 and completed["data"]["status"] == "completed"
        assert completed["data"]["amounts"]["due_base_units"] == "10000000"
        handler = SubscriptionHandler(secret)
        assert [handler.handle(r.body, r.headers) for r in rx.received] == [200] * 4
        assert handler.subscriptions == {"sub_1": "active", "sub_2": "payment_failed"}
        first = rx.received[0]
        assert handler.handle(first.body, first.headers) == 400  # the same signed message
        tampered = first.body.replace(b'"payment.', b'"payment.x')
        assert SubscriptionHandler(secret).handle(tampered, first.headers) == 400
        t = int(first.headers["X-Payment-Signature"].split(",")[0][2:])
        assert SubscriptionHandler(secret).handle(first.body, first.headers, now=t + 301) == 400
        assert SubscriptionHandler("whsec_other").handle(first.body, first.headers) == 400


def test_receiver_down_then_up_and_a_crash_between_send_and_record(
    hook_api: ApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()  # nobody listens yet: connection refused
    _endpoint_id, secret = _endpoint(hook_api, f"http://127.0.0.1:{port}/hooks")
    with hook_api.client(hook_api.key("payments:write")) as http:
        ids = [_order(http, None) for _ in range(3)]
    t0 = datetime.now(UTC)
    down = deliver_due(hook_api.engine, allow_private=True, now=lambda: t0)
    assert len(down.retrying) == 3 and not down.delivered
    with running_receiver(port) as rx:
        early = deliver_due(
            hook_api.engine, allow_private=True, now=lambda: t0 + timedelta(seconds=1)
        )
        assert not early.delivered and not early.retrying  # waiting for the backoff
        later = t0 + timedelta(hours=2)
        up = deliver_due(hook_api.engine, allow_private=True, now=lambda: later)
        assert len(up.delivered) == 3
        # the sender dies after the receiver got the event, before recording it
        with hook_api.client(hook_api.key("payments:write")) as http:
            ids.append(_order(http, None))
        real_record = delivery.record

        def crash(*_args: object, **_kw: object) -> None:
            raise SystemExit("killed between send and record")

        monkeypatch.setattr(delivery, "record", crash)
        with pytest.raises(SystemExit):
            deliver_due(hook_api.engine, allow_private=True, now=lambda: later)
        monkeypatch.setattr(delivery, "record", real_record)
        assert len(rx.received) == 4
        after_lease = later + LEASE + timedelta(seconds=1)
        again = deliver_due(hook_api.engine, allow_private=True, now=lambda: after_lease)
        assert len(again.delivered) == 1
        handler = SubscriptionHandler(secret)
        for r in rx.received:  # signed at the (simulated) sending time
            sent_at = int(r.headers["X-Payment-Signature"].split(",")[0][2:])
            assert handler.handle(r.body, r.headers, now=sent_at) == 200
        assert {json.loads(r.body)["data"]["payment_id"] for r in rx.received} == set(ids)
        assert len(handler.handled) == 4 < len(rx.received)  # once per event id
    with transaction(hook_api.engine) as session:
        states = {d.state for d in session.query(WebhookDelivery)}
        attempts = session.query(WebhookAttempt).all()
    assert states == {"delivered"}
    assert any(a.error and "Connect" in a.error for a in attempts)


def test_two_senders_on_one_store_send_each_delivery_once(hook_api: ApiServer) -> None:
    """`paybridge api` and `webhooks deliver --loop` on one store: the second sender drains
    everything between the first's read of the due rows and its lease; the first then leases
    nothing (SQLite ignores FOR UPDATE; PostgreSQL's SKIP LOCKED hides the rows instead)."""
    port = free_port()
    _endpoint(hook_api, f"http://127.0.0.1:{port}/hooks")
    with hook_api.client(hook_api.key("payments:write")) as http:
        ids = {_order(http, None) for _ in range(3)}
    first = create_engine_for(hook_api.engine.url.render_as_string(hide_password=False))
    other = create_engine_for(hook_api.engine.url.render_as_string(hide_password=False))
    interleaved: list[DeliverySummary] = []

    def other_sender_runs(_conn, _cursor, statement: str, *_args: object) -> None:  # type: ignore[no-untyped-def]
        if not interleaved and statement.lstrip().startswith("SELECT"):
            interleaved.append(deliver_due(other, allow_private=True))

    sa.event.listen(first, "after_cursor_execute", other_sender_runs)
    try:
        with running_receiver(port) as rx:
            mine = deliver_due(first, allow_private=True)
            theirs = interleaved[0]
            assert len(mine.delivered) + len(theirs.delivered) == 3
            sent = [json.loads(r.body)["data"]["payment_id"] for r in rx.received]
        assert sorted(sent) == sorted(ids)  # each order's payment.created exactly once
    finally:
        first.dispose()
        other.dispose()


def test_retry_on_5xx_fail_on_4xx_and_failed_endpoints_still_get_events(
    hook_api: ApiServer,
) -> None:
    with running_receiver(answer=503) as rx:
        _endpoint(hook_api, rx.url)
        with hook_api.client(hook_api.key("payments:write")) as http:
            _order(http, None)
            assert deliver_due(hook_api.engine, allow_private=True).retrying
            rx.answer = 400
            later = datetime.now(UTC) + timedelta(hours=1)
            assert deliver_due(hook_api.engine, allow_private=True, now=lambda: later).failed
            rx.answer = 200
            _order(http, None)
            assert len(deliver_due(hook_api.engine, allow_private=True).delivered) == 1
        beyond = datetime.now(UTC) + timedelta(days=4)
        with transaction(hook_api.engine) as session:
            event_id = session.query(WebhookEvent).first().id
        assert not deliver_due(hook_api.engine, allow_private=True, now=lambda: beyond).delivered
        assert event_id


def test_secret_rotation_signs_with_both_during_the_overlap(hook_api: ApiServer) -> None:
    with running_receiver() as rx:
        endpoint_id, old = _endpoint(hook_api, rx.url)
        with transaction(hook_api.engine) as session:
            _row, new = rotate_secret(session, endpoint_id, overlap=timedelta(hours=1), actor="t")
        with hook_api.client(hook_api.key("payments:write")) as http:
            _order(http, None)
        deliver_due(hook_api.engine, allow_private=True)
        (got,) = rx.received
        header = got.headers["X-Payment-Signature"]
        assert header.count("v1=") == 2
        for secret in (old, new):
            assert verify_webhook(got.body, header, secret)["event_type"] == "payment.created"


def test_receiver_urls_are_checked() -> None:
    for url in (
        "http://127.0.0.1:9/x",
        "https://127.0.0.1/x",
        "https://10.1.2.3/x",
        "https://169.254.169.254/latest",
        "https://[::1]/x",
        "ftp://example.com/x",
        "https://user:pw@example.com/x",
    ):
        with pytest.raises(WebhookError):
            check_url(url, allow_private=False)
    check_url("http://127.0.0.1:9/x", allow_private=True)
    with pytest.raises(WebhookError, match="unknown event"):
        add_endpoint(None, "https://x.example", ["payment.nope"], allow_private=True, actor="t")  # type: ignore[arg-type]


def _doc_handler(secret: str, calls: list[tuple[str, str]]) -> dict:
    """The handler exactly as docs/api.md prints it, run with stand-ins for the app's calls."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    block = next(b for b in text.split("```python\n")[1:] if "def paybridge_webhook" in b)
    namespace: dict = {
        "SECRET": secret,
        "activate_subscription": lambda sub: calls.append(("active", sub)),
        "mark_subscription_failed": lambda sub: calls.append(("failed", sub)),
    }
    exec(block.split("```")[0], namespace)
    return namespace


def test_the_documented_handler_on_real_deliveries(hook_api: ApiServer) -> None:
    with running_receiver() as rx:
        _id, secret = _endpoint(hook_api, rx.url)
        with hook_api.client(hook_api.key("payments:write")) as http:
            paid = _order(http, rx.url, subscription_id="sub_9")
        with transaction(hook_api.engine) as session:
            mark_request(session, paid, Status.COMPLETED, actor="t", reason="paid (test)")
        deliver_due(hook_api.engine, allow_private=True)
        calls: list[tuple[str, str]] = []
        handler = _doc_handler(secret, calls)["paybridge_webhook"]
        assert [handler(r.body, r.headers) for r in rx.received] == [200, 200]
        assert calls == [("active", "sub_9")]
        assert handler(rx.received[1].body, rx.received[1].headers) == 400  # replayed
        assert handler(b"{}", rx.received[1].headers) == 400  # tampered
