"""Watch-only deposit addresses derived from the merchant's account-level xpub.

The merchant exports the xpub of ``m/44'/60'/0'`` (depth 3, hardened account index) from its
wallet; PayBridge derives external-chain children ``0/i`` with BIP-32 public derivation (the
xpub is parsed and checked by bip-utils; the last CKDpub step of each address is done with
coincurve, the secp256k1 library under bip-utils, at a third of the cost) and renders them
EIP-55 checksummed (keccak-256 from pycryptodome). These are the addresses MetaMask and
Trezor show for that account, so the merchant's wallet can spend what arrives while PayBridge
never sees a key that can.

Why the account level: BIP-32 warns that a non-hardened child private key plus its parent xpub
reveals the parent private key, so the xpub we hold must sit below a hardened step.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from paybridge.secrets_guard import base58check_decode, refuse_private_material

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
        from coincurve import PublicKey

        self.xpub = xpub.strip()
        refuse_private_material(self.xpub, where)
        account = _account_key(self.xpub)
        if account is None:  # not the plain case: bip-utils decides, and says what is wrong
            parsed = _parse_account_xpub(self.xpub, where)
            account = parsed.PublicKey().RawCompressed().ToBytes(), parsed.ChainCode().ToBytes()
        key, chain_code = account
        self.fingerprint = hashlib.sha256(key + chain_code).hexdigest()[:32]
        digest = hmac.digest(chain_code, key + EXTERNAL_CHAIN.to_bytes(4, "big"), "sha512")
        try:  # CKDpub to the external chain node m/44'/60'/account'/0
            point = PublicKey(key).add(digest[:32])
        except ValueError:  # pragma: no cover - cryptographically unreachable: bip-utils raises
            _parse_account_xpub(self.xpub, where).ChildKey(EXTERNAL_CHAIN)
            raise
        self._chain_code = digest[32:]
        self._public_key = point.format(compressed=True)
        self._point = point

    def address(self, index: int) -> str:
        """EIP-55 address of ``m/44'/60'/account'/0/index``."""
        _check_index_range(index, 1)
        return self._child_address(index)

    def addresses(self, start: int, count: int) -> list[str]:
        """Addresses for indexes ``start .. start+count-1`` in order."""
        _check_index_range(start, count)
        return [self._child_address(i) for i in range(start, start + count)]

    def _child_address(self, index: int) -> str:
        """BIP-32 CKDpub (non-hardened): I = HMAC-SHA512(c, serP(K) || ser32(i)), child key =
        point(I_L) + K; the address is the last 20 bytes of keccak-256 of the uncompressed key.
        coincurve refuses I_L >= n and the point at infinity (BIP-32: that index is invalid),
        which happens with probability < 2**-127; then bip-utils' own derivation decides."""
        data = self._public_key + index.to_bytes(4, "big")
        digest = hmac.digest(self._chain_code, data, "sha512")
        try:
            child = self._point.add(digest[:32])
        except ValueError:  # pragma: no cover - cryptographically unreachable
            from bip_utils import EthAddrEncoder

            account = _parse_account_xpub(self.xpub, "xpub")
            node = account.ChildKey(EXTERNAL_CHAIN).ChildKey(index)
            return EthAddrEncoder.EncodeKey(node.PublicKey().KeyObject())
        return _eip55(_keccak256(child.format(compressed=False)[1:])[-20:].hex())


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


_HEX_ADDRESS = re.compile(r"(?:0[xX])?([0-9a-fA-F]{40})")


def checksum_address(address: str) -> str:
    """EIP-55 form of a 0x-prefixed 20-byte hex address (any case)."""
    match = _HEX_ADDRESS.fullmatch(address) if isinstance(address, str) else None
    if match is None:
        raise ValueError(f"not a 20-byte hex address: {address!r}")
    return _eip55(match.group(1).lower())


def is_checksummed(address: str) -> bool:
    """True when ``address`` is written in valid EIP-55 mixed case."""
    match = _HEX_ADDRESS.fullmatch(address) if isinstance(address, str) else None
    return match is not None and address == _eip55(match.group(1).lower())


