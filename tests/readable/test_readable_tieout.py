"""Chain tie-out rows as people read them: token units beside the engine's base units, for
balance rows (``chain:address:asset@block``) and UNACCOUNTED transfers (``chain:tx:event``),
the asset of a transfer taken from the receipt the watcher recorded. Also the receipts list at
80 columns (request id whole, amount in token units)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from readable_store import REQUEST_IDS, TX_UNKNOWN, USDC, seed
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from paybridge.cli.context import console
from paybridge.cli.main import app
from paybridge.cli.tieout_views import chain_rows
from paybridge.config import load_config
from paybridge.store.db import create_engine_for, migrate
from paybridge.store.models.chain import ChainReceipt

T = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ADDRESS = "0x" + "0" * 39 + "1"


def _receipt() -> ChainReceipt:
    return ChainReceipt(
        chain_id=1,
        tx_hash=TX_UNKNOWN,
        event_key="log:0",
        log_index=0,
        trace_address=None,
        kind="erc20",
        direction="in",
        asset_symbol="USDC",
        asset_address=USDC,
        from_address="0x" + "34" * 20,
        to_address=ADDRESS,
        watched_address=ADDRESS,
        amount=12_500_000,
        block_number=21_000_001,
        block_hash="0x" + "99" * 32,
        block_timestamp=T,
        state="confirmed",
        payment_request_id=REQUEST_IDS[0],
        first_seen_at=T,
        updated_at=T,
    )


@pytest.fixture
def store(tmp_path: Path) -> Path:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'paybridge.db'}")
    migrate(engine)
    seed(engine)
    with Session(engine) as session, session.begin():
        session.add(_receipt())
    return tmp_path


def test_chain_tie_out_rows_in_token_units(store: Path) -> None:
    engine = create_engine_for(f"sqlite:///{store / 'paybridge.db'}")
    rows = [
        {
            "key": f"1:{ADDRESS}:{USDC.lower()}@21000001",
            "expected": "440000000",
            "actual": "440000000",
            "difference": "0",
            "status": "ok",
            "detail": "",
        },
        {
            "key": f"1:{ADDRESS}:native@21000001",
            "expected": "0",
            "actual": "1",
            "difference": "1",
            "status": "DIFFERENCE",
            "detail": "",
        },
        {
            "key": f"1:{TX_UNKNOWN}:log:0",
            "expected": "12500000",
            "actual": "0",
            "difference": "-12500000",
            "status": "UNACCOUNTED",
            "detail": "",
        },
        {
            "key": f"1:0x{'77' * 32}:tx",
            "expected": "5",
            "actual": "0",
            "difference": "-5",
            "status": "UNACCOUNTED",
            "detail": "",
        },
    ]
    usdc, eth, transfer, unknown = chain_rows(rows, load_config(None), engine)
    assert (usdc["subject"], usdc["expected_display"]) == (ADDRESS, "440.00 USDC")
    assert (eth["asset_symbol"], eth["difference_display"]) == ("ETH", "0.000000000000000001 ETH")
    assert transfer["subject"] == f"{TX_UNKNOWN} log:0"
    assert (transfer["expected_display"], transfer["difference_display"]) == (
        "12.50 USDC",
        "-12.50 USDC",
    )
    assert transfer["expected"] == "12500000"  # the engine's base units stay for machines
    assert unknown["expected_display"] == "5 base units of unknown"  # said, never guessed


def test_receipts_list_at_80_columns(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(store)
    monkeypatch.delenv("PAYBRIDGE_CONFIG", raising=False)
    monkeypatch.delenv("PAYBRIDGE_DATABASE_URL", raising=False)
    monkeypatch.setattr(console, "_width", 80)
    result = CliRunner().invoke(app, ["receipts", "list"])
    assert result.exit_code == 0, result.output
    assert REQUEST_IDS[0] in result.stdout and "12.50 USDC" in result.stdout
    assert "…" not in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
