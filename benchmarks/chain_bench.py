"""Chain-watcher historical scan on anvil: blocks/s, transfers/s and RPC calls.

Setup (timed apart, target <= 30 s): 2,000 blocks (PAYBRIDGE_BENCH_CHAIN_BLOCKS), each holding
one payer-contract transaction with two USDC Transfer logs: 4,000 transfers, a quarter of them
to addresses in the watched set. Built once (JSON-RPC batches of sends with automine off, a
block gas limit that fits one transaction, ``anvil_mine`` per chunk) and kept as a saved anvil
state in ~/.cache/paybridge-bench; later runs start anvil with ``--load-state``. 2,000, not
10,000: anvil's time per mined block grows with the height (``ANVIL_SPEED_ARGS``), so 10,000
blocks take minutes to build however the transactions are sent.
Timed: a full historical scan from block 0 with 10 and with 100,000 watched addresses (fresh
SQLite store each run, median of RUNS). Targets: >= 1,000 blocks/s; the RPC calls are the same
for both watched-set sizes (one eth_getLogs per range for all tokens, plus head tracking).

The scan is ERC-20 only (the anvil chain's native coin unwatched, traces off), which is what the
targets are about; ``native_scan`` reports the same scan with full blocks (native ETH) for scale.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import statistics
import subprocess
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests
from eth_abi import encode
from paybridge_connectors.chain.rpc import RpcClient
from pydantic_core import from_json
from web3 import Web3

from paybridge.chain_sync.watcher import ChainWatcher
from paybridge.config import AssetConfig, ChainConfig, FinalityPolicy, RateConfig
from paybridge.devchain import ANVIL_BIN, deploy, load_artifact, running_anvil, wait_receipt
from paybridge.store.db import create_engine_for, migrate

BLOCKS = int(os.environ.get("PAYBRIDGE_BENCH_CHAIN_BLOCKS", "2000"))
MINE_CHUNK = 200
TARGET_SETUP_S = 30.0
STATE_FORMAT = 2  # bump when _build_chain builds a different chain
TRANSFERS_PER_BLOCK = 2
WATCHED_TRANSFERS = BLOCKS * 2 // 4
WATCHED_LARGE = 100_000
WATCHED_SMALL = 10
RUNS = 5  # each ERC-20 scan takes under a second: more runs steady the medians
TX_GAS = 250_000
TARGET_BLOCKS_PER_S = 1_000


def _address(label: str, i: int) -> str:
    return Web3.to_checksum_address(Web3.keccak(text=f"{label}-{i}")[-20:])


#: Payer.payTokenBatch(token, recipients, amounts), encoded with eth_abi directly (web3's
#: contract encoder costs about 15 ms a call here, most of the setup time)
PAY_TOKEN_BATCH_TYPES = ["address", "address[]", "uint256[]"]
PAY_TOKEN_BATCH = Web3.keccak(text="payTokenBatch(address,address[],uint256[])")[:4]


def _build_chain(w3: Web3, timings: dict[str, float]) -> tuple[str, list[str]]:
    """Mine BLOCKS blocks, each with one payer transaction holding TRANSFERS_PER_BLOCK USDC
    Transfer logs; returns the token and the watched recipients.

    Fast and still one transaction per block: automine off, the block gas limit lowered so that
    exactly one transaction fits in a block (its gas limit TX_GAS fits, a second one no longer
    does), then per chunk of MINE_CHUNK transactions one JSON-RPC batch of sends (explicit
    nonces, so the order anvil handles a batch in does not matter) and one ``anvil_mine`` of as
    many blocks. Chunks, not everything up front: anvil re-examines its whole pending pool for
    every block it mines, so 10,000 pending transactions mined 8 blocks/s here, 200 at a time
    hundreds. Checked afterwards: every block holds exactly one transaction."""
    owner = w3.eth.accounts[0]
    usdc = deploy(w3, "TestUSDC")
    payer = deploy(w3, "Payer")
    wait_receipt(w3, usdc.functions.mint(payer.address, 10**18).transact({"from": owner}))
    watched_recipients = [_address("watched", i) for i in range(WATCHED_TRANSFERS)]
    every = max(1, BLOCKS * TRANSFERS_PER_BLOCK // WATCHED_TRANSFERS)  # 1 in 4 is watched
    first_block = w3.eth.block_number + 1
    nonce = w3.eth.get_transaction_count(owner)
    w3.provider.make_request("evm_setAutomine", [False])
    w3.provider.make_request("evm_setBlockGasLimit", [hex(TX_GAS + 20_000)])
    number, batch = 0, []
    send_s = mine_s = 0.0
    for block in range(BLOCKS):
        recipients, amounts = [], []
        for _ in range(TRANSFERS_PER_BLOCK):
            if number % every == 0 and number // every < len(watched_recipients):
                recipients.append(watched_recipients[number // every])
            else:
                recipients.append(_address("other", number))
            amounts.append(1_000_000 + number)
            number += 1
        args = [usdc.address, recipients, amounts]
        data = "0x" + (PAY_TOKEN_BATCH + encode(PAY_TOKEN_BATCH_TYPES, args)).hex()
        tx = {"from": owner, "to": payer.address, "data": data, "gas": hex(TX_GAS)}
        batch.append(("eth_sendTransaction", [{**tx, "nonce": hex(nonce + block)}]))
        if len(batch) == MINE_CHUNK or block == BLOCKS - 1:
            began = time.perf_counter()
            for answer in w3.provider.make_batch_request(batch):
                if "error" in answer:
                    raise RuntimeError(f"benchmark transaction refused: {answer['error']}")
            sent = time.perf_counter()
            w3.provider.make_request("anvil_mine", [hex(len(batch))])
            send_s, mine_s = send_s + sent - began, mine_s + time.perf_counter() - sent
            batch = []
    timings["send_s"], timings["mine_s"] = round(send_s, 1), round(mine_s, 1)
    w3.provider.make_request("evm_setBlockGasLimit", [hex(100_000_000)])
    w3.provider.make_request("evm_setAutomine", [True])
    last = w3.eth.get_block("latest")
    assert last["number"] == first_block + BLOCKS - 1, last["number"]
    for n in (first_block, first_block + BLOCKS // 2, last["number"]):
        count = w3.eth.get_block_transaction_count(n)
        assert count == 1, f"block {n} holds {count} transactions, expected 1"
    return usdc.address, watched_recipients


def _state_file() -> Path:
    """Where the built chain is kept: keyed by its size, the contracts and anvil's version."""
    anvil = subprocess.run([str(ANVIL_BIN), "--version"], capture_output=True, text=True).stdout
    key = hashlib.sha256(f"{STATE_FORMAT}|{BLOCKS}|{TRANSFERS_PER_BLOCK}|{anvil}".encode())
    for name in ("TestUSDC", "Payer"):
        key.update(json.dumps(load_artifact(name), sort_keys=True).encode())
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "paybridge-bench"
    return cache / f"chain-{BLOCKS}-{key.hexdigest()[:16]}.json"


