"""Refuse private key material wherever a user could hand it to PayBridge.

PayBridge only ever needs the merchant's *account-level xpub* (``m/44'/60'/0'``) to derive
watch-only deposit addresses. Anything that can spend funds (an extended private key, a BIP-39
seed phrase, a raw secp256k1 private key or a WIF key) is refused with
:class:`PrivateKeyMaterialError` before it is stored, logged or used.

Where the guard applies: configuration values (:func:`scan_mapping`) and command-line arguments
(:func:`scan_arguments`). It is *not* meant for chain data: a raw 64-hex-digit value is
ambiguous (a private key, but also a transaction hash, block hash or a hex HMAC secret), so
running the guard over data files of tx hashes would refuse legitimate records. Config paths
that legitimately hold 32-byte hex (for example a webhook signing secret) can be exempted from
the raw-hex check with ``raw_hex_allowed``; the xprv / mnemonic / WIF checks always apply.

The error message never repeats the offending value, so it is safe to log.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
import unicodedata
from collections.abc import Collection, Iterator, Mapping, Sequence
from functools import cache

__all__ = [
    "MNEMONIC_WORD_COUNTS",
    "TX_HASH_OPTIONS",
    "PrivateKeyMaterialError",
    "detect_private_material",
    "refuse_private_material",
    "scan_arguments",
    "scan_mapping",
]

#: Word counts BIP-39 defines (128..256 bits of entropy).
MNEMONIC_WORD_COUNTS = frozenset({12, 15, 18, 21, 24})

_SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

_BASE58_CHARS = "1-9A-HJ-NP-Za-km-z"
# SLIP-132 / BIP-32 private prefixes: xprv (BIP-44/32), yprv/zprv (BIP-49/84), Yprv/Zprv
# (multisig), tprv/uprv/vprv and Uprv/Vprv (testnet). Matching the prefix alone (with enough
# base58 after it) also catches a truncated or mistyped key, which is still secret.
_EXTENDED_PRIVATE_PREFIX = re.compile(
    rf"(?<![{_BASE58_CHARS}])(?:[xtyzuv]prv|[YZUV]prv)[{_BASE58_CHARS}]{{60,}}"
)
_BASE58_TOKEN = re.compile(rf"[{_BASE58_CHARS}]{{50,}}")
_RAW_HEX_KEY = re.compile(r"(?<![0-9A-Za-z])(?:0[xX])?([0-9a-fA-F]{64})(?![0-9A-Za-z])")
_LIST_NUMBERING = re.compile(r"^\d+[.)]?$")
_TOKEN_PUNCTUATION = ".,;:\"'`()[]{}<>"

_EXTENDED_KEY_LEN = 78  # version 4 | depth 1 | parent fp 4 | index 4 | chain code 32 | key 33
_EXTENDED_KEY_DATA_OFFSET = 45
_WIF_VERSIONS = frozenset({0x80, 0xEF})  # mainnet, testnet


class PrivateKeyMaterialError(ValueError):
    """A config value or CLI argument holds something that can spend funds."""

    def __init__(self, where: str, kind: str) -> None:
        self.where = where
        self.kind = kind
        super().__init__(
            f"{where}: refused, this looks like {kind}. PayBridge never holds private keys: it "
            "only derives watch-only deposit addresses. Give the merchant's account-level xpub "
            "instead (m/44'/60'/0', a string starting with 'xpub'), exported from the wallet; "
            "keep the seed phrase and private keys in the wallet."
        )


def detect_private_material(value: str, *, allow_raw_hex: bool = False) -> str | None:
    """Name the kind of private key material in ``value``, or None when there is none."""
    if not value:
        return None
    if _EXTENDED_PRIVATE_PREFIX.search(value):
        return "an extended private key (xprv)"
    for token in _BASE58_TOKEN.findall(value):
        kind = _classify_base58check(token)
        if kind:
            return kind
    if _looks_like_mnemonic(value):
        return "a BIP-39 seed phrase (mnemonic)"
    if not allow_raw_hex:
        for match in _RAW_HEX_KEY.finditer(value):
            if 0 < int(match.group(1), 16) < _SECP256K1_ORDER:
                return "a raw 32-byte hex private key"
    return None


def refuse_private_material(value: str, where: str, *, allow_raw_hex: bool = False) -> None:
    """Raise :class:`PrivateKeyMaterialError` naming ``where`` if ``value`` is private material.

    Non-string values pass (numbers, booleans, None cannot hold a key we would recognise).
    """
    if not isinstance(value, str):
        return
    kind = detect_private_material(value, allow_raw_hex=allow_raw_hex)
    if kind:
        raise PrivateKeyMaterialError(where, kind)


def scan_mapping(
    obj: object,
    path: str = "",
    *,
    source: str | None = None,
    raw_hex_allowed: Collection[str] = (),
) -> None:
    """Walk nested dict/list config and refuse private material, naming the config path.

    Paths read like ``merchant.xpub`` or ``chains[0].rpc_url``; ``source`` (e.g. the file
    name) prefixes them in the message. ``raw_hex_allowed`` holds fnmatch patterns of paths
    where a 64-hex-digit value is legitimate (e.g. ``webhooks.*.secret``); every other check
    still applies there.
    """
    for where, value in _walk(obj, path):
        allow_hex = any(fnmatch.fnmatchcase(where, pattern) for pattern in raw_hex_allowed)
        label = where or "<config>"
        if source:
            label = f"{source}: {label}"
        refuse_private_material(value, label, allow_raw_hex=allow_hex)


#: Options whose value is a 32-byte hash, exempt from the raw-hex check on the command line.
TX_HASH_OPTIONS = frozenset({"--tx", "--tx-hash", "--block-hash"})


def scan_arguments(
    args: Sequence[str],
    where: str = "command line",
    *,
    hex_options: Collection[str] = TX_HASH_OPTIONS,
) -> None:
    """Refuse private material in CLI arguments, one by one and joined.

    Joining catches an unquoted seed phrase spread over several arguments. A 64-hex-digit
    value is refused unless it is the value of one of ``hex_options`` (``--tx 0x..`` or
    ``--tx=0x..``): a tx hash looks exactly like a private key, so commands that take one
    must take it through such an option, never positionally.
    """
    previous = ""
    for position, arg in enumerate(args, start=1):
        option = arg.split("=", 1)[0] if arg.startswith("--") and "=" in arg else previous
        refuse_private_material(
            arg, f"{where} argument {position}", allow_raw_hex=option in hex_options
        )
        previous = arg
    refuse_private_material(" ".join(args), where, allow_raw_hex=True)


def _walk(obj: object, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(obj, str):
        yield path, obj
    elif isinstance(obj, Mapping):
        for key, child in obj.items():
            yield from _walk(child, f"{path}.{key}" if path else str(key))
    elif isinstance(obj, Sequence) and not isinstance(obj, bytes | bytearray):
        for index, child in enumerate(obj):
            yield from _walk(child, f"{path}[{index}]")


_BASE58_DIGITS = {
    char: value
    for value, char in enumerate("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz")
}


def base58check_decode(text: str) -> bytes | None:
    """The payload of a Base58Check string (Bitcoin alphabet, 4-byte double-SHA-256 checksum),
    or None when it is not one. Here rather than bip-utils' decoder: importing bip-utils was
    most of a command's start-up, and every command scans its arguments and config."""
    number = 0
    for char in text:
        digit = _BASE58_DIGITS.get(char)
        if digit is None:
            return None
        number = number * 58 + digit
    zeros = len(text) - len(text.lstrip("1"))
    raw = b"\0" * zeros + number.to_bytes((number.bit_length() + 7) // 8, "big")
    if len(raw) < 4:
        return None
    payload, checksum = raw[:-4], raw[-4:]
    if hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4] != checksum:
        return None
    return payload


