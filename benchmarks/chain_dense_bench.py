"""Chain-watcher scan of a dense chain: hundreds of transfers per block, several logs per
transaction and internal ETH transfers (traces), every recipient watched; against the raw-RPC
floor (the scan's own JSON-RPC requests replayed and decoded, nothing stored) in the same run.

Chain (PAYBRIDGE_BENCH_DENSE_BLOCKS blocks, default 100): per block TXS_PER_BLOCK transactions,
half ``payTokenBatch`` with TOKEN_LOGS_PER_TX USDC transfers each, half ``payBatch`` with
ETH_CALLS_PER_TX internal ETH transfers each; 240 transfers per block by default. Built with
JSON-RPC batches (automine off, one evm_mine per block): about 10 s per 100 blocks.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

from eth_abi import encode
from web3 import Web3

from benchmarks.chain_bench import _address, _floor, _scan
from paybridge.devchain import deploy, running_anvil, wait_receipt

BLOCKS = int(os.environ.get("PAYBRIDGE_BENCH_DENSE_BLOCKS", "100"))
TXS_PER_BLOCK = 40
TOKEN_LOGS_PER_TX = 8
ETH_CALLS_PER_TX = 4
RUNS = 3
TX_GAS = 600_000
PAY_TOKEN_BATCH = Web3.keccak(text="payTokenBatch(address,address[],uint256[])")[:4]
PAY_BATCH = Web3.keccak(text="payBatch(address[],uint256[])")[:4]


def _build(w3: Web3) -> tuple[str, list[str], int]:
    """Returns the token, every recipient, and the number of transfers on the chain."""
    owner = w3.eth.accounts[0]
    usdc = deploy(w3, "TestUSDC")
    payer = deploy(w3, "Payer")
    wait_receipt(w3, usdc.functions.mint(payer.address, 10**18).transact({"from": owner}))
    nonce = w3.eth.get_transaction_count(owner)
    w3.provider.make_request("evm_setAutomine", [False])
    recipients: list[str] = []
    transfers = 0
    for block in range(BLOCKS):
        batch = []
        for tx_index in range(TXS_PER_BLOCK):
            label = f"dense-{block}-{tx_index}"
            tx: dict[str, Any] = {"from": owner, "to": payer.address, "gas": hex(TX_GAS)}
            if tx_index % 2 == 0:
                to = [_address(label, i) for i in range(TOKEN_LOGS_PER_TX)]
                amounts = [1_000_000 + i for i in range(TOKEN_LOGS_PER_TX)]
                args = encode(["address", "address[]", "uint256[]"], [usdc.address, to, amounts])
                tx["data"] = "0x" + (PAY_TOKEN_BATCH + args).hex()
            else:
                to = [_address(label, i) for i in range(ETH_CALLS_PER_TX)]
                amounts = [10**12 + i for i in range(ETH_CALLS_PER_TX)]
                tx["data"] = (
                    "0x" + (PAY_BATCH + encode(["address[]", "uint256[]"], [to, amounts])).hex()
                )
                tx["value"] = hex(sum(amounts))
            recipients += to
            transfers += len(to)
            tx["nonce"] = hex(nonce)
            nonce += 1
            batch.append(("eth_sendTransaction", [tx]))
        for answer in w3.provider.make_batch_request(batch):
            if "error" in answer:
                raise RuntimeError(f"benchmark transaction refused: {answer['error']}")
        w3.provider.make_request("evm_mine", [])
    w3.provider.make_request("evm_setAutomine", [True])
    last = w3.eth.block_number
    count = w3.eth.get_block_transaction_count(last)
    assert count == TXS_PER_BLOCK, f"block {last} holds {count} transactions"
    return usdc.address, recipients, transfers


def run() -> dict[str, Any]:
    with running_anvil(extra_args=["--gas-limit", "100000000"]) as node:
        w3 = node.web3(timeout=300)
        began = time.perf_counter()
        token, recipients, transfers = _build(w3)
        setup_seconds = time.perf_counter() - began
        sent: list[Any] = []
        runs, floors = [], []
        for attempt in range(RUNS):  # scan and floor alternate: the same machine load
            record = sent if attempt == 0 else None
            runs.append(_scan(node.url, token, recipients, native=True, record=record, traces=True))
            floors.append(_floor(node.url, sent))
    seconds, floor_seconds = (
        statistics.median(r[0] for r in runs),
        statistics.median(f[0] for f in floors),
    )
    cpu, floor_cpu = statistics.median(r[4] for r in runs), statistics.median(f[1] for f in floors)
    _, calls, blocks, receipts, _ = runs[0]
    return {
        "blocks": BLOCKS,
        "transactions_per_block": TXS_PER_BLOCK,
        "transfers": transfers,
        "transfers_per_block": transfers // BLOCKS,
        "setup_seconds": round(setup_seconds, 1),
        "watched_addresses": len(recipients),
        "blocks_scanned": blocks,
        "receipts_recorded": receipts,
        "median_seconds": round(seconds, 3),
        "blocks_per_s": round(blocks / seconds, 1),
        "transfers_per_s": round(transfers / seconds, 1),
        "rpc_calls": calls,
        "raw_rpc_floor_median_seconds": round(floor_seconds, 3),
        "raw_rpc_floor_transfers_per_s": round(transfers / floor_seconds, 1),
        "throughput_vs_floor": round(floor_seconds / seconds, 2),
        "meets_half_floor": floor_seconds / seconds >= 0.5,
        "cpu_median_seconds": round(cpu, 3),
        "raw_rpc_floor_cpu_median_seconds": round(floor_cpu, 3),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
