"""The chain and asset registry validates on load and refuses private keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from paybridge.config import ConfigError, load_config
from paybridge.secrets_guard import PrivateKeyMaterialError


def test_defaults_cover_the_supported_chains() -> None:
    config = load_config(None)
    assert {c.chain_id for c in config.chains} == {1, 137, 8453, 42161, 31337}
    assert config.asset(8453, "usdc").decimals == 6
    assert config.asset("ethereum", "ETH").kind == "native"
    assert config.chain("31337").name == "anvil"
    assert config.quotes.lock_minutes == 15 and config.quotes.late_window_hours == 24


def test_user_file_overrides_and_adds(tmp_path: Path) -> None:
    path = tmp_path / "paybridge.toml"
    path.write_text(
        "[quotes]\nlock_minutes = 30\n"
        '[[chains]]\nname = "anvil"\nrpc_url = "http://127.0.0.1:9999"\n'
        '[[assets]]\nchain = "base"\nsymbol = "EURC"\nkind = "erc20"\n'
        'address = "0x60a3E35Cc302bFA44Cb288Bc5a4F316Fdb1adb42"\ndecimals = 6\n'
        'rate = { source = "fixed", currency = "EUR", price = "1" }\n'
    )
    config = load_config(path)
    assert config.quotes.lock_minutes == 30
    assert config.chain("anvil").rpc_url == "http://127.0.0.1:9999"
    assert config.chain("anvil").chain_id == 31337  # the rest of the default entry is kept
    assert config.asset("base", "EURC").rate.currency == "EUR"


@pytest.mark.parametrize(
    ("toml", "fragment"),
    [
        (
            '[[assets]]\nchain = "base"\nsymbol = "X"\nkind = "erc20"\n'
            'address = "0x833589fcd6edb6e08f4c7c32d4f71b54bda02913"\ndecimals = 6\n'
            'rate = { source = "fixed", price = "1" }\n',
            "checksummed",
        ),
        (
            '[[assets]]\nchain = "nowhere"\nsymbol = "X"\nkind = "native"\ndecimals = 18\n'
            'rate = { source = "fixed", price = "1" }\n',
            "unknown chain",
        ),
        (
            '[[assets]]\nchain = "base"\nsymbol = "X"\nkind = "native"\ndecimals = 18\n'
            'rate = { source = "chainlink" }\n',
            "feed",
        ),
        ('[quotes]\nlock_minutes = "soon"\n', "quotes.lock_minutes"),
    ],
)
def test_invalid_configuration_names_the_key(tmp_path: Path, toml: str, fragment: str) -> None:
    path = tmp_path / "paybridge.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=fragment):
        load_config(path)


def test_private_key_material_in_config_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "paybridge.toml"
    path.write_text(
        '[merchant]\nxpub = "test test test test test test test test test test test junk"\n'
    )
    with pytest.raises(PrivateKeyMaterialError, match=r"merchant\.xpub"):
        load_config(path)
