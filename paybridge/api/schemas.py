"""Response shapes, declared so the OpenAPI document says exactly what the API answers."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class PaymentDetails(BaseModel):
    address: str = Field(description="Deposit address (EIP-55)")
    amount: str = Field(description="Amount due in whole tokens, exact decimal text")
    amount_base_units: str = Field(description="Amount due in base units (wei, 10^-6 USDC)")
    asset: str
    asset_address: str | None = Field(description="ERC-20 contract; null for the native coin")
    decimals: int
    network: str
    chain_id: int
    uri: str = Field(description="EIP-681 payment URI")
    qr_svg_url: str
    qr_png_url: str
    expires_at: str = Field(description="Quote lock expiry (ISO 8601, UTC)")
    rate: str = Field(description="Price of one token in the pricing currency")
    rate_source: str


class InvoiceRef(BaseModel):
    erp_system: str
    company: str
    invoice_id: str
    customer_id: str


class Payment(BaseModel):
    payment_id: str
    status: Literal["new", "detected", "confirmed", "completed", "expired", "invalid"]
    flags: list[str]
    source: Literal["api", "erp"]
    amount: str = Field(description="Order amount in `currency`")
    currency: str = Field(description="Pricing currency (ISO 4217) or the asset itself")
    payment_details: PaymentDetails
    amount_received_base_units: str
    payment_url: str
    created_at: str
    description: str | None
    metadata: dict[str, Any]
    invoice: InvoiceRef | None = Field(description="The ERP invoice (ERP-sourced payments)")


class PaymentPage(BaseModel):
    data: list[Payment]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page")
