"""Payment request rows built for a batch of invoices, before they are written: quote,
deposit address, EIP-681 link, and the audit event of their creation (``service`` inserts them).

Built without the ORM's change tracking and with what a batch shares looked up once: at
thousands of requests a second, per-row attribute sets and repeated configuration, rate and
quote lookups cost more than the insert itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from paybridge_connectors.rates.base import Rate, RateSource
from sqlalchemy.orm import configure_mappers

from paybridge import audit
from paybridge.addresses import WatchOnlyWallet
from paybridge.config import AssetConfig, PayBridgeConfig
from paybridge.eip681 import erc20_transfer_uri, native_payment_uri
from paybridge.invoices import InvoiceRecord
from paybridge.requests.lifecycle import FLAGS, Status
from paybridge.requests.quotes import Quote, make_quote
from paybridge.store.models import PaymentRequest

RateSourceForChain = Callable[[str], RateSource]
M = TypeVar("M")


def new_request_id() -> str:
    return f"pr_{uuid.uuid4().hex[:24]}"


def payment_uri(request: PaymentRequest) -> str:
    if request.asset_address is None:
        uri = native_payment_uri(request.deposit_address, request.chain_id, request.amount_due)
    else:
        uri = erc20_transfer_uri(
            request.asset_address, request.chain_id, request.deposit_address, request.amount_due
        )
    return uri.to_uri()


def created_event(values: dict[str, Any], actor: str, written: dict[int, str]) -> audit.AuditEvent:
    """The audit event of a new request, from the values it was built with (``values``, its
    ``__dict__``: no instrumented attribute read per field): the same fields and text as
    ``{**snapshot(request), **quote_evidence(request)}``. ``written`` memoizes isoformat by
    object (not by equality: equal times in other zones are written differently)."""
    rate_as_of, expires_at = values["rate_as_of"], values["quote_expires_at"]
    as_of_text = written.get(id(rate_as_of))
    if as_of_text is None:
        as_of_text = written[id(rate_as_of)] = rate_as_of.isoformat()
    expires_text = written.get(id(expires_at))
    if expires_text is None:
        expires_text = written[id(expires_at)] = expires_at.isoformat()
    symbol = values["asset_symbol"]
    after = {
        "status": values["status"],
        **{flag: values[flag] for flag in FLAGS},
        "amount_received": str(values["amount_received"]),
        "amount_confirmed": str(values["amount_confirmed"]),
        "deposit_address": values["deposit_address"],
        "derivation_index": str(values["derivation_index"]),
        "amount_due": str(values["amount_due"]),
        "asset": f"{symbol}@{values['chain_id']}",
        "rate": f"{values['rate_price']} {values['currency']}/{symbol}",
        "rate_source": values["rate_source"],
        "rate_as_of": as_of_text,
        "quote_expires_at": expires_text,
    }
    return audit.AuditEvent(
        actor=actor,
        entity_type="payment_request",
        entity_id=values["id"],
        action="create",
        after=after,
        reason=f"invoice {values['erp_system']}/{values['company']}/{values['invoice_id']}",
    )


def build_requests(
    invoices: Sequence[InvoiceRecord],
    indexes: Sequence[int],
    wallet: WatchOnlyWallet,
    config: PayBridgeConfig,
    rates_for_chain: RateSourceForChain,
    when: datetime,
    ids: dict[tuple[str, str, str], str] | None = None,
) -> list[PaymentRequest]:
    """One request per invoice, on the given indexes (consecutive ones derived in one go)."""
    start = indexes[0]
    if list(indexes) == list(range(start, start + len(indexes))):
        addresses = wallet.addresses(start, len(invoices))
    else:
        addresses = [wallet.address(index) for index in indexes]
    batch = RequestBatch(wallet, config, rates_for_chain, when)
    ids = ids or {}
    return [
        batch.request(inv, address, index, ids.get(inv.key))
        for inv, address, index in zip(invoices, addresses, indexes, strict=True)
    ]


class RequestBatch:
    """What the requests of one batch share, looked up once: per (chain, asset, currency) its
    configuration, the batch's one locked rate and the columns that follow from them; per
    distinct amount its quote (``make_quote`` is a pure function of its arguments, which
    within a batch differ by the amount only)."""

    def __init__(
        self,
        wallet: WatchOnlyWallet,
        config: PayBridgeConfig,
        rates_for_chain: RateSourceForChain,
        when: datetime,
    ) -> None:
        self.wallet = wallet
        self.config = config
        self.rates_for_chain = rates_for_chain
        self.when = when
        #: the invoice's (chain, asset, currency) as written -> its pair; the same, resolved
        self.pairs: dict[tuple[str, str, str], tuple[AssetConfig, Rate, dict[str, Any]]] = {}
        self.resolved: dict[tuple[str, str, str], tuple[AssetConfig, Rate, dict[str, Any]]] = {}
        self.quotes: dict[tuple[Any, ...], Quote] = {}
        mapper = PaymentRequest.__mapper__
        if not mapper.configured:  # a fresh process may not have queried yet
            configure_mappers()
        self.new_instance = mapper.class_manager.new_instance

    def _pair(self, invoice: InvoiceRecord) -> tuple[AssetConfig, Rate, dict[str, Any]]:
        """The invoice's asset, the batch's one locked rate for it in the invoice's currency
        (however the invoice spells the chain and asset), and the columns every new request
        of that pair has alike."""
        chain = self.config.chain(invoice.chain)
        asset = self.config.asset(chain.name, invoice.asset_symbol)
        resolved = (chain.name, asset.symbol, invoice.currency)
        known = self.resolved.get(resolved)
        if known is not None:
            return known
        rate = self.rates_for_chain(chain.name).get_rate(asset.symbol, invoice.currency)
        shared = {
            "chain_id": chain.chain_id,
            "asset_symbol": asset.symbol,
            "asset_address": asset.address,
            "asset_decimals": asset.decimals,
            "xpub_fingerprint": self.wallet.fingerprint,
            "rate_price": rate.price,
            "rate_source": describe_source(rate),
            "rate_as_of": rate.as_of,
            "rate_round_id": None if rate.round_id is None else str(rate.round_id),
            "status": Status.NEW.value,
            "paid_partial": False,
            "paid_over": False,
            "paid_late": False,
            "marked": False,
            "amount_received": 0,
            "amount_confirmed": 0,
            "created_at": self.when,
            "updated_at": self.when,
        }
        self.resolved[resolved] = (asset, rate, shared)
        return asset, rate, shared

    def request(
        self, invoice: InvoiceRecord, address: str, index: int, request_id: str | None
    ) -> PaymentRequest:
        """The new request of ``invoice`` on derivation ``index`` (whose address is
        ``address``), built as ``unsaved_row`` builds a row."""
        pair_key = (invoice.chain, invoice.asset_symbol, invoice.currency)
        pair = self.pairs.get(pair_key)
        if pair is None:
            pair = self.pairs[pair_key] = self._pair(invoice)
        asset, rate, shared = pair
        quote_key = (invoice.amount, pair_key)
        quote = self.quotes.get(quote_key)
        if quote is None:
            quote = self.quotes[quote_key] = make_quote(
                invoice.amount, invoice.currency, asset, rate, self.when, self.config.quotes
            )
        request: PaymentRequest = self.new_instance()
        values = request.__dict__
        values.update(shared)
        values["id"] = request_id or new_request_id()
        values["erp_system"] = invoice.erp_system
        values["company"] = invoice.company
        values["invoice_id"] = invoice.invoice_id
        values["customer_id"] = invoice.customer_id
        values["invoice_amount"] = invoice.amount
        values["currency"] = invoice.currency
        values["due_date"] = invoice.due_date
        values["derivation_index"] = index
        values["deposit_address"] = address
        values["amount_due"] = quote.amount_due
        values["quote_expires_at"] = quote.expires_at
        values["monitor_until"] = quote.monitor_until
        values["payment_uri"] = payment_uri(request)
        return request


def unsaved_row(model: type[M], **values: Any) -> M:
    """A ``model`` instance holding ``values``, built without the ORM's change tracking (for a
    request about 30 instrumented attribute sets, a sixth of the time of creating it): the row
    is inserted with Core (``_insert_new``) and then attached as persistent (``_attach``), which
    treats the values as loaded from the database, as the constructor's values would be."""
    mapper = model.__mapper__  # type: ignore[attr-defined]
    if not mapper.configured:  # a fresh process may not have queried yet
        configure_mappers()
    row: M = mapper.class_manager.new_instance()
    row.__dict__.update(values)
    return row


def describe_source(rate: Rate) -> str:
    if rate.feed_address and rate.feed_address not in rate.source:
        return f"{rate.source}:{rate.feed_address}"
    return rate.source


def quote_evidence(request: PaymentRequest) -> dict[str, str]:
    return {
        "deposit_address": request.deposit_address,
        "derivation_index": str(request.derivation_index),
        "amount_due": str(request.amount_due),
        "asset": f"{request.asset_symbol}@{request.chain_id}",
        "rate": f"{request.rate_price} {request.currency}/{request.asset_symbol}",
        "rate_source": request.rate_source,
        "rate_as_of": request.rate_as_of.isoformat(),
        "quote_expires_at": request.quote_expires_at.isoformat(),
    }
