"""Conservation is checked, not assumed (issue 8): every `paybridge reconcile` proves that each
receipt's money is applied, open in the queue or resolved by a named person, or fails naming
the transfer and commits nothing; only an identical replay resolves itself; the chain tie-out
lists receipts that are neither applied nor queued."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from chainenv import ChainEnv, cli_config, run_cli
from paybridge_reconciliation.result import EXCEPTION_COLUMNS
from recon_store_helpers import pay_scenario, paybridge_config
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from paybridge.recon_runs.conservation import ConservationError
from paybridge.recon_runs.queue import sync_exceptions
from paybridge.recon_runs.run import reconcile_store
from paybridge.store.models.chain import ChainReceipt
from paybridge.store.models.reconciliation import ReconException, ReconMatch, ReconRun


def _receipt_of(env: ChainEnv, request_id: str) -> ChainReceipt:
    [receipt] = env.receipts(payment_request_id=request_id, direction="in")
    return receipt


def _count(engine: Engine, model: type) -> int:
    with Session(engine) as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


@pytest.mark.anvil
def test_a_run_that_would_lose_money_fails_names_the_transfer_and_commits_nothing(
    env: ChainEnv, tmp_path: Path, sqlite_url: str
) -> None:
    paid = pay_scenario(env)
    config = cli_config(env, tmp_path, sqlite_url)
    assert run_cli(config, "reconcile", "--json").returncode == 0
    over = _receipt_of(env, paid.over)
    # someone closes the overpayment in the database: no proposal, no approver
    with Session(env.engine) as session, session.begin():
        exc = session.scalars(
            sa.select(ReconException).where(ReconException.reason == "OVERPAYMENT")
        ).one()
        exc.status, exc.resolution_note = "resolved", "closed by hand in the database"

    failed = run_cli(config, "reconcile", "--json")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    message = " ".join(failed.stderr.split())
    assert f"tx {over.tx_hash} event {over.event_key} (request {paid.over})" in message
    assert "received 130000000 != applied 100000000 + open exceptions 0" in message
    assert _count(env.engine, ReconRun) == 1  # nothing of the failed run was committed

    with pytest.raises(ConservationError) as info:
        reconcile_store(env.engine, paybridge_config(env))
    [transfer] = info.value.transfers
    assert (transfer.chain_id, transfer.tx_hash, transfer.event_key) == (
        31337,
        over.tx_hash.lower(),
        over.event_key,
    )
    assert (transfer.received, transfer.applied, transfer.open) == (130_000_000, 100_000_000, 0)


@pytest.mark.anvil
def test_chain_tie_out_lists_a_receipt_neither_applied_nor_queued(
    env: ChainEnv, tmp_path: Path, sqlite_url: str
) -> None:
    paid = pay_scenario(env)
    config = cli_config(env, tmp_path, sqlite_url)
    assert run_cli(config, "reconcile", "--json").returncode == 0
    clean = run_cli(config, "tieout", "chain", "--chain", "anvil", "--json")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    with Session(env.engine) as session, session.begin():  # the exact payment's match is lost
        session.execute(sa.delete(ReconMatch).where(ReconMatch.request_id == paid.exact))

    tied = run_cli(config, "tieout", "chain", "--chain", "anvil", "--json")
    assert tied.returncode == 1
    exact = _receipt_of(env, paid.exact)
    unaccounted = [r for r in json.loads(tied.stdout) if r["status"] == "UNACCOUNTED"]
    assert [(r["key"], r["expected"], r["actual"]) for r in unaccounted] == [
        (f"31337:{exact.tx_hash.lower()}:{exact.event_key}", "100000000", "0")
    ]


def _exception(reason: str, event_key: str, amount: int) -> dict[str, object]:
    row: dict[str, object] = dict.fromkeys(EXCEPTION_COLUMNS, "")
    tx = "0x" + "cd" * 32
    to = "0x" + "11" * 20
    row.update(reason=reason, chain_id="1", tx_hash=tx, event_key=event_key, to_address=to)
    row.update(amount=str(amount), detail="d", suggested_action="a")
    return row


def _sync(engine: Engine, run_id: str, rows: list[dict[str, object]]) -> dict[str, str]:
    frame = pd.DataFrame(rows, columns=EXCEPTION_COLUMNS)
    with Session(engine) as session, session.begin():
        sync_exceptions(session, run_id, frame, datetime.now(UTC))
    with Session(engine) as session:
        return {
            f"{e.reason}:{e.event_key}": e.status
            for e in session.scalars(sa.select(ReconException))
        }


def test_only_an_identical_replay_resolves_itself_and_a_re_raised_exception_reopens(
    sqlite_store: Engine,
) -> None:
    replay = _exception("DUPLICATE_EVENT", "trace:0", 0)
    conflict = _exception("REPLAY_CONFLICT", "trace:0", 5)
    late = _exception("AFTER_WINDOW", "trace:1", 7)
    first = _sync(sqlite_store, "run-1", [replay, conflict, late])
    assert first == {
        "DUPLICATE_EVENT:trace:0": "resolved",
        "REPLAY_CONFLICT:trace:0": "open",
        "AFTER_WINDOW:trace:1": "open",
    }
    assert _sync(sqlite_store, "run-2", [replay, conflict])["AFTER_WINDOW:trace:1"] == "resolved"
    # raised again: the machine closed it, nobody decided it -> open again
    assert _sync(sqlite_store, "run-3", [replay, conflict, late])["AFTER_WINDOW:trace:1"] == "open"
