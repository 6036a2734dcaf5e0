"""Group commit of create-orders over real HTTP: many concurrent orders are written in shared
transactions, yet each is answered on its own (201, replay, 409, 422) and, once accepted, has
exactly one payment request, API order, audit entry and payment.created event; a batch that
cannot commit answers no 201 for what it did not write."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from api_server import ApiServer, serve
from sqlalchemy.engine import Engine

from paybridge import audit
from paybridge.api.order_writer import OrderJob, OrderWriter
from paybridge.api.problems import ApiProblem
from paybridge.config import PayBridgeConfig
from paybridge.store.db import transaction
from paybridge.store.models import (
    ApiOrder,
    AuditEntry,
    IdempotencyKey,
    PaymentRequest,
    WebhookEvent,
)
from paybridge.webhooks.endpoints import add_endpoint

CREATE = "/v1/payments/create-order"


def _body(order: str, network: str = "anvil", amount: str = "0.05") -> dict[str, Any]:
    return {"amount": amount, "currency": "ETH", "network": network, "metadata": {"o": order}}


def _post_all(api: ApiServer, key: str, calls: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    """Every (Idempotency-Key, body) at once from its own thread and connection."""
    start = threading.Barrier(len(calls))

    def post(call: tuple[str, dict[str, Any]]) -> httpx.Response:
        idem, body = call
        with api.client(key) as http:
            start.wait()
            return http.post(CREATE, json=body, headers={"Idempotency-Key": idem})

    with ThreadPoolExecutor(len(calls)) as threads:
        return list(threads.map(post, calls))


def _check_store(engine: Engine, payment_ids: set[str]) -> None:
    """Each accepted payment written exactly once, nothing else, and the chain verifies."""
    with transaction(engine) as session:
        requests = Counter(session.scalars(sa.select(PaymentRequest.id)))
        orders = Counter(session.scalars(sa.select(ApiOrder.payment_id)))
        audited = Counter(
            session.scalars(
                sa.select(AuditEntry.entity_id).where(
                    AuditEntry.entity_type == "payment_request", AuditEntry.action == "create"
                )
            )
        )
        events = Counter(
            session.scalars(
                sa.select(WebhookEvent.payment_id).where(
                    WebhookEvent.event_type == "payment.created"
                )
            )
        )
        keys = Counter(session.scalars(sa.select(IdempotencyKey.payment_id)))
        for written in (requests, orders, audited, events, keys):
            assert written == dict.fromkeys(payment_ids, 1)
        indexes = list(session.scalars(sa.select(PaymentRequest.derivation_index)))
        assert len(set(indexes)) == len(indexes)
        verified = audit.verify(session)
        assert verified.ok, verified.problem


def _listen(api: ApiServer) -> None:
    """A registered endpoint, so that every order also writes a payment.created event."""
    with transaction(api.engine) as session:
        add_endpoint(session, "http://127.0.0.1:9/hook", [], allow_private=True, actor="t")


def test_concurrent_orders_each_answered_and_written_once(api: ApiServer) -> None:
    key = api.key("payments:write")
    _listen(api)
    run = uuid.uuid4().hex[:6]
    plain = [(f"{run}-new-{i}", _body(f"n{i}")) for i in range(40)]
    same = [(f"{run}-same-{i}", _body(f"s{i}")) for i in range(8)]
    clash = [(f"{run}-clash-{i}", _body(f"c{i}")) for i in range(6)]
    other = [(idem, _body(body["metadata"]["o"], amount="0.07")) for idem, body in clash]
    unknown = [(f"{run}-bad-{i}", _body(f"b{i}", network="NOPE")) for i in range(4)]
    calls = plain[:20] + same + unknown[:2] + clash + same + other + unknown[2:] + plain[20:]
    answers = dict(zip(range(len(calls)), _post_all(api, key, calls), strict=True))
    by_key: dict[str, list[httpx.Response]] = {}
    for index, response in answers.items():
        by_key.setdefault(calls[index][0], []).append(response)
    accepted: set[str] = set()
    for idem, _body_sent in plain:
        (response,) = by_key[idem]
        assert response.status_code == 201, response.text
        accepted.add(response.json()["payment_id"])
    for idem, _body_sent in same:  # one created, one replayed: the same payment
        statuses = sorted(r.status_code for r in by_key[idem])
        assert statuses == [200, 201], [r.text for r in by_key[idem]]
        replay = next(r for r in by_key[idem] if r.status_code == 200)
        assert replay.headers["Idempotent-Replayed"] == "true"
        ids = {r.json()["payment_id"] for r in by_key[idem]}
        assert len(ids) == 1
        accepted |= ids
    for idem, _body_sent in clash:  # whichever came first made it; the other body is refused
        statuses = sorted(r.status_code for r in by_key[idem])
        assert statuses == [201, 409], [r.text for r in by_key[idem]]
        refused = next(r for r in by_key[idem] if r.status_code == 409)
        assert refused.headers["content-type"] == "application/problem+json"
        accepted.add(next(r for r in by_key[idem] if r.status_code == 201).json()["payment_id"])
    for idem, _body_sent in unknown:
        (response,) = by_key[idem]
        assert response.status_code == 422 and "network" in response.json()["detail"]
    assert len(accepted) == 40 + 8 + 6
    _check_store(api.engine, accepted)


def test_orders_queued_meanwhile_share_one_transaction(
    api_config: PayBridgeConfig, store: Engine
) -> None:
    """While a batch is being written the next orders queue, then go in as one batch; a lone
    order is written at once (no timer)."""
    writer = OrderWriter(store, None)
    release = threading.Event()
    seen: list[int] = []

    def stalled(session: Any, memo: Any) -> str:
        release.wait(10)
        return "first"

    def counted(session: Any, memo: Any) -> int:
        seen.append(id(session))
        return len(seen)

    first = writer.submit(OrderJob(stalled))
    time.sleep(0.2)  # the writer is inside the first batch now
    queued = [writer.submit(OrderJob(counted)) for _ in range(10)]
    release.set()
    assert first.result(10) == "first"
    assert sorted(f.result(10) for f in queued) == list(range(1, 11))
    assert len(set(seen)) == 1  # one session: one transaction for the ten
    began = time.monotonic()
    assert writer.submit(OrderJob(counted)).result(10) == 11
    assert time.monotonic() - began < 0.5


@contextmanager
def _head_held(engine: Engine) -> Iterator[sa.Connection]:
    """The audit chain's head locked by another transaction: batches wait at their append."""
    with engine.connect() as connection, connection.begin() as held:
        connection.execute(sa.text("select seq from audit_head where id = 1 for update"))
        yield connection
        held.rollback()