def _classify_base58check(token: str) -> str | None:
    """Recognise serialized extended private keys and WIF keys by their decoded structure."""
    payload = base58check_decode(token)
    if payload is None:  # bad checksum or alphabet: not a key serialization
        return None
    if len(payload) == _EXTENDED_KEY_LEN and payload[_EXTENDED_KEY_DATA_OFFSET] == 0:
        return "an extended private key (xprv)"
    compressed = len(payload) == 34 and payload[-1] == 0x01
    if (len(payload) == 33 or compressed) and payload[0] in _WIF_VERSIONS:
        return "a WIF private key"
    return None


@cache
def _wordlists() -> tuple[frozenset[str], ...]:
    """Each BIP-39 language's words, NFKD-normalised as BIP-39 prescribes."""
    from bip_utils import Bip39Languages
    from bip_utils.bip.bip39.bip39_mnemonic_utils import Bip39WordsListGetter

    getter = Bip39WordsListGetter.Instance()
    lists = []
    for language in Bip39Languages:
        words = getter.GetByLanguage(language)
        lists.append(
            frozenset(
                unicodedata.normalize("NFKD", words.GetWordAtIdx(i)) for i in range(words.Length())
            )
        )
    return tuple(lists)


def _mnemonic_tokens(value: str) -> list[str]:
    tokens = []
    for raw in unicodedata.normalize("NFKD", value).lower().split():
        token = raw.strip(_TOKEN_PUNCTUATION)
        if token and not _LIST_NUMBERING.match(token):  # "1. word 2. word" lists
            tokens.append(token)
    return tokens


def _looks_like_mnemonic(value: str) -> bool:
    """True for a checksum-valid seed phrase, or >= 12 consecutive words of one BIP-39 list.

    The run rule also refuses a phrase with a typo in the checksum word or embedded in a longer
    string; common English prose words ("the", "and", "you") are not in the BIP-39 lists, so
    sentences do not trip it.
    """
    tokens = _mnemonic_tokens(value)
    if len(tokens) < min(MNEMONIC_WORD_COUNTS):
        return False
    if len(tokens) in MNEMONIC_WORD_COUNTS and _checksum_valid(" ".join(tokens)):
        return True
    for words in _wordlists():
        run = 0
        for token in tokens:
            run = run + 1 if token in words else 0
            if run >= min(MNEMONIC_WORD_COUNTS):
                return True
    return False


def _checksum_valid(phrase: str) -> bool:
    from bip_utils import Bip39MnemonicValidator

    try:
        return Bip39MnemonicValidator().IsValid(phrase)
    except Exception:  # unknown language or malformed: the wordlist rule decides
        return False
