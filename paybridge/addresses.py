"""Watch-only deposit addresses derived from the merchant's account-level xpub.

The merchant exports the xpub of ``m/44'/60'/0'`` (depth 3, hardened account index) from its
wallet; PayBridge derives external-chain children ``0/i`` with BIP-32 public derivation (CKDpub,
done by bip-utils) and renders them EIP-55 checksummed. These are the addresses MetaMask and
Trezor show for that account, so the merchant's wallet can spend what arrives while PayBridge
never sees a key that can.

Why the account level: BIP-32 warns that a non-hardened child private key plus its parent xpub
reveals the parent private key, so the xpub we hold must sit below a hardened step.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import TYPE_CHECKING

from paybridge.secrets_guard import refuse_private_material

if TYPE_CHECKING:  # bip_utils is imported where keys are parsed: CLI start-up stays fast
    from bip_utils import Bip32Secp256k1

__all__ = [
    "ACCOUNT_DEPTH",
    "ANVIL_DEMO_XPUB",
    "EXTERNAL_CHAIN",
    "MAX_ADDRESS_INDEX",
    "InvalidXpubError",
    "WatchOnlyWallet",
    "checksum_address",
    "derive_addresses",
    "is_checksummed",
    "xpub_fingerprint",
]

#: Account xpub (m/44'/60'/0') of anvil's default, publicly known test mnemonic
#: "test test test test test test test test test test test junk". Its children 0/0, 0/1, 0/2
#: are anvil's funded dev accounts. Public data for the demo and tests; never use it for money.
ANVIL_DEMO_XPUB = (
    "xpub6Ce9NcJvTk36xtLSrJLZqE7wtgA5deCeYs7rSQtreh4cj6ByPtrg9sD7V2FNFLPnf8heNP3FGkeV9qwfzv"
    "ZNSd54JoNXVsXFYSYwHsnJxqP"
)

ACCOUNT_DEPTH = 3  # m / purpose' / coin_type' / account'
EXTERNAL_CHAIN = 0  # BIP-44 change = 0: receiving addresses
MAX_ADDRESS_INDEX = 2**31 - 1  # non-hardened indexes only (public derivation)
_HARDENED = 2**31


class InvalidXpubError(ValueError):
    """The value is not a usable account-level Ethereum xpub."""


class WatchOnlyWallet:
    """One merchant account xpub with its external-chain node (``.../0``) derived once.

    Deriving the change node once and then only the last step is what makes bulk derivation
    cheap: one CKDpub and one keccak per address.
    """

    def __init__(self, xpub: str, *, where: str = "xpub") -> None:
        self.xpub = xpub.strip()
        account = _parse_account_xpub(self.xpub, where)
        self._external_chain = account.ChildKey(EXTERNAL_CHAIN)
        self.fingerprint = _fingerprint_of(account)

    def address(self, index: int) -> str:
        """EIP-55 address of ``m/44'/60'/account'/0/index``."""
        from bip_utils import EthAddrEncoder

        _check_index_range(index, 1)
        child = self._external_chain.ChildKey(index)
        return EthAddrEncoder.EncodeKey(child.PublicKey().KeyObject())

    def addresses(self, start: int, count: int) -> list[str]:
        """Addresses for indexes ``start .. start+count-1`` in order."""
        from bip_utils import EthAddrEncoder

        _check_index_range(start, count)
        node = self._external_chain
        return [
            EthAddrEncoder.EncodeKey(node.ChildKey(i).PublicKey().KeyObject())
            for i in range(start, start + count)
        ]


@lru_cache(maxsize=64)
def _wallet(xpub: str) -> WatchOnlyWallet:
    return WatchOnlyWallet(xpub)


def derive_addresses(xpub: str, start: int, count: int) -> list[str]:
    """EIP-55 deposit addresses ``0/start .. 0/start+count-1`` under the account xpub."""
    return _wallet(xpub.strip()).addresses(start, count)


def xpub_fingerprint(xpub: str) -> str:
    """Stable id of the key an xpub serializes, for index allocation.

    sha256 over public key + chain code (which fully determine every child) rather than the
    serialization, so the same key written with different version bytes or parent metadata is
    one allocation space. 128 bits, unlike BIP-32's 32-bit fingerprint which can collide.
    """
    return _wallet(xpub.strip()).fingerprint


def checksum_address(address: str) -> str:
    """EIP-55 form of a 0x-prefixed 20-byte hex address (any case)."""
    from eth_utils import to_checksum_address  # eth_utils: 0.1-0.3 s to import

    try:
        return to_checksum_address(address)
    except ValueError as exc:
        raise ValueError(f"not a 20-byte hex address: {address!r}") from exc


def is_checksummed(address: str) -> bool:
    """True when ``address`` is written in valid EIP-55 mixed case."""
    from eth_utils import is_checksum_address

    return is_checksum_address(address)


def _parse_account_xpub(xpub: str, where: str) -> Bip32Secp256k1:
    from bip_utils import Base58ChecksumError, Bip32KeyError, Bip32Secp256k1

    refuse_private_material(xpub, where)
    try:
        key = Bip32Secp256k1.FromExtendedKey(xpub)
    except (Bip32KeyError, Base58ChecksumError, ValueError) as exc:
        raise InvalidXpubError(
            f"{where}: not a valid extended public key ({exc}); expected the account-level "
            "xpub of m/44'/60'/0' exported from the merchant's wallet"
        ) from exc
    if not key.IsPublicOnly():  # unreachable after the guard, kept as a hard stop
        raise InvalidXpubError(f"{where}: private extended key refused")
    depth, index = key.Depth().ToInt(), key.Index().ToInt()
    if depth != ACCOUNT_DEPTH or index < _HARDENED:
        raise InvalidXpubError(
            f"{where}: expected an account-level xpub (depth {ACCOUNT_DEPTH}, hardened index, "
            f"path m/44'/60'/0'), got depth {depth} index {_format_index(index)}; export the "
            "account xpub, not the master key or an address-level key"
        )
    return key


def _fingerprint_of(key: Bip32Secp256k1) -> str:
    material = key.PublicKey().RawCompressed().ToBytes() + key.ChainCode().ToBytes()
    return hashlib.sha256(material).hexdigest()[:32]


def _format_index(index: int) -> str:
    return f"{index - _HARDENED}'" if index >= _HARDENED else str(index)


def _check_index_range(start: int, count: int) -> None:
    if isinstance(start, bool) or not isinstance(start, int) or start < 0:
        raise ValueError(f"address index must be an int >= 0, got {start!r}")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"address count must be an int >= 1, got {count!r}")
    if start + count - 1 > MAX_ADDRESS_INDEX:
        raise ValueError(
            f"address indexes {start}..{start + count - 1} exceed {MAX_ADDRESS_INDEX} "
            "(hardened indexes cannot be derived from an xpub)"
        )