def _wait_for(condition: Callable[[], Any], seconds: float = 10) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.fixture
def pg_api(api_config: PayBridgeConfig, postgres_store: Engine) -> Iterator[ApiServer]:
    yield from serve(api_config, postgres_store)


def _first_order(api: ApiServer, key: str) -> str:
    """One order first, so that the chain's head row exists to be locked; its payment id."""
    with api.client(key) as http:
        response = http.post(CREATE, json=_body("first"), headers={"Idempotency-Key": "first"})
        assert response.status_code == 201
        return str(response.json()["payment_id"])


def test_batch_whose_connection_dies_answers_no_uncommitted_order(pg_api: ApiServer) -> None:
    """The batch's backend is terminated while it waits at its append: nothing of it is
    written; each order is then written on its own, once, and answered 201; the same keys
    again are replays."""
    key = pg_api.key("payments:write")
    _listen(pg_api)
    first = _first_order(pg_api, key)
    calls = [(f"kill-{uuid.uuid4().hex[:8]}", _body(f"k{i}")) for i in range(12)]
    results: list[Any] = []
    watch = pg_api.engine.execution_options(isolation_level="AUTOCOMMIT")
    with _head_held(pg_api.engine), watch.connect() as watcher:
        sender = threading.Thread(target=lambda: results.extend(_post_all(pg_api, key, calls)))
        sender.start()
        waiting = sa.text(
            "select pid from pg_stat_activity where wait_event_type = 'Lock' "
            "and pid <> pg_backend_pid() and query ilike '%audit_head%'"
        )
        pids = _wait_for(lambda: watcher.execute(waiting).scalars().all())
        time.sleep(0.3)  # the remaining orders queue behind the stalled batch
        for pid in pids:
            watcher.execute(sa.text("select pg_terminate_backend(:pid)"), {"pid": pid})
    sender.join(30)
    assert [r.status_code for r in results] == [201] * len(calls), [r.text for r in results]
    accepted = {r.json()["payment_id"] for r in results}
    with pg_api.client(key) as http:
        for (idem, body), answer in zip(calls, results, strict=True):
            again = http.post(CREATE, json=body, headers={"Idempotency-Key": idem})
            assert again.status_code == 200
            assert again.json()["payment_id"] == answer.json()["payment_id"]
    _check_store(pg_api.engine, accepted | {first})


