"""Block ``logsBloom`` membership test (yellow paper, section 4.3.1).

Used at the chain head: a load-balanced provider can answer ``eth_getLogs`` with ``[]`` for a block
it has not indexed yet. If the block's bloom says our token may have logged a Transfer there, the
empty answer is suspicious and the block is asked again by hash.
"""

from __future__ import annotations

from eth_utils import keccak


def bloom_bits(value: bytes) -> tuple[int, int, int]:
    """The three bloom bit positions a value sets."""
    digest = keccak(value)
    first, second, third = (int.from_bytes(digest[i : i + 2], "big") & 2047 for i in (0, 2, 4))
    return first, second, third


def bloom_has_bits(bloom_hex: str, bits: tuple[int, ...]) -> bool:
    bloom = int(bloom_hex, 16)
    return all(bloom >> bit & 1 for bit in bits)


def bloom_may_contain(bloom_hex: str, value: bytes) -> bool:
    return bloom_has_bits(bloom_hex, bloom_bits(value))


def transfer_bloom_bits(address: str, topic0: str) -> tuple[int, ...]:
    """Bits a log of ``address`` with first topic ``topic0`` sets: computed once per token."""
    return bloom_bits(bytes.fromhex(address[2:])) + bloom_bits(bytes.fromhex(topic0[2:]))


def bloom_may_have_log(bloom_hex: str, address: str, topic0: str) -> bool:
    """True when a log from ``address`` with first topic ``topic0`` may be in the block."""
    return bloom_may_contain(bloom_hex, bytes.fromhex(address[2:])) and bloom_may_contain(
        bloom_hex, bytes.fromhex(topic0[2:])
    )
