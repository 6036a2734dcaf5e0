"""Block ``logsBloom`` membership test (yellow paper, section 4.3.1).

Used at the chain head: a load-balanced provider can answer ``eth_getLogs`` with ``[]`` for a block
it has not indexed yet. If the block's bloom says our token may have logged a Transfer there, the
empty answer is suspicious and the block is asked again by hash.
"""

from __future__ import annotations

from eth_utils import keccak


def bloom_may_contain(bloom_hex: str, value: bytes) -> bool:
    bloom = int(bloom_hex, 16)
    digest = keccak(value)
    for i in (0, 2, 4):
        bit = int.from_bytes(digest[i : i + 2], "big") & 2047
        if not bloom >> bit & 1:
            return False
    return True


def bloom_may_have_log(bloom_hex: str, address: str, topic0: str) -> bool:
    """True when a log from ``address`` with first topic ``topic0`` may be in the block."""
    return bloom_may_contain(bloom_hex, bytes.fromhex(address[2:])) and bloom_may_contain(
        bloom_hex, bytes.fromhex(topic0[2:])
    )
