"""Subledger vs ERP: reconcile on anvil, post to the NetSuite simulator (real HTTP), tie out;
then a changed amount in the ERP and a settlement not posted yet are listed, not hidden."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa
from chainenv import ChainEnv
from paybridge_connectors.erp.netsuite.connector import NetSuiteConnector
from recon_store_helpers import USDC, bill_from_erp, netsuite_config, paybridge_config, payer
from sqlalchemy.orm import Session

from paybridge import settlement_outbox
from paybridge.recon_runs.run import reconcile_store
from paybridge.recon_runs.tieouts_store import latest_tie_outs, tie_out_erp
from paybridge.store.models import PaymentRequest
from simulators.netsuite import NetSuiteSimulator

pytestmark = [
    pytest.mark.anvil,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


def test_erp_tie_out_ok_then_differences_listed(env: ChainEnv, sim: NetSuiteSimulator) -> None:
    customer = sim.account.add_customer("ACME")
    invoices = [sim.account.add_invoice(customer, Decimal("100.00")) for _ in range(3)]
    requests = [env.make_request("USDC", 100 * USDC) for _ in invoices]
    for request, invoice in zip(requests, invoices, strict=True):
        bill_from_erp(env, request.id, sim, invoice)
    env.pay_token(requests[0].deposit_address, 100 * USDC, sender=payer(env))
    env.pay_token(requests[1].deposit_address, 130 * USDC, sender=payer(env))
    env.mine(64)
    env.watcher().poll()
    reconcile_store(env.engine, paybridge_config(env))

    with NetSuiteConnector(netsuite_config(sim)) as connector:
        posted = settlement_outbox.post_due(env.engine, connector)
        assert sorted(posted.posted) == sorted(f"pb-{r.id}" for r in requests[:2])
        clean = tie_out_erp(env.engine, connector)
        assert list(clean["status"]) == ["ok", "ok"]
        assert list(clean["expected"]) == ["100.00", "130.00"] or list(clean["expected"]) == [
            "130.00",
            "100.00",
        ]

        # the ERP's payment is edited by someone; the third request gets paid but not posted
        payment_id = int(clean.loc[clean["expected"] == "100.00", "detail"].iloc[0])
        sim.account.transactions[payment_id]["foreigntotal"] = Decimal("90.00")
        env.pay_token(requests[2].deposit_address, 100 * USDC, sender=payer(env))
        env.mine(64)
        env.watcher().poll()
        reconcile_store(env.engine, paybridge_config(env))
        differing = tie_out_erp(env.engine, connector)

    statuses = dict(zip(differing["key"], differing["status"], strict=True))
    assert statuses == {
        f"pb-{requests[0].id}": "AMOUNT_MISMATCH",
        f"pb-{requests[1].id}": "ok",
        f"pb-{requests[2].id}": "NOT_POSTED",
    }
    mismatch = differing[differing["status"] == "AMOUNT_MISMATCH"].iloc[0]
    assert (mismatch["expected"], mismatch["actual"], mismatch["difference"]) == (
        "100.00",
        "90.00",
        "-10.00",
    )
    stored = latest_tie_outs(env.engine)
    assert sorted(stored["status"]) == sorted(differing["status"])
    with Session(env.engine) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(PaymentRequest)) == 3
