"""Test-only key helpers and public anvil test vectors.

Turning a mnemonic into keys is exactly what PayBridge refuses to do with user input, so it
lives here, in tests, used on public test mnemonics only.
"""

from __future__ import annotations

from bip_utils import Bip39SeedGenerator, Bip44, Bip44Coins

ANVIL_MNEMONIC = "test test test test test test test test test test test junk"
# Truffle's `truffle develop` and Ganache's deterministic (`-d`) default mnemonics: public too.
TRUFFLE_MNEMONIC = "candy maple cake sugar pudding cream honey rich smooth crumble sweet treat"
GANACHE_MNEMONIC = "myth like bonus scare over problem client lizard pioneer submit female collect"
# anvil's funded dev accounts 0, 1, 2 (https://getfoundry.sh/anvil), m/44'/60'/0'/0/i
ANVIL_ACCOUNTS = (
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
)
# anvil's well-known private key of account 0 (public test data, printed by anvil at start)
ANVIL_PRIVATE_KEY_0 = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def _account_node(mnemonic: str, account: int) -> Bip44:
    seed = Bip39SeedGenerator(mnemonic).Generate()
    return Bip44.FromSeed(seed, Bip44Coins.ETHEREUM).Purpose().Coin().Account(account)


def account_xpub_from_mnemonic(mnemonic: str, account: int = 0) -> str:
    """xpub of m/44'/60'/<account>' (what a wallet exports as the account's public key)."""
    return _account_node(mnemonic, account).PublicKey().ToExtended()


def account_xprv_from_mnemonic(mnemonic: str, account: int = 0) -> str:
    """xprv of the same node: only to prove the guard refuses it."""
    return _account_node(mnemonic, account).PrivateKey().ToExtended()