#: anvil's cost per mined block grows with the chain's height (measured: 1,000 empty blocks took
#: 1 s at height 0 and 21 s at height 5,000, load 17), less so when it keeps no historical
#: states; this scan reads blocks, logs and receipts only, never historical state.
ANVIL_SPEED_ARGS = ["--prune-history"]


def _anvil_args(saved: dict[str, str] | None, tmp: Path) -> list[str]:
    """anvil's arguments; with a saved chain, ``--load-state`` of its (gunzipped) state: a
    state of thousands of blocks is too large a request body for anvil_loadState."""
    args = ["--gas-limit", "100000000", *ANVIL_SPEED_ARGS]
    if saved is not None:
        state = tmp / "state.json"
        state.write_bytes(gzip.decompress(bytes.fromhex(saved["state"].removeprefix("0x"))))
        args += ["--load-state", str(state)]
    return args


def _chain(
    w3: Web3, timings: dict[str, Any], saved: dict[str, str] | None
) -> tuple[str, list[str]]:
    """The benchmark chain: the saved anvil state anvil was started with (it keeps blocks,
    transactions and logs), or built now and saved for the next run."""
    path = _state_file()
    if saved is not None:
        head = w3.eth.block_number
        if head < BLOCKS:
            raise RuntimeError(f"the saved chain {path} has {head} blocks, expected {BLOCKS}+")
        timings["from_saved_state"] = str(path)
        watched = [_address("watched", i) for i in range(WATCHED_TRANSFERS)]
        return saved["token"], watched
    began = time.perf_counter()
    token, watched = _build_chain(w3, timings)
    timings["built_s"] = round(time.perf_counter() - began, 1)
    state = w3.provider.make_request("anvil_dumpState", [])["result"]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps({"token": token, "state": state}))
    partial.replace(path)
    return token, watched


