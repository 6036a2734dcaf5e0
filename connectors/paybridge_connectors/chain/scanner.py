"""Reads one block range of one chain and returns the transfers touching watched addresses.

Cost does not depend on how many addresses are watched: ERC-20 transfers come from ONE
``eth_getLogs`` over all configured token contracts and the Transfer topic, native transfers from
the range's blocks (batched), and internal transfers from ``debug_traceBlockByNumber`` (batched)
where traces are enabled. Matching against the watched set happens locally, in a set lookup.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from paybridge_connectors.chain.bloom import bloom_has_bits, transfer_bloom_bits
from paybridge_connectors.chain.records import (
    TRANSFER_TOPIC,
    BlockHeader,
    ObservedTransfer,
    RangeScan,
    TokenSpec,
)
from paybridge_connectors.chain.rpc import RpcClient, RpcError
from paybridge_connectors.chain.tracing import internal_value_transfers

log = logging.getLogger(__name__)

BLOCK_BATCH = 250
TRACE_BATCH = 50
RECEIPT_BATCH = 100
MIN_RANGE = 1
_UNSEEN = object()  # an address not looked up yet (None: looked up, not a configured token)


class ChainMovedDuringScan(Exception):
    """Logs and blocks of one range disagree on a block hash: a reorg happened mid-scan."""


@dataclass(frozen=True)
class ScanPlan:
    """What to read for this chain."""

    tokens: Sequence[TokenSpec]
    native_symbol: str | None  # None: the chain's native coin is not watched
    traces_enabled: bool
    # Re-asks of a block whose bloom suggests a missed Transfer. Blooms give false positives
    # (another contract's Transfer plus any log of our token), so keep this short.
    head_retry_delays: Sequence[float] = (0.25, 1.0)


def _hex(n: int) -> str:
    return hex(n)


class RangeScanner:
    def __init__(self, rpc: RpcClient, plan: ScanPlan) -> None:
        self.rpc = rpc
        self.plan = plan
        self._tokens = {t.key: t for t in plan.tokens}
        self._bloom_bits = [transfer_bloom_bits(t.address, TRANSFER_TOPIC) for t in plan.tokens]

    # -- public --------------------------------------------------------------------------------
    def scan(
        self,
        start: int,
        end: int,
        watched: Collection[str],
        *,
        headers_from: int,
    ) -> RangeScan:
        """Scan blocks ``start..end`` (inclusive). ``watched`` holds lowercase addresses.

        Headers (number, hash, parentHash, bloom) are read for blocks ``>= headers_from`` (the
        unfinalized part, needed for reorg tracking and the empty-answer check) and for ``end``.
        Raises ``RpcError`` with ``is_range_limit`` when the provider refuses the range.
        """
        result = RangeScan(from_block=start, to_block=end)
        logs = self._transfer_logs(start, end) if self._tokens else []
        need_headers = {end, *range(max(start, headers_from), end + 1)}
        if self.plan.native_symbol is not None:
            blocks = self._blocks(range(start, end + 1), full=True)
            self._native_transfers(blocks, watched, result)
        else:
            blocks = self._blocks(sorted(need_headers), full=False)
        for block in blocks:
            header = BlockHeader.from_rpc(block)
            if header.number in need_headers:
                result.headers[header.number] = header
        seen = self._erc20_transfers(logs, watched, result)
        recovered = self._recheck_empty_head(seen, result.headers)
        if recovered:
            self._erc20_transfers(recovered, watched, result)
        self._verify_hashes(result)
        self._fill_timestamps(result)
        return result

    # -- ERC-20 ---------------------------------------------------------------------------------
    def _transfer_logs(self, start: int, end: int) -> list[dict[str, Any]]:
        return self.rpc.call(
            "eth_getLogs",
            [
                {
                    "fromBlock": _hex(start),
                    "toBlock": _hex(end),
                    "address": [t.address for t in self.plan.tokens],
                    "topics": [TRANSFER_TOPIC],
                }
            ],
        )

    def _recheck_empty_head(
        self, seen: set[tuple[int, str]], headers: dict[int, BlockHeader]
    ) -> list[dict[str, Any]]:
        """Ask again, by block hash, for blocks whose bloom says a token logged but none came.

        ``seen`` holds (block number, token) of the Transfer logs the range answer had; returns
        the logs recovered (usually none). The bloom bits of each token are computed once."""
        if not self._tokens:
            return []
        suspicious = [
            (header, token)
            for header in headers.values()
            for token, bits in zip(self.plan.tokens, self._bloom_bits, strict=True)
            if (header.number, token.key) not in seen and bloom_has_bits(header.logs_bloom, bits)
        ]
        recovered: list[dict[str, Any]] = []
        for header, token in suspicious:
            found: list[dict[str, Any]] = []
            for delay in (0.0, *self.plan.head_retry_delays):
                time.sleep(delay)
                found = self.rpc.call(
                    "eth_getLogs",
                    [
                        {
                            "blockHash": header.hash,
                            "address": [token.address],
                            "topics": [TRANSFER_TOPIC],
                        }
                    ],
                )
                if found:
                    break
            if found:
                log.warning(
                    "block %s: eth_getLogs over the range missed %d %s transfer log(s); recovered",
                    header.number,
                    len(found),
                    token.symbol,
                )
                recovered.extend(found)
            # still nothing: a bloom false positive (blooms are probabilistic)
        return recovered

    def _erc20_transfers(
        self, logs: list[dict[str, Any]], watched: Collection[str], result: RangeScan
    ) -> set[tuple[int, str]]:
        """Decode Transfer logs straight from their hex (no ABI machinery; exact: the amount is
        the 32-byte big-endian word of ``data``, the parties the low 20 bytes of topics 1, 2);
        keep those touching ``watched``. Returns (block number, token) of every Transfer seen.

        Thousands of logs a range: what repeats across logs (a token's address as the node
        spells it, a block's number, hash and time, a log index and its event key) is decoded
        once per distinct value, and each transfer is built positionally."""
        tokens = self._tokens
        #: a token's address as sent -> its (key, symbol, address), None for other contracts
        token_of: dict[str, Any] = {}
        append = result.transfers.append
        make = tuple.__new__  # an ObservedTransfer from all its fields at once
        seen: set[tuple[int, str]] = set()
        #: blockNumber hex -> number, hash (lowercase), time, hash as sent
        blocks: dict[str, tuple[int, str, int, str]] = {}
        keys: dict[str, tuple[int, str]] = {}  # logIndex hex -> index, event key
        last_hex, last_token, block = "", None, (0, "", 0, "")
        # a batch payout's logs repeat the sender and the transaction: kept as last decoded
        last_topic, last_sender, last_tx, last_tx_lower = "", "", "", ""
        seen_count = 0
        for entry in logs:
            if entry.get("removed"):
                continue
            topics = entry.get("topics") or ()
            raw_address = entry.get("address", "")
            token = token_of.get(raw_address, _UNSEEN)
            if token is _UNSEEN:
                spec = tokens.get(str(raw_address).lower())
                token = token_of[raw_address] = (
                    None if spec is None else (spec.key, spec.symbol, spec.address)
                )
            # ERC-20 Transfer has exactly 3 topics + 32 data bytes (ERC-721 has 4 topics).
            if token is None or len(topics) != 3:
                continue
            topic0 = topics[0]
            if topic0 != TRANSFER_TOPIC and topic0.lower() != TRANSFER_TOPIC:
                continue
            data = entry.get("data") or "0x"
            if len(data) != 66:
                log.warning("skipping malformed Transfer log %s", entry)
                continue
            seen_count += 1
            block_hex = entry["blockNumber"]
            if block_hex != last_hex or token is not last_token:  # logs come in block order
                block = blocks.get(block_hex)
                if block is None:
                    raw_hash = entry["blockHash"]
                    block = blocks[block_hex] = (
                        int(block_hex, 16),
                        raw_hash.lower(),
                        int(entry.get("blockTimestamp") or "0x0", 16),
                        raw_hash,
                    )
                seen.add((block[0], token[0]))
                last_hex, last_token = block_hex, token
            topic = topics[1]
            if topic != last_topic:
                last_topic, last_sender = topic, "0x" + topic[-40:].lower()
            sender = last_sender
            recipient = "0x" + topics[2][-40:].lower()
            if sender not in watched and recipient not in watched:
                continue
            if entry["blockHash"] != block[3] and entry["blockHash"].lower() != block[1]:
                raise ChainMovedDuringScan(
                    f"block {block[0]}: logs name hashes {block[1]} and {entry['blockHash']}"
                )
            index_hex = entry["logIndex"]
            key = keys.get(index_hex)
            if key is None:
                index = int(index_hex, 16)
                key = keys[index_hex] = (index, f"log:{index}")
            tx_hash = entry["transactionHash"]
            if tx_hash != last_tx:
                last_tx, last_tx_lower = tx_hash, tx_hash.lower()
            transfer = (
                last_tx_lower,
                key[1],
                "erc20",
                token[1],
                token[2],
                sender,
                recipient,
                int(data, 16),
                block[0],
                block[1],
                block[2],
                key[0],
                None,
            )
            append(make(ObservedTransfer, transfer))
        result.transfer_logs_seen += seen_count
        return seen

    # -- native coin -----------------------------------------------------------------------------
    def _blocks(self, numbers: Sequence[int] | range, *, full: bool) -> list[dict[str, Any]]:
        numbers = list(numbers)
        blocks: list[dict[str, Any]] = []
        for i in range(0, len(numbers), BLOCK_BATCH):
            chunk = numbers[i : i + BLOCK_BATCH]
            answers = self.rpc.batch([("eth_getBlockByNumber", [_hex(n), full]) for n in chunk])
            for number, block in zip(chunk, answers, strict=True):
                if block is None:
                    raise ChainMovedDuringScan(f"block {number} vanished while scanning")
                blocks.append(block)
        return blocks

    def _native_transfers(
        self, blocks: list[dict[str, Any]], watched: Collection[str], result: RangeScan
    ) -> None:
        symbol = self.plan.native_symbol
        assert symbol is not None
        candidates: list[tuple[dict[str, Any], dict[str, Any]]] = []
        for block in blocks:
            for tx in block.get("transactions", []):
                if int(tx.get("value") or "0x0", 16) == 0:
                    continue
                sender = str(tx.get("from") or "").lower()
                recipient = str(tx.get("to") or "").lower()
                if sender in watched or recipient in watched:
                    candidates.append((block, tx))
        succeeded = self._succeeded({tx["hash"] for _, tx in candidates})
        for block, tx in candidates:
            if tx["hash"] not in succeeded:
                continue  # reverted: the value never moved
            result.transfers.append(
                ObservedTransfer(
                    tx_hash=tx["hash"].lower(),
                    event_key="tx",
                    kind="native",
                    asset_symbol=symbol,
                    asset_address=None,
                    from_address=str(tx["from"]).lower(),
                    to_address=str(tx["to"]).lower(),
                    amount=int(tx["value"], 16),
                    block_number=int(block["number"], 16),
                    block_hash=block["hash"].lower(),
                    block_timestamp=int(block["timestamp"], 16),
                )
            )
        if self.plan.traces_enabled:
            self._internal_transfers(blocks, watched, result)

    def _succeeded(self, tx_hashes: set[str]) -> set[str]:
        hashes = sorted(tx_hashes)
        ok: set[str] = set()
        for i in range(0, len(hashes), RECEIPT_BATCH):
            chunk = hashes[i : i + RECEIPT_BATCH]
            receipts = self.rpc.batch([("eth_getTransactionReceipt", [h]) for h in chunk])
            for tx_hash, receipt in zip(chunk, receipts, strict=True):
                if receipt is None:
                    raise ChainMovedDuringScan(f"receipt of {tx_hash} missing while scanning")
                if int(receipt["status"], 16) == 1:
                    ok.add(tx_hash)
        return ok

    def _internal_transfers(
        self, blocks: list[dict[str, Any]], watched: Collection[str], result: RangeScan
    ) -> None:
        symbol = self.plan.native_symbol
        assert symbol is not None
        with_txs = [b for b in blocks if b.get("transactions")]
        for i in range(0, len(with_txs), TRACE_BATCH):
            chunk = with_txs[i : i + TRACE_BATCH]
            traces = self.rpc.batch(
                [
                    ("debug_traceBlockByNumber", [b["number"], {"tracer": "callTracer"}])
                    for b in chunk
                ]
            )
            for block, block_traces in zip(chunk, traces, strict=True):
                tx_hashes = [tx["hash"] for tx in block["transactions"]]
                for position, item in enumerate(block_traces or []):
                    frame = item.get("result", item)
                    tx_hash = str(item.get("txHash") or tx_hashes[position]).lower()
                    for path, sender, recipient, value in internal_value_transfers(frame):
                        if sender not in watched and recipient not in watched:
                            continue
                        result.transfers.append(
                            ObservedTransfer(
                                tx_hash=tx_hash,
                                event_key=f"trace:{path}",
                                kind="internal",
                                asset_symbol=symbol,
                                asset_address=None,
                                from_address=sender,
                                to_address=recipient,
                                amount=value,
                                block_number=int(block["number"], 16),
                                block_hash=block["hash"].lower(),
                                block_timestamp=int(block["timestamp"], 16),
                                trace_address=path,
                            )
                        )

    # -- consistency -------------------------------------------------------------------------------
    def _verify_hashes(self, result: RangeScan) -> None:
        """Every transfer's block hash is its block header's. Checked per distinct (number,
        hash) pair, collected at C speed: thousands of transfers share a few hundred blocks."""
        transfers = result.transfers
        pairs = set(zip(map(_NUMBER, transfers), map(_HASH, transfers), strict=True))
        for number, block_hash in pairs:
            header = result.headers.get(number)
            if header is not None and header.hash.lower() != block_hash:
                raise ChainMovedDuringScan(
                    f"block {number}: log says {block_hash}, block says {header.hash}"
                )

    def _fill_timestamps(self, result: RangeScan) -> None:
        if all(map(_TIMESTAMP, result.transfers)):  # the usual case: the logs carried them
            return
        missing = sorted(
            {
                t.block_number
                for t in result.transfers
                if not t.block_timestamp and t.block_number not in result.headers
            }
        )
        for block in self._blocks(missing, full=False):
            header = BlockHeader.from_rpc(block)
            result.headers.setdefault(header.number, header)
        fixed = []
        for t in result.transfers:
            if not t.block_timestamp:
                header = result.headers[t.block_number]
                if header.hash.lower() != t.block_hash:
                    raise ChainMovedDuringScan(f"block {t.block_number} changed while scanning")
                t = _with_timestamp(t, header.timestamp)
            fixed.append(t)
        result.transfers = fixed


#: an ObservedTransfer's block number, block hash and block time, read positionally
_NUMBER = itemgetter(ObservedTransfer._fields.index("block_number"))
_HASH = itemgetter(ObservedTransfer._fields.index("block_hash"))
_TIMESTAMP = itemgetter(ObservedTransfer._fields.index("block_timestamp"))


def _with_timestamp(transfer: ObservedTransfer, timestamp: int) -> ObservedTransfer:
    return transfer._replace(block_timestamp=timestamp)


def is_range_error(exc: Exception) -> bool:
    return isinstance(exc, RpcError) and exc.is_range_limit
