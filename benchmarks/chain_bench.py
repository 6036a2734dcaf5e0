"""Chain-watcher historical scan on anvil: blocks/s, transfers/s and RPC calls.

Setup (not timed): 10,000 blocks on a fresh anvil, each holding one payer-contract transaction
with two USDC Transfer logs: 20,000 transfers, 5,000 of them to addresses in the watched set.
Timed: a full historical scan from block 0 with 10 and with 100,000 watched addresses (fresh
SQLite store each run, median of RUNS). Targets: >= 1,000 blocks/s; the RPC calls are the same
for both watched-set sizes (one eth_getLogs per range for all tokens, plus head tracking).

The scan is ERC-20 only (the anvil chain's native coin unwatched, traces off), which is what the
targets are about; ``native_scan`` reports the same scan with full blocks (native ETH) for scale.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from web3 import Web3

from connectors.chain.rpc import RpcClient
from paybridge.chain_sync.watcher import ChainWatcher
from paybridge.config import AssetConfig, ChainConfig, FinalityPolicy, RateConfig
from paybridge.devchain import deploy, running_anvil, wait_receipt
from paybridge.store.db import create_engine_for, migrate

BLOCKS = 10_000
TRANSFERS_PER_BLOCK = 2
WATCHED_TRANSFERS = 5_000
WATCHED_LARGE = 100_000
WATCHED_SMALL = 10
RUNS = 3
TX_GAS = 250_000
TARGET_BLOCKS_PER_S = 1_000


def _address(label: str, i: int) -> str:
    return Web3.to_checksum_address(Web3.keccak(text=f"{label}-{i}")[-20:])


def _build_chain(w3: Web3) -> tuple[str, list[str]]:
    """Mine BLOCKS blocks, each with one payer transaction holding TRANSFERS_PER_BLOCK USDC
    Transfer logs (send, then ``evm_mine``: one transaction per block); returns the token and
    the watched recipients. Sequential on purpose: anvil runs a JSON-RPC batch concurrently."""
    owner = w3.eth.accounts[0]
    usdc = deploy(w3, "TestUSDC")
    payer = deploy(w3, "Payer")
    wait_receipt(w3, usdc.functions.mint(payer.address, 10**18).transact({"from": owner}))
    watched_recipients = [_address("watched", i) for i in range(WATCHED_TRANSFERS)]
    every = BLOCKS * TRANSFERS_PER_BLOCK // WATCHED_TRANSFERS  # 1 in 4 transfers is watched
    number = 0
    w3.provider.make_request("evm_setAutomine", [False])
    for _ in range(BLOCKS):
        recipients, amounts = [], []
        for _ in range(TRANSFERS_PER_BLOCK):
            if number % every == 0:
                recipients.append(watched_recipients[number // every])
            else:
                recipients.append(_address("other", number))
            amounts.append(1_000_000 + number)
            number += 1
        data = payer.encode_abi("payTokenBatch", [usdc.address, recipients, amounts])
        tx = {"from": owner, "to": payer.address, "data": data, "gas": hex(TX_GAS)}
        answer = w3.provider.make_request("eth_sendTransaction", [tx])
        if "error" in answer:
            raise RuntimeError(f"benchmark transaction refused: {answer['error']}")
        w3.provider.make_request("evm_mine", [])  # exactly one transaction per block
    w3.provider.make_request("evm_setAutomine", [True])
    return usdc.address, watched_recipients


def _scan(
    url: str, token: str, watched: list[str], *, native: bool
) -> tuple[float, dict[str, int], int, int]:
    policy = FinalityPolicy(
        confirmed="safe", finalized="finalized", confirmations=2, finality_depth=64
    )
    chain = ChainConfig(
        name="anvil",
        chain_id=31337,
        rpc_url=url,
        finality=policy,
        traces_enabled=False,
        max_block_range=2000,
    )
    fixed = RateConfig(source="fixed", currency="USD", price=Decimal(1))
    assets = [
        AssetConfig(
            chain="anvil", symbol="USDC", kind="erc20", address=token, decimals=6, rate=fixed
        )
    ]
    if native:
        assets.append(
            AssetConfig(chain="anvil", symbol="ETH", kind="native", decimals=18, rate=fixed)
        )
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine_for(f"sqlite:///{Path(tmp) / 'bench.db'}")
        migrate(engine)
        rpc = RpcClient(url, timeout=120)
        watcher = ChainWatcher(
            chain,
            assets,
            engine,
            rpc=rpc,
            start_block=0,
            extra_watched=watched,
            update_payments=False,
        )
        began = time.perf_counter()
        report = watcher.poll()
        seconds = time.perf_counter() - began
        engine.dispose()
    return seconds, dict(rpc.calls), report.blocks_scanned, report.receipts_added


def run() -> dict:
    with running_anvil(extra_args=["--gas-limit", "100000000"]) as node:
        w3 = node.web3(timeout=300)
        setup_began = time.perf_counter()
        token, watched_recipients = _build_chain(w3)
        setup_seconds = time.perf_counter() - setup_began
        head = w3.eth.block_number
        total_transfers = (
            len(w3.eth.get_logs({"fromBlock": 0, "toBlock": head, "address": token})) - 1
        )  # minus the mint to the payer
        large = watched_recipients + [
            _address("idle", i) for i in range(WATCHED_LARGE - WATCHED_TRANSFERS)
        ]
        small = watched_recipients[:WATCHED_SMALL]
        results: dict[str, Any] = {}
        for name, watched, native in (
            ("watched_10", small, False),
            ("watched_100000", large, False),
            ("native_scan_watched_100000", large, True),
        ):
            runs = [
                _scan(node.url, token, watched, native=native)
                for _ in range(RUNS if not native else 1)
            ]
            seconds = statistics.median(r[0] for r in runs)
            _, calls, blocks, receipts = runs[0]
            results[name] = {
                "watched_addresses": len(watched),
                "blocks_scanned": blocks,
                "receipts_recorded": receipts,
                "median_seconds": round(seconds, 3),
                "runs_seconds": [round(r[0], 3) for r in runs],
                "blocks_per_s": round(blocks / seconds, 1),
                "transfers_per_s": round(total_transfers / seconds, 1),
                "rpc_calls_total": sum(calls.values()),
                "rpc_calls": calls,
            }
    small_calls = results["watched_10"]["rpc_calls_total"]
    large_calls = results["watched_100000"]["rpc_calls_total"]
    return {
        "chain_head": head,
        "token_transfers": total_transfers,
        "setup_seconds": round(setup_seconds, 1),
        **results,
        "rpc_calls_ratio_100000_vs_10": round(large_calls / small_calls, 3),
        "time_ratio_100000_vs_10": round(
            results["watched_100000"]["median_seconds"] / results["watched_10"]["median_seconds"], 3
        ),
        "target_blocks_per_s": TARGET_BLOCKS_PER_S,
        "meets_target": min(
            results["watched_10"]["blocks_per_s"], results["watched_100000"]["blocks_per_s"]
        )
        >= TARGET_BLOCKS_PER_S,
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