class _Keccak(threading.local):
    """Keccak-256 through pycryptodome's C functions, one reusable state per thread: its
    ``keccak.new(...).digest()`` wrapper costs twice the hash itself, and an address takes
    two (the key, then the EIP-55 checksum). Same library, same digests."""

    _lib: Any = None  # set in each thread on its first hash (pycryptodome loaded then)

    def _start(self) -> None:
        from Crypto.Hash.keccak import _raw_keccak_lib  # here: CLI start-up stays fast
        from Crypto.Util._raw_api import (
            SmartPointer,
            VoidPointer,
            create_string_buffer,
            get_raw_buffer,
        )

        state = VoidPointer()
        if _raw_keccak_lib.keccak_init(state.address_of(), 64, 24):  # capacity 512: 256 bits
            raise RuntimeError("keccak state could not be created")
        self._lib, self._get = _raw_keccak_lib, get_raw_buffer
        self._state = SmartPointer(state.get(), _raw_keccak_lib.keccak_destroy)
        self._out = create_string_buffer(32)

    def digest(self, data: bytes) -> bytes:
        if self._lib is None:
            self._start()
        lib, state, out = self._lib, self._state.get(), self._out
        # padding 0x01: Keccak as Ethereum uses it (not SHA-3's 0x06)
        failed = lib.keccak_absorb(state, data, len(data)) or lib.keccak_digest(state, out, 32, 1)
        lib.keccak_reset(state)
        if failed:
            raise RuntimeError(f"keccak failed ({failed})")
        return self._get(out)


_keccak = _Keccak()


def _keccak256(data: bytes) -> bytes:
    return _keccak.digest(data)


#: hex digit of the digest -> 0x20 where EIP-55 upper-cases (nibble >= 8); of the address ->
#: 0x20 for the letters a-f (digits have no case)
_HIGH_NIBBLE = bytes(0x20 if chr(b) in "89abcdef" else 0 for b in range(256))
_HEX_LETTER = bytes(0x20 if chr(b) in "abcdef" else 0 for b in range(256))


@lru_cache(maxsize=16_384)
def _eip55(lower_hex: str) -> str:
    """EIP-55: upper-case each hex letter whose nibble of keccak-256(lower-case hex) is >= 8.

    Cached: a freshly derived deposit address is checksummed again when its payment link is
    written (``paybridge.eip681``), and that second keccak was a sixth of creating a request.
    The case flip is done on all 40 characters at once: clearing bit 0x20 upper-cases a-f."""
    text = lower_hex.encode("ascii")
    nibbles = _keccak256(text).hex()[:40].encode("ascii")
    flip = int.from_bytes(nibbles.translate(_HIGH_NIBBLE), "big") & int.from_bytes(
        text.translate(_HEX_LETTER), "big"
    )
    return "0x" + (int.from_bytes(text, "big") ^ flip).to_bytes(40, "big").decode("ascii")


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


_XPUB_VERSION = bytes.fromhex("0488b21e")  # BIP-32 mainnet public, what bip-utils accepts


def _account_key(xpub: str) -> tuple[bytes, bytes] | None:
    """(compressed public key, chain code) of a well-formed mainnet account-level xpub, read
    without bip-utils (importing it was most of a CLI command's start-up); None for anything
    else, which ``_parse_account_xpub`` then refuses with bip-utils' own diagnosis. Accepts
    exactly what that path accepts: a valid Base58Check string of 78 bytes, the xpub version,
    depth 3 with a hardened index, and a public key that is a point on secp256k1."""
    from coincurve import PublicKey

    payload = base58check_decode(xpub)
    if payload is None or len(payload) != 78:
        return None
    depth, index = payload[4], int.from_bytes(payload[9:13], "big")
    if payload[:4] != _XPUB_VERSION or depth != ACCOUNT_DEPTH or index < _HARDENED:
        return None
    chain_code, key = payload[13:45], payload[45:78]
    if key[0] not in (2, 3):
        return None
    try:
        point = PublicKey(key)
    except ValueError:
        return None
    return point.format(compressed=True), chain_code


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
