"""Exactly-once posting to SAP under faults: 500 settlements, 30% of requests failing (5xx,
429 and "committed, then the connection dropped"), two workers at once on PostgreSQL, S/4HANA
(OData + SOAP) and ECC (SOAP-RFC BAPIs). Afterwards SAP's ledger holds one payment document
per settlement (0 duplicates, 0 missing) and every invoice item is cleared once.

The structure follows ``test_erp_exactly_once.py`` (NetSuite)."""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from paybridge_connectors.erp.sap import sap_connector
from paybridge_connectors.erp.sap.config import SapConnectionConfig
from paybridge_connectors.erp.sap.journal import HEADER_TEXT_PREFIX, document_reference
from sap_support import ACCOUNTS, settlement
from sqlalchemy.engine import Engine

from paybridge import settlement_outbox
from paybridge.settlement_outbox import OutboxPolicy, SettleSummary
from paybridge.store.db import transaction
from simulators.sap import DEFAULT_PASSWORD, DEFAULT_USER, FaultConfig, SAPSimulator

pytestmark = pytest.mark.slow

COUNT = int(os.environ.get("PAYBRIDGE_SAP_EXACTLY_ONCE_COUNT", "500"))  # smaller for a quick look
COMPANY = "1010"
CUSTOMERS = ("17100001", "17100002", "17100003")
CHAOS = FaultConfig(
    error_5xx_rate=0.10, rate_429=0.10, commit_then_drop_rate=0.10, retry_after_s=None, seed=7
)
POLICY = OutboxPolicy(max_attempts=50, backoff_base=timedelta(0), batch_size=25)


@pytest.fixture
def sap() -> Iterator[SAPSimulator]:
    with SAPSimulator(clearing_delay_s=0.01) as simulator:
        yield simulator


def config(sim: SAPSimulator, system: str) -> SapConnectionConfig:
    return SapConnectionConfig(
        system=system,  # type: ignore[arg-type]
        base_url=sim.base_url,
        client="100",
        user=DEFAULT_USER,
        password=DEFAULT_PASSWORD,  # type: ignore[arg-type]
        company_codes=(COMPANY,),
        customers=CUSTOMERS,
        accounts={COMPANY: ACCOUNTS},  # type: ignore[dict-item]
        payment_asset="USDC",
        backoff_initial_s=0.001,
        backoff_max_s=0.02,
        max_attempts=12,
        timeout_s=10,
        clearing_check_interval_s=0.02,
        clearing_checks=50,
    )


def _queue(sim: SAPSimulator, engine: Engine) -> dict[str, Any]:
    """COUNT open invoice items in SAP, one settlement each (paid in full) in the outbox."""
    keys: dict[str, Any] = {}
    with transaction(engine) as session:
        for n in range(COUNT):
            customer = CUSTOMERS[n % len(CUSTOMERS)]
            amount = Decimal(100 + n % 50) + Decimal("0.25")
            key = sim.seed_open_item(
                COMPANY,
                customer,
                amount,
                "EUR",
                reference=f"INV-{n:05d}",
                assignment=f"INV-{n:05d}",
            )
            sid = f"pb-{n:05d}"
            keys[sid] = key
            settlement_outbox.enqueue(
                session,
                settlement(
                    f"{key.fiscal_year}-{key.accounting_document}-{key.item}",
                    company=COMPANY,
                    currency="EUR",
                    invoice_amount=amount,
                    short=Decimal(0),
                    settlement_id=sid,
                    customer=f"00{customer}",
                ),
                "sap",
            )
    return keys


def _assert_exactly_once(
    sim: SAPSimulator, engine: Engine, keys: dict[str, Any], system: str
) -> None:
    if system == "ecc":
        sim.run_automatic_clearing(COMPANY)  # SAP's F.13 job, by assignment (ZUONR)
    ours = Counter(
        d.reference
        for d in sim.ledger.committed_documents(COMPANY)
        if d.header_text.startswith(HEADER_TEXT_PREFIX)
    )
    references = {document_reference(sid): sid for sid in keys}
    duplicates = sorted(ref for ref, n in ours.items() if n != 1)
    missing = sorted(sid for ref, sid in references.items() if ref not in ours)
    assert (duplicates, missing) == ([], [])
    assert set(ours) == set(references)  # nothing posted that was not queued
    still_open = [sid for sid, key in keys.items() if sim.ledger.item_open(key)]
    assert still_open == []
    clearing_documents = Counter(
        str(sim.item(key)["ClearingAccountingDocument"]) for key in keys.values()
    )  # type: ignore[index]
    assert "" not in clearing_documents and "None" not in clearing_documents
    assert settlement_outbox.status_counts(engine) == {"posted": len(keys)}
    assert sim.server.counters.dropped_after_commit > 0  # the hard case really happened


@pytest.mark.parametrize("system", ["s4", "ecc"])
def test_two_workers_on_postgresql_post_each_settlement_once_under_30_percent_faults(
    sap: SAPSimulator, pg_engine: Engine, system: str
) -> None:
    keys = _queue(sap, pg_engine)
    sap.set_faults(CHAOS)
    results: dict[str, SettleSummary] = {}
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            with sap_connector(config(sap, system)) as conn:
                results[name] = settlement_outbox.post_due(
                    pg_engine, conn, worker=name, policy=POLICY
                )
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sap.set_faults(FaultConfig())
    assert not errors
    posted_1, posted_2 = set(results["w1"].posted), set(results["w2"].posted)
    assert posted_1 and posted_2, ("both workers must have taken part", results)
    assert not posted_1 & posted_2 and len(posted_1 | posted_2) == COUNT
    assert not results["w1"].needs_attention and not results["w2"].needs_attention
    _assert_exactly_once(sap, pg_engine, keys, system)
