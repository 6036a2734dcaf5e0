"""Re-quotes on the payer's page over real HTTP and real chains: another asset or network
gives a fresh locked quote on the same deposit address; asking again changes nothing; a
transfer sent to the replaced quote (old network, old asset) is still recorded against the
payment by the watcher and shown to the payer; once money arrived, re-quotes are refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from portal_env import Portal
from sqlalchemy.orm import Session

from paybridge.orders.requote import MAX_REQUOTES
from paybridge.recon_runs.run import reconcile_store
from paybridge.requests.actions import expire_overdue
from paybridge.store.db import transaction
from paybridge.store.models import (
    AuditEntry,
    PaymentRequest,
    ReconException,
    SupersededQuote,
)
from paybridge.store.models.chain import ChainReceipt

USDC = 10**6


def _request(portal: Portal, payment_id: str) -> PaymentRequest:
    with Session(portal.engine) as session:
        found = session.get(PaymentRequest, payment_id)
        assert found is not None
        return found


def test_network_switch_keeps_the_old_quote_watched(any_store_portal: Portal) -> None:
    portal = any_store_portal
    order = portal.create_order()  # 25 USD in USDC on anvil
    pid, address = order["payment_id"], order["payment_details"]["address"]
    with portal.http() as http:
        page = http.get(f"/pay/{pid}").text
        assert 'value="anvil:USDC" checked' in page and 'value="anvil-b:USDC"' in page
        moved = http.post(f"/pay/{pid}/quote", data={"choice": "anvil-b:USDC"})
        again = http.post(f"/pay/{pid}/quote", data={"choice": "anvil-b:USDC"})
        unknown = http.post(f"/pay/{pid}/quote", data={"choice": "ethereum:USDC"})
    assert moved.status_code == 303 and again.status_code == 303
    assert moved.headers["location"] == f"/pay/{pid}"
    assert unknown.status_code == 422 and "not one of the assets and networks" in unknown.text
    request = _request(portal, pid)
    assert (request.chain_id, request.asset_symbol, request.deposit_address) == (
        31338,
        "USDC",
        address,
    )
    with Session(portal.engine) as session:
        [old] = session.scalars(sa.select(SupersededQuote)).all()
        actions = session.scalars(
            sa.select(AuditEntry.action).where(AuditEntry.entity_id == pid)
        ).all()
    assert (old.chain_id, old.amount_due, old.deposit_address) == (31337, 25 * USDC, address)
    assert actions.count("requote") == 1  # the repeated choice was a no-op

    # the payer had already sent the old quote on the old network: recorded, not lost
    tx = portal.pay_token(address, 25 * USDC, chain="anvil")
    portal.mine(10, chain="anvil")  # the old chain's first scan must still reach back to it
    report = portal.watch("anvil", start_block=None)
    assert report.receipts_added == 1
    with Session(portal.engine) as session:
        [receipt] = session.scalars(sa.select(ChainReceipt)).all()
    assert (receipt.payment_request_id, receipt.chain_id) == (pid, 31337)
    assert receipt.tx_hash == tx["transactionHash"].to_0x_hex()
    with portal.http() as http:
        status = http.get(f"/pay/{pid}/status").json()
        refused = http.post(f"/pay/{pid}/quote", data={"choice": "anvil:DAI"})
    assert status["state"] == "awaiting" and status["can_requote"] is False
    assert status["earlier_quote_receipts"] == [f"25.00 USDC (transaction {receipt.tx_hash})"]
    assert refused.status_code == 409 and "transfers have arrived" in refused.text

    # reconciliation sees that transfer (old chain, old quote) and queues it for a person
    portal.mine(64, chain="anvil")
    portal.watch("anvil")
    summary = reconcile_store(portal.engine, portal.config)
    assert pid not in summary.completed
    with Session(portal.engine) as session:
        [exception] = session.scalars(
            sa.select(ReconException).where(ReconException.tx_hash == receipt.tx_hash)
        ).all()
    assert (exception.chain_id, exception.amount, exception.status) == (31337, 25 * USDC, "open")
    assert exception.reason == "WRONG_CHAIN" and exception.request_id == pid


def test_expired_quote_is_requoted_at_a_fresh_rate(any_store_portal: Portal) -> None:
    portal = any_store_portal
    order = portal.create_order(currency="ETH")  # 25 USD at 3000 USD/ETH
    pid = order["payment_id"]
    with transaction(portal.engine) as session:  # the expiry job, at a time after the lock
        assert expire_overdue(session, actor="test", now=datetime.now(UTC) + timedelta(hours=1))
    with portal.http() as http:
        expired = http.get(f"/pay/{pid}/status").json()
        page = http.get(f"/pay/{pid}").text
        http.post(f"/pay/{pid}/quote", data={"choice": "anvil:ETH"})
        fresh = http.get(f"/pay/{pid}/status").json()
    assert expired["state"] == "expired" and expired["can_requote"] is True
    assert "Get a new quote" in page and 'id="address"' not in page  # no QR for a lapsed price
    assert fresh["state"] == "awaiting" and fresh["status"] == "new"
    assert datetime.fromisoformat(fresh["expires_at"]) > datetime.now(UTC) + timedelta(minutes=10)
    with Session(portal.engine) as session:
        actions = session.scalars(
            sa.select(AuditEntry.action).where(AuditEntry.entity_id == pid).order_by(AuditEntry.seq)
        ).all()
    assert actions[-2:] == ["status:expired->new", "requote"]


def test_requotes_are_bounded_per_payment(any_store_portal: Portal) -> None:
    """The link is public: toggling choices cannot write without end."""
    portal = any_store_portal
    pid = portal.create_order()["payment_id"]
    with portal.http() as http:
        answers = [
            http.post(f"/pay/{pid}/quote", data={"choice": f"anvil:{('DAI', 'USDC')[i % 2]}"})
            for i in range(MAX_REQUOTES + 1)
        ]
    assert [a.status_code for a in answers] == [303] * MAX_REQUOTES + [429]
    assert "ask the merchant for a new payment link" in answers[-1].text
    with Session(portal.engine) as session:
        count = session.scalar(sa.select(sa.func.count()).select_from(SupersededQuote))
    assert count == MAX_REQUOTES


def test_migration_matches_the_model_and_downgrades(database_url: str) -> None:
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.config import Config
    from alembic.migration import MigrationContext

    from paybridge.store.base import Base
    from paybridge.store.db import MIGRATIONS_DIR, create_engine_for, migrate

    engine = create_engine_for(database_url)
    try:
        migrate(engine)
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert [d for d in diff if "superseded_quotes" in str(d)] == []
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0008_payment_api")
        assert "superseded_quotes" not in sa.inspect(engine).get_table_names()
        migrate(engine)
        assert "superseded_quotes" in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_concurrent_requotes_serialise(any_store_portal: Portal) -> None:
    """Payers double-click: simultaneous re-quotes of one payment each see the state the
    previous one left (SQLite ignores FOR UPDATE, so the store takes its write lock first);
    none fails, and the replaced quotes are numbered without a gap or a repeat."""
    from concurrent.futures import ThreadPoolExecutor

    portal = any_store_portal
    pid = portal.create_order()["payment_id"]

    def choose(i: int) -> int:
        with portal.http() as http:
            answer = http.post(
                f"/pay/{pid}/quote", data={"choice": f"anvil:{('DAI', 'USDC')[i % 2]}"}
            )
            return answer.status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(choose, range(8)))
    assert set(codes) == {303}, codes
    with Session(portal.engine) as session:
        seqs = session.scalars(
            sa.select(SupersededQuote.seq).where(SupersededQuote.payment_request_id == pid)
        ).all()
        requotes = session.scalars(
            sa.select(AuditEntry.action).where(
                AuditEntry.entity_id == pid, AuditEntry.action == "requote"
            )
        ).all()
    assert sorted(seqs) == list(range(1, len(seqs) + 1))
    assert len(requotes) == len(seqs) >= 1
