"""The fast paths of address derivation and EIP-55 agree with the reference libraries.

PayBridge derives the last BIP-32 step with coincurve and checksums with its own keccak call;
bip-utils (full derivation) and eth_utils (EIP-55) are the references here.
"""

from __future__ import annotations

import random

import pytest
from bip_utils import Bip32Secp256k1, EthAddrEncoder
from eth_utils import is_checksum_address, to_checksum_address

from paybridge.addresses import (
    ANVIL_DEMO_XPUB,
    MAX_ADDRESS_INDEX,
    WatchOnlyWallet,
    checksum_address,
    is_checksummed,
)

RNG = random.Random(15)
INDEXES = [0, 1, 2, 255, 256, 65_535, MAX_ADDRESS_INDEX, *RNG.sample(range(MAX_ADDRESS_INDEX), 60)]


def test_derivation_matches_bip_utils() -> None:
    wallet = WatchOnlyWallet(ANVIL_DEMO_XPUB)
    external = Bip32Secp256k1.FromExtendedKey(ANVIL_DEMO_XPUB).ChildKey(0)
    for index in INDEXES:
        expected = EthAddrEncoder.EncodeKey(external.ChildKey(index).PublicKey().KeyObject())
        assert wallet.address(index) == expected, index
    assert wallet.addresses(1000, 40) == [
        EthAddrEncoder.EncodeKey(external.ChildKey(i).PublicKey().KeyObject())
        for i in range(1000, 1040)
    ]


@pytest.mark.parametrize("seed", range(4))
def test_eip55_matches_eth_utils(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(500):
        address = "0x" + "".join(rng.choice("0123456789abcdefABCDEF") for _ in range(40))
        assert checksum_address(address) == to_checksum_address(address)
        assert is_checksummed(address) == is_checksum_address(address)
        assert is_checksummed(to_checksum_address(address))


@pytest.mark.parametrize("bad", ["", "0x", "0x" + "1" * 39, "0x" + "g" * 40, "1" * 41])
def test_not_an_address_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not a 20-byte hex address"):
        checksum_address(bad)
    assert not is_checksummed(bad)
