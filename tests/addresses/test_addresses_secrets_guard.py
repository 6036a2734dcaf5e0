"""The private-key guard: every kind of spending key is refused, ordinary config passes."""

from __future__ import annotations

import tomllib

import pytest
from address_test_keys import ANVIL_MNEMONIC, ANVIL_PRIVATE_KEY_0, account_xprv_from_mnemonic
from bip_utils import (
    Base58Decoder,
    Base58Encoder,
    Bip39Languages,
    Bip39MnemonicGenerator,
    Bip39WordsNum,
    WifEncoder,
    WifPubKeyModes,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from paybridge.addresses import ANVIL_DEMO_XPUB
from paybridge.secrets_guard import (
    PrivateKeyMaterialError,
    detect_private_material,
    refuse_private_material,
    scan_arguments,
    scan_mapping,
)

SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
# BIP-32 test vector 1, chain m: master extended private key
BIP32_TV1_MASTER_XPRV = (
    "xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRNNU3T"
    "GtRBeJgk33yuGBxrMPHi"
)
# The classic WIF example (Bitcoin wiki "Wallet import format")
CLASSIC_WIF = "5HueCGU8rMjxEXxiPuD5BDku4MkFqeZyd4dZ1jvhTVqvbTLvyTJ"


def _refused(value: str) -> PrivateKeyMaterialError:
    with pytest.raises(PrivateKeyMaterialError) as err:
        refuse_private_material(value, "merchant.xpub")
    return err.value


def test_message_names_place_says_never_holds_keys_and_asks_for_xpub(
    anvil_account_xprv: str,
) -> None:
    error = _refused(anvil_account_xprv)
    message = str(error)
    assert message.startswith("merchant.xpub: ")
    assert "PayBridge never holds private keys" in message
    assert "account-level xpub" in message and "m/44'/60'/0'" in message
    assert anvil_account_xprv not in message and anvil_account_xprv[:20] not in message
    assert error.where == "merchant.xpub"
    assert isinstance(error, ValueError)


@pytest.mark.parametrize(
    "value_factory",
    [
        lambda: account_xprv_from_mnemonic(ANVIL_MNEMONIC),
        lambda: BIP32_TV1_MASTER_XPRV,
        lambda: BIP32_TV1_MASTER_XPRV[:80],  # truncated paste is still secret
        lambda: f"  {BIP32_TV1_MASTER_XPRV}\n",
        lambda: f"key={BIP32_TV1_MASTER_XPRV};",
    ],
)
def test_extended_private_keys(value_factory: object) -> None:
    assert "extended private key" in _refused(value_factory()).kind  # type: ignore[operator]


@pytest.mark.parametrize(
    ("version", "prefix"),
    [
        ("04358394", "tprv"),
        ("049d7878", "yprv"),
        ("04b2430c", "zprv"),
        ("044a4e28", "uprv"),
        ("045f18bc", "vprv"),
        ("02aa7a99", "Zprv"),
        ("deadbeef", None),  # unknown version bytes: caught by structure (key data 0x00 ..)
    ],
)
def test_extended_private_keys_of_any_version(version: str, prefix: str | None) -> None:
    payload = bytearray(Base58Decoder.CheckDecode(BIP32_TV1_MASTER_XPRV))
    payload[0:4] = bytes.fromhex(version)
    reencoded = Base58Encoder.CheckEncode(bytes(payload))
    if prefix:
        assert reencoded.startswith(prefix)
    assert "extended private key" in _refused(reencoded).kind


@pytest.mark.parametrize(
    "words",
    [
        Bip39WordsNum.WORDS_NUM_12,
        Bip39WordsNum.WORDS_NUM_15,
        Bip39WordsNum.WORDS_NUM_18,
        Bip39WordsNum.WORDS_NUM_21,
        Bip39WordsNum.WORDS_NUM_24,
    ],
)
def test_generated_mnemonics_of_every_length(words: Bip39WordsNum) -> None:
    mnemonic = Bip39MnemonicGenerator().FromWordsNumber(words).ToStr()
    assert "seed phrase" in _refused(mnemonic).kind


@pytest.mark.parametrize(
    "language", [Bip39Languages.SPANISH, Bip39Languages.FRENCH, Bip39Languages.CZECH]
)
def test_mnemonics_in_other_languages(language: Bip39Languages) -> None:
    mnemonic = Bip39MnemonicGenerator(language).FromWordsNumber(Bip39WordsNum.WORDS_NUM_12)
    assert "seed phrase" in _refused(mnemonic.ToStr()).kind


@pytest.mark.parametrize(
    "value",
    [
        ANVIL_MNEMONIC,
        ANVIL_MNEMONIC.upper(),
        "  " + ANVIL_MNEMONIC.replace(" ", "   ") + "\n",
        ANVIL_MNEMONIC.replace(" ", "\n"),
        "test " * 12,  # checksum-invalid (typo'd last word) is still a seed phrase
        f"my wallet words: {ANVIL_MNEMONIC}, keep safe",
        " ".join(f"{n}. {w}" for n, w in enumerate(ANVIL_MNEMONIC.split(), start=1)),
        '["' + '", "'.join(ANVIL_MNEMONIC.split()) + '"]',
    ],
)
def test_mnemonic_spellings(value: str) -> None:
    assert "seed phrase" in _refused(value).kind


def test_eleven_bip39_words_are_not_a_mnemonic() -> None:
    refuse_private_material(" ".join(ANVIL_MNEMONIC.split()[:11]), "merchant.name")


@pytest.mark.parametrize("prefix", ["", "0x", "0X"])
def test_raw_hex_private_key(prefix: str) -> None:
    assert "raw 32-byte hex" in _refused(prefix + ANVIL_PRIVATE_KEY_0).kind
    assert "raw 32-byte hex" in _refused(prefix + ANVIL_PRIVATE_KEY_0.upper()).kind


def test_raw_hex_out_of_curve_range_is_not_a_key() -> None:
    refuse_private_material("0" * 64, "x")
    refuse_private_material(f"{SECP256K1_ORDER:064x}", "x")
    refuse_private_material("0x" + "f" * 64, "x")


def test_raw_hex_is_ambiguous_so_it_can_be_allowed_per_value() -> None:
    # a tx hash looks exactly like a private key: refused in config unless allowed
    tx_hash = "0x88df016429689c079f3b2f6ad39fa052532c56795b733da78a91ebe6a713944b"
    _refused(tx_hash)
    refuse_private_material(tx_hash, "webhooks.secret", allow_raw_hex=True)
    with pytest.raises(PrivateKeyMaterialError):  # other checks still apply when hex is allowed
        refuse_private_material(ANVIL_MNEMONIC, "webhooks.secret", allow_raw_hex=True)


@pytest.mark.parametrize(
    ("compressed", "net_ver"),
    [(True, b"\x80"), (False, b"\x80"), (True, b"\xef"), (False, b"\xef")],
)
def test_wif_keys(compressed: bool, net_ver: bytes) -> None:
    mode = WifPubKeyModes.COMPRESSED if compressed else WifPubKeyModes.UNCOMPRESSED
    wif = WifEncoder.Encode(bytes.fromhex(ANVIL_PRIVATE_KEY_0), net_ver, mode)
    assert "WIF" in _refused(wif).kind


def test_classic_wif_vector() -> None:
    assert "WIF" in _refused(CLASSIC_WIF).kind


@pytest.mark.parametrize(
    "value",
    [
        ANVIL_DEMO_XPUB,
        "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
        "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266",
        "http://127.0.0.1:8545",
        "https://mainnet.base.org",
        "ethereum:0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266@1?value=2.014e18",
        "Never paste your xprv or seed phrase here",
        "Thank you for your order, please pay the invoice within fifteen minutes of the quote",
        "ACME Corporation GmbH",
        "sqlite:///paybridge.db",
        "postgresql+psycopg://postgres@127.0.0.1:5432/test",
        "0x" + "ab" * 65,  # 65-byte signature, not a 32-byte key
        "",
    ],
)
def test_ordinary_values_pass(value: str) -> None:
    assert detect_private_material(value) is None
    refuse_private_material(value, "somewhere")


@pytest.mark.parametrize("value", [None, 12, 3.5, True, b"bytes"])
def test_non_strings_pass(value: object) -> None:
    refuse_private_material(value, "x")  # type: ignore[arg-type]


def test_scan_mapping_names_the_config_path(anvil_account_xprv: str) -> None:
    config = {
        "merchant": {"name": "ACME", "xpub": anvil_account_xprv},
        "chains": [{"name": "anvil", "chain_id": 31337}],
    }
    with pytest.raises(PrivateKeyMaterialError, match=r"^merchant\.xpub: ") as err:
        scan_mapping(config)
    assert err.value.where == "merchant.xpub"


def test_scan_mapping_lists_and_source() -> None:
    config = {
        "chains": [{"rpc_url": "http://x"}, {"rpc_url": "http://y", "notes": [1, ANVIL_MNEMONIC]}]
    }
    with pytest.raises(PrivateKeyMaterialError) as err:
        scan_mapping(config, source="paybridge.toml")
    assert err.value.where == "paybridge.toml: chains[1].notes[1]"
    with pytest.raises(PrivateKeyMaterialError) as err:
        scan_mapping(config, "root")
    assert err.value.where == "root.chains[1].notes[1]"


def test_scan_mapping_raw_hex_allowed_by_path_pattern() -> None:
    secret = "0x" + ANVIL_PRIVATE_KEY_0
    config = {"webhooks": {"shop": {"secret": secret}}, "merchant": {"xpub": ANVIL_DEMO_XPUB}}
    scan_mapping(config, raw_hex_allowed=["webhooks.*.secret"])
    with pytest.raises(PrivateKeyMaterialError, match=r"webhooks\.shop\.secret"):
        scan_mapping(config)
    with pytest.raises(PrivateKeyMaterialError, match=r"merchant\.key"):
        scan_mapping({"merchant": {"key": secret}}, raw_hex_allowed=["webhooks.*.secret"])


def test_scan_mapping_passes_clean_config_from_toml() -> None:
    text = f"""
[merchant]
name = "ACME"
xpub = "{ANVIL_DEMO_XPUB}"

[[chains]]
name = "anvil"
chain_id = 31337
rpc_url = "http://127.0.0.1:8545"

[[assets]]
chain = "anvil"
symbol = "USDC"
address = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
decimals = 6
"""
    scan_mapping(tomllib.loads(text))


def test_scan_arguments_catches_a_mnemonic_spread_over_arguments() -> None:
    argv = ["addresses", "derive", "--xpub", *ANVIL_MNEMONIC.split(), "--index", "0"]
    for arg in argv:
        refuse_private_material(arg, "one argument")  # no single argument is a secret
    with pytest.raises(PrivateKeyMaterialError, match=r"^command line: "):
        scan_arguments(argv)


def test_scan_arguments_names_the_argument() -> None:
    with pytest.raises(PrivateKeyMaterialError, match="command line argument 2"):
        scan_arguments(["--xpub", f"0x{ANVIL_PRIVATE_KEY_0}"])


@settings(max_examples=200, deadline=None)
@given(key=st.integers(min_value=1, max_value=SECP256K1_ORDER - 1))
def test_every_valid_raw_key_is_refused(key: int) -> None:
    assert detect_private_material(f"{key:064x}") == "a raw 32-byte hex private key"


@settings(max_examples=200, deadline=None)
@given(address=st.binary(min_size=20, max_size=20))
def test_addresses_never_refused(address: bytes) -> None:
    from eth_utils import to_checksum_address

    assert detect_private_material(to_checksum_address(address)) is None


def test_config_loader_refuses_private_material(tmp_path, anvil_account_xprv: str) -> None:
    """The real config path: paybridge.config.load_config runs the guard on the user's file."""
    from paybridge.config import load_config

    config_file = tmp_path / "paybridge.toml"
    config_file.write_text(f'[merchant]\nxpub = "{anvil_account_xprv}"\n', encoding="utf-8")
    with pytest.raises(PrivateKeyMaterialError, match=r"merchant\.xpub.*never holds private keys"):
        load_config(config_file)


def test_scan_arguments_allows_hex_only_as_a_tx_hash_option_value() -> None:
    tx_hash = "0x88df016429689c079f3b2f6ad39fa052532c56795b733da78a91ebe6a713944b"
    scan_arguments(["audit", "trace", "--tx", tx_hash])
    scan_arguments(["audit", "trace", f"--tx-hash={tx_hash}"])
    with pytest.raises(PrivateKeyMaterialError, match="command line argument 3"):
        scan_arguments(["audit", "trace", tx_hash])
    with pytest.raises(PrivateKeyMaterialError, match="command line argument 2"):
        scan_arguments(["--xpub", tx_hash, "--tx", tx_hash])
    with pytest.raises(PrivateKeyMaterialError, match="seed phrase"):
        scan_arguments(["--tx", ANVIL_MNEMONIC])  # only the raw-hex check is relaxed
