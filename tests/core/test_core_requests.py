"""Payment requests: quote, address, EIP-681 link, idempotency, audit, all-or-nothing batches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from paybridge_connectors.rates.base import Rate, StaleRate
from sqlalchemy.engine import Engine

from paybridge import audit
from paybridge.eip681 import parse_payment_uri
from paybridge.requests.service import create_payment_requests
from paybridge.store.db import transaction
from paybridge.store.models import AuditEntry, DerivationCounter, PaymentRequest

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
ANVIL_ACCOUNTS = [
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
]


def _create(engine, invoices, config, wallet, rates, now=NOW):  # type: ignore[no-untyped-def]
    with transaction(engine) as session:
        return create_payment_requests(
            session,
            invoices,
            config=config,
            rates_for_chain=lambda _c: rates,
            wallet=wallet,
            actor="test",
            now=now,
        )


def test_requests_carry_quote_address_and_link(
    store: Engine, config, wallet, fixed_rates, make_invoice
) -> None:
    results = _create(
        store,
        [make_invoice(1), make_invoice(2, "0.50", "ETH"), make_invoice(3, "7.00", "DAI")],
        config,
        wallet,
        fixed_rates,
    )
    usdc, eth, dai = (r.request for r in results)
    assert [r.deposit_address for r in (usdc, eth, dai)] == ANVIL_ACCOUNTS
    assert [r.derivation_index for r in (usdc, eth, dai)] == [0, 1, 2]
    # 100.00 USD at 0.9998 USD/USDC rounds up: 100.020004... -> 100.020005 USDC
    assert usdc.amount_due == 100_020_005
    assert eth.amount_due == 166_666_666_666_667  # 0.5 / 3000 ETH, rounded up
    assert dai.amount_due == 7 * 10**18
    assert usdc.quote_expires_at == NOW + timedelta(minutes=15)
    assert usdc.monitor_until == NOW + timedelta(minutes=15, hours=24)
    assert usdc.rate_price == Decimal("0.9998") and usdc.rate_source == "fixed"
    assert usdc.payment_uri == (
        "ethereum:0x5FbDB2315678afecb367f032d93F642f64180aa3@31337/transfer"
        f"?address={ANVIL_ACCOUNTS[0]}&uint256=100020005"
    )
    assert eth.payment_uri == f"ethereum:{ANVIL_ACCOUNTS[1]}@31337?value=166666666666667"
    for request in (usdc, eth, dai):
        parsed = parse_payment_uri(request.payment_uri)
        assert parsed.amount == request.amount_due and parsed.chain_id == 31337
        assert parsed.recipient == request.deposit_address


def test_creating_again_returns_the_same_request(
    store: Engine, config, wallet, fixed_rates, make_invoice
) -> None:
    first = _create(store, [make_invoice(1), make_invoice(2)], config, wallet, fixed_rates)
    again = _create(
        store,
        [make_invoice(2), make_invoice(1), make_invoice(3)],
        config,
        wallet,
        fixed_rates,
        now=NOW + timedelta(hours=1),
    )
    assert [r.created for r in again] == [False, False, True]
    assert again[0].request.id == first[1].request.id
    assert again[0].request.deposit_address == first[1].request.deposit_address
    assert again[2].request.derivation_index == 2  # no index burnt on the repeats
    with transaction(store) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(PaymentRequest)) == 3
        assert session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == 3
        assert audit.verify(session).ok


def test_creation_is_audited_with_quote_evidence(
    store: Engine, config, wallet, fixed_rates, make_invoice
) -> None:
    [result] = _create(store, [make_invoice(9)], config, wallet, fixed_rates)
    with transaction(store) as session:
        entry = session.scalars(sa.select(AuditEntry)).one()
    assert entry.entity_id == result.request.id and entry.action == "create"
    assert '"amount_due":"100020005"' in (entry.after or "")
    assert '"rate_source":"fixed"' in (entry.after or "")


class _FailsOnEth:
    def get_rate(self, asset_symbol: str, currency: str, at=None) -> Rate:  # type: ignore[no-untyped-def]
        if asset_symbol == "ETH":
            raise StaleRate("ETH/USD feed is stale")
        return Rate(asset_symbol, currency, Decimal(1), "fixed", NOW)


def test_a_failing_batch_writes_nothing(store: Engine, config, wallet, make_invoice) -> None:
    with pytest.raises(StaleRate):
        _create(
            store, [make_invoice(1), make_invoice(2, asset="ETH")], config, wallet, _FailsOnEth()
        )
    with transaction(store) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(PaymentRequest)) == 0
        assert session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == 0
        assert session.scalar(sa.select(sa.func.count()).select_from(DerivationCounter)) == 0


def test_invoice_in_wrong_currency_for_the_rate_is_refused(
    store: Engine, config, wallet, fixed_rates, make_invoice
) -> None:
    from paybridge.domain.money import MoneyError

    with pytest.raises(Exception, match="EUR"):
        _create(store, [make_invoice(1, currency="EUR")], config, wallet, fixed_rates)
    assert issubclass(MoneyError, ValueError)
