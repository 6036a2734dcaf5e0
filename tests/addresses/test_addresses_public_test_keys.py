"""Public test keys are refused on every chain except the local one; init writes none for
real chains; a chain's own xpub wins over [merchant] xpub."""

from __future__ import annotations

from pathlib import Path

import pytest
from address_test_keys import (
    ANVIL_ACCOUNTS,
    ANVIL_MNEMONIC,
    GANACHE_MNEMONIC,
    TRUFFLE_MNEMONIC,
    account_xpub_from_mnemonic,
)
from bip_utils import Base58Decoder, Base58Encoder, Bip39MnemonicGenerator, Bip39WordsNum

from paybridge.addresses import derive_addresses
from paybridge.config import ConfigError, load_config
from paybridge.config.merchant_keys import (
    PUBLIC_TEST_ACCOUNT_XPUBS,
    MerchantKeyError,
    merchant_wallet,
    public_test_key,
)

MNEMONICS = {"anvil": ANVIL_MNEMONIC, "truffle": TRUFFLE_MNEMONIC, "ganache": GANACHE_MNEMONIC}
# The truffle and ganache mnemonics' first accounts, as their docs print them.
KNOWN_FIRST_ADDRESSES = {
    "anvil": ANVIL_ACCOUNTS[0],
    "truffle": "0x627306090abaB3A6e1400e9345bC60c78a8BEf57",
    "ganache": "0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1",
}
REAL_CHAINS = ("ethereum", "polygon", "base", "arbitrum")


@pytest.fixture(scope="module")
def own_xpub() -> str:
    """A key nobody else has: a fresh random mnemonic's account xpub."""
    mnemonic = str(Bip39MnemonicGenerator().FromWordsNumber(Bip39WordsNum.WORDS_NUM_12))
    return account_xpub_from_mnemonic(mnemonic)


def _config_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "paybridge.toml"
    path.write_text(text)
    return path


def test_the_shipped_list_is_what_the_public_mnemonics_derive() -> None:
    recomputed = {
        label: tuple(account_xpub_from_mnemonic(mnemonic, a) for a in range(10))
        for label, mnemonic in MNEMONICS.items()
    }
    assert recomputed == PUBLIC_TEST_ACCOUNT_XPUBS
    for label, xpubs in PUBLIC_TEST_ACCOUNT_XPUBS.items():
        assert derive_addresses(xpubs[0], 0, 1) == [KNOWN_FIRST_ADDRESSES[label]]


def test_defaults_hold_no_usable_key_for_a_real_chain() -> None:
    config = load_config(None)
    assert config.merchant.xpub == ""
    for name in REAL_CHAINS:
        assert config.chain(name).xpub == ""
        with pytest.raises(
            MerchantKeyError, match=rf"no merchant xpub for chain {name}.*44'/60'/0'"
        ):
            merchant_wallet(config, name)
    assert public_test_key(config.chain("anvil").xpub)  # the local chain keeps the demo key
    assert merchant_wallet(config, "anvil").address(0)


@pytest.mark.parametrize(
    ("label", "account"), [("anvil", 0), ("anvil", 1), ("truffle", 0), ("ganache", 4)]
)
def test_a_public_test_key_as_merchant_xpub_is_refused_for_real_chains(
    tmp_path: Path, label: str, account: int
) -> None:
    xpub = account_xpub_from_mnemonic(MNEMONICS[label], account)
    path = _config_file(tmp_path, f'[merchant]\nxpub = "{xpub}"\n')
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert message.startswith("merchant.xpub: refused for chain ethereum (chain id 1)")
    assert f"account {account}'" in message and "anyone can derive" in message
    assert "m/44'/60'/0'" in message and "paybridge addresses derive" in message
    assert xpub not in message


def test_a_public_test_key_is_refused_as_a_chains_own_xpub(tmp_path: Path, own_xpub: str) -> None:
    demo = account_xpub_from_mnemonic(ANVIL_MNEMONIC, 1)
    path = _config_file(
        tmp_path, f'[merchant]\nxpub = "{own_xpub}"\n[[chains]]\nname = "base"\nxpub = "{demo}"\n'
    )
    with pytest.raises(ConfigError, match=r"^chains\[base\]\.xpub: refused for chain base"):
        load_config(path)


def test_a_public_key_respelled_is_still_recognised() -> None:
    demo = account_xpub_from_mnemonic(ANVIL_MNEMONIC, 1)
    raw = bytearray(Base58Decoder.CheckDecode(demo))
    raw[5:9] = b"\x00\x00\x00\x00"  # other parent fingerprint: another string, the same key
    respelled = Base58Encoder.CheckEncode(bytes(raw))
    assert respelled != demo and public_test_key(respelled)


def test_the_local_chain_may_use_a_test_key(tmp_path: Path) -> None:
    demo = account_xpub_from_mnemonic(ANVIL_MNEMONIC, 0)
    path = _config_file(
        tmp_path,
        f'builtin_chains = false\n[merchant]\nxpub = "{demo}"\n'
        '[[chains]]\nname = "local"\nchain_id = 31337\nrpc_url = "http://127.0.0.1:8545"\n'
        'finality = { confirmed = "depth", finalized = "depth", confirmations = 1, '
        "finality_depth = 2 }\n",
    )
    config = load_config(path)
    assert merchant_wallet(config, "local").address(0) == ANVIL_ACCOUNTS[0]


def test_own_key_serves_real_chains_and_the_local_chain_keeps_its_own(
    tmp_path: Path, own_xpub: str
) -> None:
    config = load_config(_config_file(tmp_path, f'[merchant]\nxpub = "{own_xpub}"\n'))
    assert public_test_key(own_xpub) is None
    assert merchant_wallet(config, "ethereum").address(0) == derive_addresses(own_xpub, 0, 1)[0]
    assert (
        merchant_wallet(config, "anvil").fingerprint != merchant_wallet(config, "base").fingerprint
    )


def test_an_invalid_xpub_fails_at_load_naming_the_key(tmp_path: Path) -> None:
    path = _config_file(tmp_path, '[merchant]\nxpub = "xpub-paste-yours-here"\n')
    with pytest.raises(ConfigError, match=r"^merchant\.xpub: not a valid extended public key"):
        load_config(path)