def _every_recipient(watched_recipients: list[str]) -> list[str]:
    """Every address the benchmark chain pays (the watched quarter and all the others)."""
    every = max(1, BLOCKS * TRANSFERS_PER_BLOCK // WATCHED_TRANSFERS)
    return [
        watched_recipients[n // every]
        if n % every == 0 and n // every < len(watched_recipients)
        else _address("other", n)
        for n in range(BLOCKS * TRANSFERS_PER_BLOCK)
    ]


class _RecordingRpc(RpcClient):
    """The watcher's RPC client, also keeping every request as sent (single or batch)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.sent: list[tuple[str, list[tuple[str, list[Any]]]]] = []

    def call(self, method: str, params: Any) -> Any:
        self.sent.append(("call", [(method, list(params))]))
        return super().call(method, params)

    def batch(self, requests_: Any) -> list[Any]:
        self.sent.append(("batch", [(m, list(p)) for m, p in requests_]))
        return super().batch(requests_)


def _decode(result: Any) -> int:
    """What any scanner must do with an answer at least: the numbers and addresses out of the
    hex of every log and every block's transactions. Returns how many items it decoded."""
    if isinstance(result, list):
        return sum(_decode(item) for item in result)
    if not isinstance(result, dict):
        return 0
    if "topics" in result:  # a log
        int(result["data"] or "0x0", 16)
        int(result["blockNumber"], 16)
        _ = [topic[-40:] for topic in result["topics"][1:3]]
        return 1
    if "type" in result and "from" in result:  # a callTracer frame: walk its value transfers
        int(result.get("value") or "0x0", 16)
        return 1 + sum(_decode(child) for child in result.get("calls") or [])
    if "result" in result and "txHash" in result:  # debug_traceBlock: one entry per tx
        return _decode(result["result"])
    decoded = 0
    if "number" in result:  # a block
        int(result["number"], 16)
        int(result["timestamp"], 16)
        for tx in result.get("transactions", []):
            if isinstance(tx, dict):
                int(tx["value"], 16)
                _ = (tx.get("to") or "").lower()
                decoded += 1
    return decoded


def _floor(url: str, sent: list[tuple[str, list[tuple[str, list[Any]]]]]) -> tuple[float, float]:
    """The raw-RPC floor: the scan's own JSON-RPC requests, batched as the scan batched them,
    over the same HTTP library, parsed with the same JSON parser (pydantic-core's) and decoded
    (``_decode``), nothing stored. Returns wall
    and CPU seconds of this process (CPU is what a loaded machine disturbs least)."""
    session = requests.Session()
    began, cpu_began = time.perf_counter(), time.process_time()
    for kind, calls in sent:
        bodies = [
            {"jsonrpc": "2.0", "id": i, "method": method, "params": params}
            for i, (method, params) in enumerate(calls)
        ]
        answer = session.post(url, json=bodies if kind == "batch" else bodies[0], timeout=120)
        payload = from_json(answer.content)  # the watcher's parser (its RpcClient's)
        for item in payload if isinstance(payload, list) else [payload]:
            _decode(item.get("result"))
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu_began
    session.close()
    return seconds, cpu


def _scan(
    url: str,
    token: str,
    watched: list[str],
    *,
    native: bool,
    record: list[Any] | None = None,
    traces: bool = False,
) -> tuple[float, dict[str, int], int, int, float]:
    """One full scan from block 0 into a fresh SQLite store: wall seconds, RPC calls, blocks,
    receipts, CPU seconds of this process."""
    policy = FinalityPolicy(
        confirmed="safe", finalized="finalized", confirmations=2, finality_depth=64
    )
    chain = ChainConfig(
        name="anvil",
        chain_id=31337,
        rpc_url=url,
        finality=policy,
        traces_enabled=traces,
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
        rpc = _RecordingRpc(url, timeout=120)
        watcher = ChainWatcher(
            chain,
            assets,
            engine,
            rpc=rpc,
            start_block=0,
            extra_watched=watched,
            update_payments=False,
        )
        began, cpu_began = time.perf_counter(), time.process_time()
        report = watcher.poll()
        seconds, cpu = time.perf_counter() - began, time.process_time() - cpu_began
        engine.dispose()
    if record is not None:
        record.extend(rpc.sent)
    return seconds, dict(rpc.calls), report.blocks_scanned, report.receipts_added, cpu


def run() -> dict:
    path = _state_file()
    saved = json.loads(path.read_text()) if path.exists() else None
    setup_began = time.perf_counter()
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_anvil(extra_args=_anvil_args(saved, Path(tmp)), startup_timeout=120) as node,
    ):
        w3 = node.web3(timeout=300)
        timings: dict[str, float] = {}
        token, watched_recipients = _chain(w3, timings, saved)
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
            ("erc20_every_recipient_watched", _every_recipient(watched_recipients), False),
            ("native_scan_watched_100000", large, True),
        ):
            sent: list[Any] = []
            runs, floors = [], []
            for attempt in range(RUNS):  # scan and floor alternate: the same machine load
                runs.append(
                    _scan(
                        node.url,
                        token,
                        watched,
                        native=native,
                        record=sent if not attempt else None,
                    )
                )
                floors.append(_floor(node.url, sent))
            seconds = statistics.median(r[0] for r in runs)
            floor_seconds = statistics.median(f[0] for f in floors)
            cpu, floor_cpu = (
                statistics.median(r[4] for r in runs),
                statistics.median(f[1] for f in floors),
            )
            _, calls, blocks, receipts, _ = runs[0]
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
                "raw_rpc_floor_median_seconds": round(floor_seconds, 3),
                "raw_rpc_floor_transfers_per_s": round(total_transfers / floor_seconds, 1),
                "throughput_vs_floor": round(floor_seconds / seconds, 2),
                "meets_half_floor": floor_seconds / seconds >= 0.5,
                "cpu_median_seconds": round(cpu, 3),
                "raw_rpc_floor_cpu_median_seconds": round(floor_cpu, 3),
                "floor_cpu_vs_scan_cpu": round(floor_cpu / cpu, 2),
            }
    small_calls = results["watched_10"]["rpc_calls_total"]
    large_calls = results["watched_100000"]["rpc_calls_total"]
    return {
        "chain_head": head,
        "token_transfers": total_transfers,
        "setup_seconds": round(setup_seconds, 1),
        "setup_target_s": TARGET_SETUP_S,
        "setup_parts_s": timings,
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
    print(json.dumps(run(), indent=2))