_POISON = """
create function pb_refuse_poison() returns trigger language plpgsql as $$
begin
  if new.description = 'poison' then
    raise exception 'poisoned order' using errcode = 'check_violation';
  end if;
  return null;
end $$;
create constraint trigger pb_poison after insert on api_orders
  deferrable initially deferred for each row execute function pb_refuse_poison();
"""


def test_batch_refused_at_commit_writes_nothing_and_answers_503(pg_api: ApiServer) -> None:
    """A constraint checked at COMMIT refuses one order of a batch: the others are written
    (each on its own), the refused one answers 503 problem+json with nothing of it written,
    and once the store accepts it a retry with the same key creates it once."""
    key = pg_api.key("payments:write")
    _listen(pg_api)
    first = _first_order(pg_api, key)
    with pg_api.engine.begin() as connection:
        connection.exec_driver_sql(_POISON)
    calls = [(f"p-{uuid.uuid4().hex[:8]}", _body(f"p{i}")) for i in range(10)]
    poison_key, poison_body = calls[4][0], {**calls[4][1], "description": "poison"}
    calls[4] = (poison_key, poison_body)
    results: list[Any] = []
    with _head_held(pg_api.engine):
        sender = threading.Thread(target=lambda: results.extend(_post_all(pg_api, key, calls)))
        sender.start()
        time.sleep(1.0)  # all ten queued behind the stalled batch: they form the next one
    sender.join(30)
    statuses = [r.status_code for r in results]
    assert statuses == [201] * 4 + [503] + [201] * 5, [r.text for r in results]
    problem = results[4]
    assert problem.headers["content-type"] == "application/problem+json"
    assert "same Idempotency-Key" in problem.json()["detail"]
    accepted = {r.json()["payment_id"] for r in results if r.status_code == 201}
    with transaction(pg_api.engine) as session:
        claimed = sa.select(IdempotencyKey).where(IdempotencyKey.key == poison_key)
        assert session.scalars(claimed).first() is None
    with pg_api.engine.begin() as connection:
        connection.exec_driver_sql("drop trigger pb_poison on api_orders")
    with pg_api.client(key) as http:
        retried = http.post(CREATE, json=poison_body, headers={"Idempotency-Key": poison_key})
        assert retried.status_code == 201, retried.text
        again = http.post(CREATE, json=poison_body, headers={"Idempotency-Key": poison_key})
        assert again.status_code == 200
    accepted |= {retried.json()["payment_id"], first}
    _check_store(pg_api.engine, accepted)


def test_commit_of_unknown_outcome_retries_keyed_orders_only(store: Engine) -> None:
    """A connection lost during the COMMIT itself leaves the batch's outcome unknown: orders
    with an Idempotency-Key are retried (a saved one would be replayed), an order without one
    is answered 503 "outcome unknown" rather than risk a second payment."""
    writer = OrderWriter(store, None)
    lost = sa.exc.OperationalError(None, None, Exception("server closed the connection"))
    lost.connection_invalidated = True  # as SQLAlchemy marks a disconnect; no statement: COMMIT
    calls: Counter[str] = Counter()
    release = threading.Event()

    def stalled(session: Any, memo: Any) -> str:
        release.wait(10)
        return "first"

    def job(name: str, fail: bool) -> Callable[[Any, Any], str]:
        def write(session: Any, memo: Any) -> str:
            calls[name] += 1
            if fail and calls[name] == 1:
                raise lost
            return name

        return write

    first = writer.submit(OrderJob(stalled))
    time.sleep(0.2)
    keyed = writer.submit(OrderJob(job("keyed", False), keyed=True))
    unkeyed = writer.submit(OrderJob(job("unkeyed", False)))
    failing = writer.submit(OrderJob(job("failing", True), keyed=True))
    release.set()
    assert first.result(10) == "first"
    assert keyed.result(10) == "keyed" and failing.result(10) == "failing"
    with pytest.raises(ApiProblem) as refused:
        unkeyed.result(10)
    assert refused.value.status == 503 and refused.value.title == "Order outcome unknown"
    assert calls == {"keyed": 2, "unkeyed": 1, "failing": 2}
