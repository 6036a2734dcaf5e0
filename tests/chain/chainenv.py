"""Test helpers for the chain-watcher tests (imported by conftest and the test modules)."""

from __future__ import annotations

import itertools
import os
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from paybridge_connectors.chain.rpc import RpcClient
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from web3 import Web3

from paybridge.chain_sync.watcher import ChainWatcher
from paybridge.config import AssetConfig, ChainConfig, FinalityPolicy, RateConfig
from paybridge.devchain import (
    REPO_ROOT,
    AnvilNode,
    DevContracts,
    wait_receipt,
)
from paybridge.store.models import PaymentRequest
from paybridge.store.models.chain import ChainReceipt

TAGS = FinalityPolicy(confirmed="safe", finalized="finalized", confirmations=2, finality_depth=4)
_request_numbers = itertools.count(1)


def fresh_address(label: str) -> str:
    """A deposit address nobody holds a key for (PayBridge only watches)."""
    return Web3.to_checksum_address(Web3.keccak(text=label)[-20:])


@dataclass
class ChainEnv:
    node: AnvilNode
    w3: Web3
    contracts: DevContracts
    engine: Engine
    finality: FinalityPolicy = TAGS
    traces_enabled: bool = True
    rpc_url: str | None = None
    max_block_range: int = 2000
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def accounts(self) -> list[str]:
        return list(self.w3.eth.accounts)

    def chain_config(self) -> ChainConfig:
        return ChainConfig(
            name="anvil",
            chain_id=31337,
            rpc_url=self.rpc_url or self.node.url,
            finality=self.finality,
            traces_enabled=self.traces_enabled,
            max_block_range=self.max_block_range,
        )

    def assets(self) -> list[AssetConfig]:
        fixed = RateConfig(source="fixed", currency="USD", price=Decimal(1))
        return [
            AssetConfig(chain="anvil", symbol="ETH", kind="native", decimals=18, rate=fixed),
            AssetConfig(
                chain="anvil",
                symbol="USDC",
                kind="erc20",
                address=self.contracts.usdc.address,
                decimals=6,
                rate=fixed,
            ),
            AssetConfig(
                chain="anvil",
                symbol="DAI",
                kind="erc20",
                address=self.contracts.token18.address,
                decimals=18,
                rate=fixed,
            ),
        ]

    def watcher(self, **kwargs: Any) -> ChainWatcher:
        kwargs.setdefault("start_block", 0)
        rpc = kwargs.pop("rpc", None) or RpcClient(
            self.rpc_url or self.node.url, timeout=kwargs.pop("timeout", 5.0), backoff=0.05
        )
        return ChainWatcher(self.chain_config(), self.assets(), self.engine, rpc=rpc, **kwargs)

    # -- requests ---------------------------------------------------------------------------
    def make_request(
        self,
        asset: str = "USDC",
        amount_due: int = 100_000_000,
        *,
        quote_expires_at: datetime | None = None,
        monitor_until: datetime | None = None,
    ) -> PaymentRequest:
        number = next(_request_numbers)
        now = datetime.now(UTC)
        token = {"USDC": self.contracts.usdc, "DAI": self.contracts.token18}.get(asset)
        request = PaymentRequest(
            id=f"pr_test_{number:06d}",
            erp_system="test",
            company="1000",
            invoice_id=f"INV-{number}",
            customer_id="C1",
            invoice_amount=Decimal("100.00"),
            currency="USD",
            due_date=None,
            chain_id=31337,
            asset_symbol=asset,
            asset_address=token.address if token is not None else None,
            asset_decimals=6 if asset == "USDC" else 18,
            xpub_fingerprint="test",
            derivation_index=number,
            deposit_address=fresh_address(f"deposit-{number}-{now.timestamp()}"),
            amount_due=amount_due,
            rate_price=Decimal(1),
            rate_source="fixed",
            rate_as_of=now,
            rate_round_id=None,
            quote_expires_at=quote_expires_at or now + timedelta(minutes=15),
            monitor_until=monitor_until or now + timedelta(hours=24),
            payment_uri="ethereum:test",
            status="new",
            paid_partial=False,
            paid_over=False,
            paid_late=False,
            marked=False,
            amount_received=0,
            amount_confirmed=0,
            created_at=now,
            updated_at=now,
        )
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            session.add(request)
        return request

    def request(self, request_id: str) -> PaymentRequest:
        with Session(self.engine) as session:
            found = session.get(PaymentRequest, request_id)
            assert found is not None
            return found

    def receipts(self, **filters: Any) -> list[ChainReceipt]:
        with Session(self.engine) as session:
            query = sa.select(ChainReceipt).order_by(ChainReceipt.block_number, ChainReceipt.id)
            for name, value in filters.items():
                query = query.where(getattr(ChainReceipt, name) == value)
            return list(session.scalars(query).all())

    # -- paying -----------------------------------------------------------------------------
    def fund_tokens(self, holder: str, usdc: int = 10**12, dai: int = 10**24) -> None:
        owner = self.accounts[0]
        wait_receipt(
            self.w3, self.contracts.usdc.functions.mint(holder, usdc).transact({"from": owner})
        )
        wait_receipt(
            self.w3, self.contracts.token18.functions.mint(holder, dai).transact({"from": owner})
        )

    def pay_token(
        self, to: str, amount: int, *, token: str = "USDC", sender: str | None = None
    ) -> Any:
        contract = self.contracts.usdc if token == "USDC" else self.contracts.token18
        sender = sender or self.accounts[1]
        return wait_receipt(
            self.w3, contract.functions.transfer(to, amount).transact({"from": sender})
        )

    def pay_eth(self, to: str, wei: int, *, sender: str | None = None) -> Any:
        tx = {"from": sender or self.accounts[1], "to": to, "value": wei}
        return wait_receipt(self.w3, self.w3.eth.send_transaction(tx))

    def mine(self, blocks: int = 1) -> None:
        self.w3.provider.make_request("anvil_mine", [hex(blocks)])


PAYBRIDGE_CLI = str(REPO_ROOT / ".venv" / "bin" / "paybridge")


def cli_config(env: ChainEnv, tmp_path: Path, sqlite_url: str, max_range: int = 2000) -> Path:
    """A paybridge.toml pointing the CLI at this test's store and anvil chain."""
    path = tmp_path / "paybridge.toml"
    path.write_text(
        f'[database]\nurl = "{sqlite_url}"\n\n'
        f'[[chains]]\nname = "anvil"\nrpc_url = "{env.node.url}"\nmax_block_range = {max_range}\n'
    )
    return path


def run_cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``paybridge --config CONFIG ARGS`` as a user runs it (the config's database wins)."""
    return subprocess.run(
        [PAYBRIDGE_CLI, "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=config.parent,
        env={**os.environ, "PAYBRIDGE_DATABASE_URL": "", "COLUMNS": "200"},
    )
