"""Watch-only derivation: anvil's accounts, an independent implementation, EIP-55, bad keys."""

from __future__ import annotations

import hashlib

import pytest
from address_test_keys import ANVIL_ACCOUNTS, ANVIL_MNEMONIC, account_xpub_from_mnemonic
from bip_utils import Base58Decoder, Base58Encoder, Bip39MnemonicGenerator, Bip39WordsNum
from eth_account import Account
from hypothesis import given, settings
from hypothesis import strategies as st

from paybridge.addresses import (
    ANVIL_DEMO_XPUB,
    MAX_ADDRESS_INDEX,
    InvalidXpubError,
    WatchOnlyWallet,
    checksum_address,
    derive_addresses,
    is_checksummed,
    xpub_fingerprint,
)
from paybridge.secrets_guard import PrivateKeyMaterialError

Account.enable_unaudited_hdwallet_features()

# EIP-55 "Test Cases": all caps, all lower, normal (mixed case)
EIP55_VECTORS = (
    "0x52908400098527886E0F7030069857D2E4169EE7",
    "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
    "0xde709f2102306220921060314715629080e2fb77",
    "0x27b1fdb04752bbc536007a920d24acb045561c26",
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
)
# BIP-32 test vector 1 master key (depth 0): a valid xpub, but not an account-level one
BIP32_TV1_MASTER_XPUB = (
    "xpub661MyMwAqRbcFtXgS5sYJABqqG9YLmC4Q1Rdap9gSE8NqtwybGhePY2gZ29ESFjqJoCu1Rupje8YtGqsefD265T"
    "Mg7usUDFdp6W1EGMcet8"
)


def test_anvil_account_xpub_derives_anvil_funded_accounts(anvil_account_xpub: str) -> None:
    assert derive_addresses(anvil_account_xpub, 0, 3) == list(ANVIL_ACCOUNTS)


def test_demo_constant_is_the_anvil_account_xpub(anvil_account_xpub: str) -> None:
    assert anvil_account_xpub == ANVIL_DEMO_XPUB
    assert WatchOnlyWallet(ANVIL_DEMO_XPUB).addresses(0, 3) == list(ANVIL_ACCOUNTS)


@pytest.mark.parametrize("index", [0, 1, 7, 19, 1000, 123_456, MAX_ADDRESS_INDEX])
def test_matches_eth_account_private_derivation(index: int) -> None:
    """eth-account derives from the mnemonic with private keys: an independent implementation."""
    expected = Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
    assert WatchOnlyWallet(ANVIL_DEMO_XPUB).address(index) == expected.address


def test_other_mnemonic_and_account_match_eth_account() -> None:
    mnemonic = Bip39MnemonicGenerator().FromWordsNumber(Bip39WordsNum.WORDS_NUM_24).ToStr()
    xpub = account_xpub_from_mnemonic(mnemonic, account=3)
    for index in (0, 42):
        path = f"m/44'/60'/3'/0/{index}"
        assert derive_addresses(xpub, index, 1) == [
            Account.from_mnemonic(mnemonic, account_path=path).address
        ]


def test_range_equals_one_by_one_and_is_unique_and_checksummed() -> None:
    wallet = WatchOnlyWallet(ANVIL_DEMO_XPUB)
    batch = wallet.addresses(50, 200)
    assert batch == [wallet.address(i) for i in range(50, 250)]
    assert len(set(batch)) == 200
    assert all(is_checksummed(a) for a in batch)
    assert derive_addresses(ANVIL_DEMO_XPUB, 50, 200) == batch


@pytest.mark.parametrize("vector", EIP55_VECTORS)
def test_eip55_vectors(vector: str) -> None:
    assert checksum_address(vector.lower()) == vector
    assert checksum_address(vector.upper().replace("0X", "0x")) == vector
    assert is_checksummed(vector)


