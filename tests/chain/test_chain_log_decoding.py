"""The scanner's Transfer-log decoding, on log objects shaped as nodes send them: exact
amounts, lowercase parties, per-block values decoded once and still per log where they differ,
other contracts and non-Transfer logs skipped."""

from __future__ import annotations

from typing import Any

import pytest
from paybridge_connectors.chain.records import TRANSFER_TOPIC, RangeScan, TokenSpec
from paybridge_connectors.chain.rpc import RpcClient
from paybridge_connectors.chain.scanner import ChainMovedDuringScan, RangeScanner, ScanPlan

TOKEN = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
OTHER_TOKEN = "0x" + "77" * 20
PAYER, ALICE, BOB = ("0x" + c * 40 for c in "abc")


def _topic(address: str) -> str:
    return "0x" + "0" * 24 + address[2:]


def _log(block: int, index: int, to: str, amount: int, **extra: Any) -> dict[str, Any]:
    entry = {
        "address": TOKEN,
        "topics": [TRANSFER_TOPIC, _topic(PAYER), _topic(to.upper().replace("0X", "0x"))],
        "data": f"0x{amount:064x}",
        "blockNumber": hex(block),
        "blockHash": f"0x{block:064X}",
        "blockTimestamp": hex(1_700_000_000 + block),
        "transactionHash": f"0x{block * 100 + index:064X}",
        "logIndex": hex(index),
        "removed": False,
    }
    entry.update(extra)
    return entry


def _decode(logs: list[dict[str, Any]], watched: set[str]) -> tuple[RangeScan, set]:
    scanner = RangeScanner(
        RpcClient("http://127.0.0.1:9"),  # never called: decoding reads no node
        ScanPlan(tokens=[TokenSpec("USDC", TOKEN, 6)], native_symbol=None, traces_enabled=False),
    )
    result = RangeScan(from_block=1, to_block=3)
    return result, scanner._erc20_transfers(logs, watched, result)


def test_transfers_are_decoded_exactly_and_only_for_watched_parties() -> None:
    logs = [
        _log(1, 0, ALICE, 2**256 - 1),
        _log(1, 1, BOB, 5),  # not watched
        _log(2, 0, ALICE, 7),
        _log(2, 1, ALICE, 8, address=TOKEN.lower()),  # the same token spelled otherwise
        _log(2, 2, ALICE, 9, address=OTHER_TOKEN),  # another contract
        _log(3, 0, ALICE, 10, topics=[TRANSFER_TOPIC, _topic(PAYER), _topic(ALICE), "0x01"]),
        _log(3, 1, ALICE, 11, removed=True),
    ]
    result, seen = _decode(logs, {ALICE})
    got = [(t.block_number, t.event_key, t.to_address, t.amount) for t in result.transfers]
    assert got == [(1, "log:0", ALICE, 2**256 - 1), (2, "log:0", ALICE, 7), (2, "log:1", ALICE, 8)]
    first = result.transfers[0]
    assert first.tx_hash == f"0x{100:064x}" and first.block_hash == f"0x{1:064x}"
    assert (first.block_timestamp, first.log_index, first.trace_address) == (1_700_000_001, 0, None)
    assert (first.asset_symbol, first.asset_address, first.from_address) == ("USDC", TOKEN, PAYER)
    assert result.transfer_logs_seen == 4  # the ERC-721-shaped and removed logs are not counted
    assert seen == {(1, TOKEN.lower()), (2, TOKEN.lower())}


def test_two_hashes_for_one_block_number_stop_the_scan() -> None:
    logs = [_log(2, 0, ALICE, 1), _log(2, 1, ALICE, 2, blockHash="0x" + "ab" * 32)]
    with pytest.raises(ChainMovedDuringScan, match="block 2"):
        _decode(logs, {ALICE})
    same = [_log(2, 0, ALICE, 1), _log(2, 1, ALICE, 2, blockHash=f"0x{2:064x}")]  # case only
    result, _ = _decode(same, {ALICE})
    assert [t.amount for t in result.transfers] == [1, 2]
