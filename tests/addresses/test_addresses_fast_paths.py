"""The fast paths of address derivation and EIP-55 agree with the reference libraries.

PayBridge derives the last BIP-32 step with coincurve and checksums with its own keccak call;
bip-utils (full derivation) and eth_utils (EIP-55) are the references here.
"""

from __future__ import annotations

import hashlib
import random
import re

import pytest
from bip_utils import Base58Decoder, Base58Encoder, Bip32Secp256k1, EthAddrEncoder
from eth_utils import is_checksum_address, to_checksum_address

from paybridge.addresses import (
    ANVIL_DEMO_XPUB,
    MAX_ADDRESS_INDEX,
    InvalidXpubError,
    WatchOnlyWallet,
    _account_key,
    checksum_address,
    is_checksummed,
)
from paybridge.secrets_guard import base58check_decode

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


def _account_xpubs(count: int) -> list[str]:
    rng = random.Random(151)
    return [
        Bip32Secp256k1.FromSeed(rng.randbytes(32))
        .DerivePath(f"m/44'/60'/{account}'")
        .PublicKey()
        .ToExtended()
        for account in range(count)
    ]


@pytest.mark.parametrize("xpub", _account_xpubs(6))
def test_xpub_read_without_bip_utils_derives_what_bip_utils_derives(xpub: str) -> None:
    """The wallet reads a plain account xpub itself (no bip-utils import at start-up): the
    same fingerprint and the same addresses as bip-utils' full derivation."""
    assert _account_key(xpub) is not None  # the fast path is the one under test
    wallet = WatchOnlyWallet(xpub)
    account = Bip32Secp256k1.FromExtendedKey(xpub)
    material = account.PublicKey().RawCompressed().ToBytes() + account.ChainCode().ToBytes()
    assert wallet.fingerprint == hashlib.sha256(material).hexdigest()[:32]
    external = account.ChildKey(0)
    for index in INDEXES[:12]:
        expected = EthAddrEncoder.EncodeKey(external.ChildKey(index).PublicKey().KeyObject())
        assert wallet.address(index) == expected, index


def test_anything_but_a_plain_account_xpub_goes_to_bip_utils() -> None:
    """Wrong depth, testnet version, bad checksum: the fast path declines and the refusal
    (and its message) is bip-utils' and PayBridge's as before."""
    master = Bip32Secp256k1.FromSeed(bytes(32))
    deeper = master.DerivePath("m/44'/60'/0'/0").PublicKey().ToExtended()
    testnet = Base58Encoder.CheckEncode(
        bytes.fromhex("043587cf") + Base58Decoder.CheckDecode(ANVIL_DEMO_XPUB)[4:]
    )
    corrupted = ANVIL_DEMO_XPUB[:-3] + ("a" if ANVIL_DEMO_XPUB[-3] != "a" else "b") + "qP"
    for xpub, message in [
        (master.PublicKey().ToExtended(), "expected an account-level xpub (depth 3"),
        (deeper, "got depth 4"),
        (testnet, "wrong net version"),
        (corrupted, "not a valid extended public key"),
    ]:
        assert _account_key(xpub) is None
        with pytest.raises(InvalidXpubError, match=re.escape(message)):
            WatchOnlyWallet(xpub)


def test_base58check_decode_matches_bip_utils() -> None:
    rng = random.Random(58)
    for _ in range(300):
        data = bytes(rng.randrange(3)) + rng.randbytes(rng.randrange(90))
        text = Base58Encoder.CheckEncode(data)
        assert base58check_decode(text) == data
        position = rng.randrange(len(text))
        mangled = text[:position] + rng.choice("1Aaz9Q") + text[position + 1 :]
        try:
            expected: bytes | None = Base58Decoder.CheckDecode(mangled)
        except Exception:  # bad checksum or alphabet
            expected = None
        assert base58check_decode(mangled) == expected
    for not_base58 in ["", "0", "O", "I", "l", "abc+", "1111"]:
        assert base58check_decode(not_base58) is None