@pytest.mark.parametrize("vector", EIP55_VECTORS[4:])
def test_eip55_wrong_case_is_not_checksummed(vector: str) -> None:
    assert not is_checksummed(vector.lower())
    assert not is_checksummed("0x" + vector[2:].upper())
    flipped = vector[:-1] + vector[-1].swapcase() if vector[-1].isalpha() else None
    if flipped:
        assert not is_checksummed(flipped)


def test_checksum_address_rejects_non_addresses() -> None:
    with pytest.raises(ValueError, match="20-byte"):
        checksum_address("0x1234")


def test_master_xpub_is_refused_as_not_account_level() -> None:
    with pytest.raises(InvalidXpubError, match="depth 0") as err:
        WatchOnlyWallet(BIP32_TV1_MASTER_XPUB)
    assert "m/44'/60'/0'" in str(err.value)


def test_address_level_xpub_is_refused(anvil_account_xpub: str) -> None:
    from bip_utils import Bip32Secp256k1

    deeper = Bip32Secp256k1.FromExtendedKey(anvil_account_xpub).ChildKey(0)
    with pytest.raises(InvalidXpubError, match="depth 4"):
        WatchOnlyWallet(deeper.PublicKey().ToExtended())


@pytest.mark.parametrize(
    "value", ["", "xpub", "not a key", ANVIL_DEMO_XPUB[:-1] + "Q", ANVIL_DEMO_XPUB[:60]]
)
def test_garbage_is_invalid_xpub(value: str) -> None:
    with pytest.raises(InvalidXpubError, match="not a valid extended public key"):
        WatchOnlyWallet(value)


def test_private_keys_are_refused_before_parsing(anvil_account_xprv: str) -> None:
    with pytest.raises(PrivateKeyMaterialError, match="never holds private keys"):
        WatchOnlyWallet(anvil_account_xprv)
    with pytest.raises(PrivateKeyMaterialError, match="seed phrase"):
        derive_addresses(ANVIL_MNEMONIC, 0, 1)


@pytest.mark.parametrize(
    ("start", "count"),
    [(-1, 1), (0, 0), (0, -5), (MAX_ADDRESS_INDEX, 2), (True, 1), (1.0, 1)],
)
def test_index_bounds(start: object, count: object) -> None:
    with pytest.raises(ValueError):
        derive_addresses(ANVIL_DEMO_XPUB, start, count)  # type: ignore[arg-type]


def test_fingerprint_is_sha256_of_key_and_chain_code() -> None:
    raw = Base58Decoder.CheckDecode(ANVIL_DEMO_XPUB)
    chain_code, public_key = raw[13:45], raw[45:78]
    expected = hashlib.sha256(public_key + chain_code).hexdigest()[:32]
    assert xpub_fingerprint(ANVIL_DEMO_XPUB) == expected
    assert xpub_fingerprint(f"  {ANVIL_DEMO_XPUB}\n") == expected


def test_fingerprint_ignores_serialization_metadata_but_not_the_key() -> None:
    raw = bytearray(Base58Decoder.CheckDecode(ANVIL_DEMO_XPUB))
    raw[5:9] = b"\x00\x00\x00\x00"  # different parent fingerprint, same key and chain code
    reserialized = Base58Encoder.CheckEncode(bytes(raw))
    assert reserialized != ANVIL_DEMO_XPUB
    assert xpub_fingerprint(reserialized) == xpub_fingerprint(ANVIL_DEMO_XPUB)
    assert derive_addresses(reserialized, 0, 3) == list(ANVIL_ACCOUNTS)
    other_account = account_xpub_from_mnemonic(ANVIL_MNEMONIC, account=1)
    assert xpub_fingerprint(other_account) != xpub_fingerprint(ANVIL_DEMO_XPUB)


@settings(max_examples=25, deadline=None)
@given(index=st.integers(min_value=0, max_value=MAX_ADDRESS_INDEX))
def test_any_index_is_checksummed_and_deterministic(index: int) -> None:
    first = WatchOnlyWallet(ANVIL_DEMO_XPUB).address(index)
    assert is_checksummed(first)
    assert derive_addresses(ANVIL_DEMO_XPUB, index, 1) == [first]
