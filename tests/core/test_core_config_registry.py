"""A config can remove or replace built-in chains and assets; one contract is one asset."""

from __future__ import annotations

from pathlib import Path

import pytest

from paybridge.config import ConfigError, load_config

LOCAL_ONLY = """
builtin_chains = false

[[chains]]
name = "devnet"
chain_id = 31337
rpc_url = "http://127.0.0.1:8545"
finality = { confirmed = "depth", finalized = "depth", confirmations = 1, finality_depth = 2 }

[[assets]]
chain = "devnet"
symbol = "ETH"
kind = "native"
decimals = 18
rate = { source = "fixed", price = "2000" }
"""

ANVIL_TOKEN = """
[[assets]]
chain = "anvil"
symbol = "{symbol}"
kind = "erc20"
address = "{address}"
decimals = 6
rate = {{ source = "fixed", price = "1" }}
"""
BUILTIN_ANVIL_USDC = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
OTHER_TOKEN = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"


def _load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "paybridge.toml"
    path.write_text(text)
    return load_config(path)


def test_builtin_chains_false_uses_only_the_files_chains_and_assets(tmp_path: Path) -> None:
    config = _load(tmp_path, LOCAL_ONLY)
    assert [c.name for c in config.chains] == ["devnet"]
    assert [(a.chain, a.symbol) for a in config.assets] == [("devnet", "ETH")]
    with pytest.raises(ConfigError, match="unknown chain 'ethereum'"):
        config.chain("ethereum")


def test_enabled_false_removes_a_chain_with_its_assets_and_single_assets(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        '[[chains]]\nname = "polygon"\nenabled = false\n'
        '[[assets]]\nchain = "anvil"\nsymbol = "DAI"\nenabled = false\n',
    )
    assert "polygon" not in {c.name for c in config.chains}
    assert not [a for a in config.assets if a.chain == "polygon"]
    assert {a.symbol for a in config.assets_on("anvil")} == {"ETH", "USDC"}
    assert config.asset("ethereum", "USDC").decimals == 6  # the rest stays


def test_a_local_chain_need_not_inherit_builtin_token_addresses(tmp_path: Path) -> None:
    """The report: a local chain got the built-in anvil token addresses whether it had them
    or not. Disabling the built-in entries leaves only the file's token."""
    text = (
        '[[assets]]\nchain = "anvil"\nsymbol = "USDC"\nenabled = false\n'
        '[[assets]]\nchain = "anvil"\nsymbol = "DAI"\nenabled = false\n'
        + ANVIL_TOKEN.format(symbol="EURC", address=BUILTIN_ANVIL_USDC)
    )
    config = _load(tmp_path, text)
    tokens = {a.symbol: a.address for a in config.assets_on("anvil") if a.kind == "erc20"}
    assert tokens == {"EURC": BUILTIN_ANVIL_USDC}


def test_replace_true_takes_the_entry_as_written_instead_of_merging(tmp_path: Path) -> None:
    chain = (
        '[[chains]]\nname = "anvil"\nchain_id = 31337\nrpc_url = "http://127.0.0.1:9545"\n'
        'finality = { confirmed = "depth", finalized = "depth", confirmations = 1, '
        "finality_depth = 2 }\n"
    )
    merged = _load(tmp_path, chain).chain("anvil")
    assert merged.traces_enabled is True and merged.xpub  # inherited from the built-in entry
    replaced = _load(tmp_path, chain.replace("[[chains]]\n", "[[chains]]\nreplace = true\n"))
    assert replaced.chain("anvil").traces_enabled is False
    assert replaced.chain("anvil").xpub == ""
    assert replaced.chain("anvil").rpc_url == "http://127.0.0.1:9545"


def test_an_asset_on_a_disabled_chain_is_an_error_naming_it(tmp_path: Path) -> None:
    text = '[[chains]]\nname = "anvil"\nenabled = false\n' + ANVIL_TOKEN.format(
        symbol="EURC", address=OTHER_TOKEN
    )
    with pytest.raises(ConfigError, match=r"assets\[anvil/EURC\].*chain 'anvil' is disabled"):
        _load(tmp_path, text)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('builtin_chains = "no"\n', "builtin_chains must be true or false"),
        ('[[chains]]\nname = "base"\nenabled = "no"\n', r"chains\[base\]\.enabled"),
        ('[[assets]]\nchain = "base"\nsymbol = "USDC"\nreplace = 1\n', r"assets\[base/USDC\]"),
    ],
)
def test_switches_must_be_booleans(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        _load(tmp_path, text)


def test_two_assets_with_one_contract_address_are_refused_naming_both(tmp_path: Path) -> None:
    text = ANVIL_TOKEN.format(symbol="USDC2", address=BUILTIN_ANVIL_USDC)
    with pytest.raises(ConfigError) as error:
        _load(tmp_path, text)
    message = str(error.value)
    assert "USDC" in message and "USDC2" in message and "anvil" in message
    assert "'address'" in message and BUILTIN_ANVIL_USDC in message


def test_one_contract_address_on_two_chains_is_fine(tmp_path: Path) -> None:
    text = LOCAL_ONLY + ANVIL_TOKEN.format(symbol="USDC", address=OTHER_TOKEN).replace(
        '"anvil"', '"devnet"'
    )
    text += (
        '[[chains]]\nname = "devnet2"\nchain_id = 31338\nrpc_url = "http://127.0.0.1:8546"\n'
        'finality = { confirmed = "depth", finalized = "depth", confirmations = 1, '
        "finality_depth = 2 }\n"
    ) + ANVIL_TOKEN.format(symbol="USDC", address=OTHER_TOKEN).replace('"anvil"', '"devnet2"')
    config = _load(tmp_path, text)
    assert config.asset("devnet", "USDC").address == config.asset("devnet2", "USDC").address
