"""EIP-681 payment request URIs: build them for payment requests, parse them exactly.

Grammar (EIP-681)::

    request        = "ethereum" ":" [ "pay-" ] target_address [ "@" chain_id ]
                     [ "/" function_name ] [ "?" parameters ]
    number         = [ "-" / "+" ] *DIGIT [ "." 1*DIGIT ] [ ( "e" / "E" ) [ 1*DIGIT ] ]

What we build always carries ``@chainId`` (some wallets otherwise stay on their current
network) and EIP-55 addresses. Numbers are parsed with integer arithmetic only, so
``2.014e18`` is exactly 2014000000000000000; a number that is not a whole count of base units
is an error, never rounded. The parser keeps every raw component, so ``str(parse(u)) == u`` for
well-formed URIs, including the spec's own example whose address is not EIP-55 valid.

Wallets treat the amount as a suggestion the payer may edit; show :func:`describe_amount`
beside the QR code and reconcile on what actually arrives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote

from paybridge.addresses import checksum_address
from paybridge.domain.amounts import format_base_units, format_token
from paybridge.domain.money import MAX_UINT256

__all__ = [
    "MAX_UINT256",
    "InvalidPaymentUriError",
    "PaymentUri",
    "describe_amount",
    "erc20_transfer_uri",
    "format_base_units",
    "format_number",
    "native_payment_uri",
    "parse_number",
    "parse_payment_uri",
]

SCHEME = "ethereum"
PAY_PREFIX = "pay-"
NUMBER_KEYS = frozenset({"value", "gas", "gasLimit", "gasPrice"})

_HEX_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
# ENS names: dot-separated labels without URI delimiters (resolution is the payer's job).
_ENS_NAME = re.compile(r"^[^\s/@?&=#:]+\.[^\s/@?&=#:]+$")
_NUMBER = re.compile(r"^([+-]?)(\d*)(?:\.(\d+))?(?:[eE](\d*))?$")
_INT_TYPE = re.compile(r"^(u?)int(\d*)$")
_MAX_EXPONENT = 200  # far above 2**256 (~1.2e77); stops "1e999999999" from eating memory
_MAX_DIGITS = 200


class InvalidPaymentUriError(ValueError):
    """The string is not a well-formed EIP-681 URI (the message names the part)."""


@dataclass(frozen=True)
class PaymentUri:
    """One EIP-681 request. ``parameters`` keeps raw ``(key, value)`` pairs in URI order."""

    target: str
    chain_id: int | None = None
    function_name: str | None = None
    parameters: tuple[tuple[str, str], ...] = ()
    pay_prefix: bool = False

    def __str__(self) -> str:
        return self.to_uri()

    def to_uri(self) -> str:
        uri = f"{SCHEME}:{PAY_PREFIX if self.pay_prefix else ''}{self.target}"
        if self.chain_id is not None:
            uri += f"@{self.chain_id}"
        if self.function_name is not None:
            uri += f"/{self.function_name}"
        if self.parameters:
            uri += "?" + "&".join(f"{key}={value}" for key, value in self.parameters)
        return uri

    def get(self, key: str) -> str | None:
        """First value of ``key``, percent-decoded; None when absent."""
        for name, value in self.parameters:
            if name == key:
                return unquote(value)
        return None

    def _number(self, *keys: str) -> int | None:
        for key in keys:
            raw = self.get(key)
            if raw is not None:
                return parse_number(raw)
        return None

    @property
    def value(self) -> int | None:
        """Native amount in wei (``value``), exact."""
        return self._number("value")

    @property
    def gas_limit(self) -> int | None:
        """Suggested gas limit; ``gas`` is a synonym of ``gasLimit``."""
        return self._number("gasLimit", "gas")

    @property
    def gas_price(self) -> int | None:
        return self._number("gasPrice")

    @property
    def is_erc20_transfer(self) -> bool:
        return self.function_name == "transfer" and self.get("address") is not None

    @property
    def token(self) -> str | None:
        """Token contract for an ERC-20 transfer request, else None (native coin)."""
        return self.target if self.is_erc20_transfer else None

    @property
    def recipient(self) -> str:
        """Who receives the funds: the ``address`` argument of a transfer, else the target."""
        if self.is_erc20_transfer:
            return self.get("address") or ""
        return self.target

    @property
    def amount(self) -> int | None:
        """Requested amount in base units (token ``uint256`` or native ``value``)."""
        return self._number("uint256") if self.is_erc20_transfer else self.value


def erc20_transfer_uri(
    token: str,
    chain_id: int,
    deposit: str,
    amount: int,
    *,
    exponent: int | None = None,
) -> PaymentUri:
    """``ethereum:<token>@<chainId>/transfer?address=<deposit>&uint256=<base units>``.

    ``exponent`` (the token's decimals) writes the amount in scientific notation, which the
    EIP recommends and MetaMask mobile prefers; default is plain base units.
    """
    _check_amount(amount)
    return PaymentUri(
        target=_checksummed(token, "token"),
        chain_id=_check_chain_id(chain_id),
        function_name="transfer",
        parameters=(
            ("address", _checksummed(deposit, "deposit address")),
            ("uint256", format_number(amount, exponent)),
        ),
    )


def native_payment_uri(
    deposit: str, chain_id: int, wei: int, *, exponent: int | None = None
) -> PaymentUri:
    """``ethereum:<deposit>@<chainId>?value=<wei>``."""
    _check_amount(wei)
    return PaymentUri(
        target=_checksummed(deposit, "deposit address"),
        chain_id=_check_chain_id(chain_id),
        parameters=(("value", format_number(wei, exponent)),),
    )


def parse_payment_uri(uri: str) -> PaymentUri:
    """Parse and validate an EIP-681 URI; numbers are checked exactly, never as floats."""
    text = uri.strip()
    scheme, sep, rest = text.partition(":")
    if not sep or scheme.lower() != SCHEME:
        raise InvalidPaymentUriError(f"{uri!r}: scheme must be '{SCHEME}:'")
    pay_prefix = rest.startswith(PAY_PREFIX)
    if pay_prefix:
        rest = rest[len(PAY_PREFIX) :]
    head, has_query, query = rest.partition("?")
    head, has_function, function_name = head.partition("/")
    target, has_chain, chain = head.partition("@")
    _check_target(target, uri)
    chain_id = None
    if has_chain:
        if not chain.isdigit() or not chain.isascii():
            raise InvalidPaymentUriError(f"{uri!r}: chain id must be decimal digits, got {chain!r}")
        chain_id = int(chain)
    if has_function and not function_name:
        raise InvalidPaymentUriError(f"{uri!r}: empty function name after '/'")
    parameters: list[tuple[str, str]] = []
    if has_query:
        if not query:
            raise InvalidPaymentUriError(f"{uri!r}: empty parameter list after '?'")
        for part in query.split("&"):
            key, has_eq, value = part.partition("=")
            if not key or not has_eq:
                raise InvalidPaymentUriError(f"{uri!r}: parameter {part!r} is not key=value")
            _check_parameter(key, value, uri)
            parameters.append((key, value))
    return PaymentUri(
        target=target,
        chain_id=chain_id,
        function_name=function_name if has_function else None,
        parameters=tuple(parameters),
        pay_prefix=pay_prefix,
    )


def parse_number(text: str) -> int:
    """Exact integer value of an EIP-681 ``number`` (``2.014e18`` -> 2014000000000000000)."""
    match = _NUMBER.match(text)
    if not match or not (match.group(2) or match.group(3)):
        raise InvalidPaymentUriError(f"{text!r} is not an EIP-681 number")
    sign, whole, fraction, exponent_text = match.groups()
    fraction = fraction or ""
    if len(exponent_text or "") > 3 or int(exponent_text or 0) > _MAX_EXPONENT:
        raise InvalidPaymentUriError(f"{text!r}: exponent too large")
    if len((whole or "") + fraction) > _MAX_DIGITS:
        raise InvalidPaymentUriError(f"{text!r}: too many digits")
    shift = int(exponent_text or 0) - len(fraction)
    digits = int((whole or "0") + fraction)
    if shift >= 0:
        magnitude = digits * 10**shift
    else:
        magnitude, remainder = divmod(digits, 10**-shift)
        if remainder:
            raise InvalidPaymentUriError(
                f"{text!r} is not a whole number of base units (EIP-681 allows integers only)"
            )
    return -magnitude if sign == "-" else magnitude


def format_number(amount: int, exponent: int | None = None) -> str:
    """Write ``amount`` plainly, or as ``<mantissa>e<exponent>`` exactly (20000000, 6 -> 20e6)."""
    if exponent is None or exponent == 0:
        return str(amount)
    if exponent < 0:
        raise ValueError(f"exponent must be >= 0, got {exponent}")
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), 10**exponent)
    if not fraction:
        return f"{sign}{whole}e{exponent}"
    fraction_text = str(fraction).rjust(exponent, "0").rstrip("0")
    return f"{sign}{whole}.{fraction_text}e{exponent}"


def describe_amount(base_units: int, decimals: int, symbol: str) -> str:
    """The label shown beside the QR code, e.g. ``'1,234.50 USDC'`` (``domain.amounts`` rule)."""
    return format_token(base_units, decimals, symbol)


def _check_target(target: str, uri: str) -> None:
    if target.lower().startswith("0x"):
        if not _HEX_ADDRESS.match(target):
            raise InvalidPaymentUriError(
                f"{uri!r}: target {target!r} is not 0x followed by 40 hex digits"
            )
    elif not _ENS_NAME.match(target):
        raise InvalidPaymentUriError(
            f"{uri!r}: target {target!r} is neither a hex address nor an ENS name"
        )


def _check_parameter(key: str, value: str, uri: str) -> None:
    """Validate values whose type the key fixes; other keys are kept as opaque strings."""
    try:
        if key in NUMBER_KEYS:
            if not 0 <= parse_number(value) <= MAX_UINT256:
                raise InvalidPaymentUriError(f"{value!r} is outside 0..2**256-1")
            return
        int_type = _INT_TYPE.match(key)
        if int_type:
            _check_int_range(parse_number(value), int_type)
        elif key == "address":
            _check_target(unquote(value), uri)
    except InvalidPaymentUriError as exc:
        raise InvalidPaymentUriError(f"{uri!r}: parameter {key}: {exc}") from None


def _check_int_range(number: int, abi_type: re.Match[str]) -> None:
    """uintN / intN values must fit their ABI type (N defaults to 256)."""
    name, size = abi_type.group(0), int(abi_type.group(2) or 256)
    if size % 8 or not 8 <= size <= 256:
        raise InvalidPaymentUriError(f"unknown ABI integer type {name!r}")
    if abi_type.group(1):  # unsigned
        low, high = 0, 2**size - 1
    else:
        low, high = -(2 ** (size - 1)), 2 ** (size - 1) - 1
    if not low <= number <= high:
        raise InvalidPaymentUriError(f"{number} is outside the {name} range")


def _check_amount(amount: int) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError(f"amount must be an int of base units, got {type(amount).__name__}")
    if not 0 < amount <= MAX_UINT256:
        raise ValueError(f"amount must be between 1 and 2**256-1 base units, got {amount}")


def _check_chain_id(chain_id: int) -> int:
    if isinstance(chain_id, bool) or not isinstance(chain_id, int) or chain_id < 1:
        raise ValueError(f"chain id must be a positive int, got {chain_id!r}")
    return chain_id


@lru_cache(maxsize=4096)
def _checksummed(address: str, what: str) -> str:
    """EIP-55 form; a mixed-case address with a wrong checksum is a typo, so it is refused.

    One keccak per address (cached: token addresses repeat on every link).
    """
    if not _HEX_ADDRESS.match(address):
        raise ValueError(f"{what} {address!r} is not 0x followed by 40 hex digits")
    checksummed = checksum_address(address)
    body = address[2:]
    if body != body.lower() and body != body.upper() and address != checksummed:
        raise ValueError(f"{what} {address!r} has an invalid EIP-55 checksum (typo?)")
    return checksummed
