"""Customers paying their requests from anvil's funded dev accounts, the way wallets do."""

from __future__ import annotations

from dataclasses import dataclass

from web3 import Web3

from paybridge.devchain import DevContracts, wait_receipt
from paybridge.store.models import PaymentRequest

PAYER_ACCOUNTS = range(5, 10)  # anvil accounts 5..9; never a demo deposit address


@dataclass(frozen=True)
class Payment:
    invoice_id: str
    how: str
    amount: int
    tx_hash: str


def fund_payers(w3: Web3, contracts: DevContracts) -> None:
    owner = w3.eth.accounts[0]
    for index in PAYER_ACCOUNTS:
        mint = contracts.usdc.functions.mint(w3.eth.accounts[index], 10**12)
        wait_receipt(w3, mint.transact({"from": owner}))
        mint18 = contracts.token18.functions.mint(w3.eth.accounts[index], 10**24)
        wait_receipt(w3, mint18.transact({"from": owner}))


def pay(
    w3: Web3,
    contracts: DevContracts,
    request: PaymentRequest,
    amount: int,
    how: str,
    payer: int = 5,
) -> Payment:
    """Send ``amount`` base units of the request's asset to its deposit address."""
    sender = w3.eth.accounts[payer]
    if request.asset_address is None:
        tx = w3.eth.send_transaction(
            {"from": sender, "to": request.deposit_address, "value": amount}
        )
    else:
        token = contracts.usdc if request.asset_symbol == "USDC" else contracts.token18
        tx = token.functions.transfer(request.deposit_address, amount).transact({"from": sender})
    receipt = wait_receipt(w3, tx)
    return Payment(request.invoice_id, how, amount, receipt["transactionHash"].to_0x_hex())


def pay_like_customers(
    w3: Web3, contracts: DevContracts, requests: list[PaymentRequest]
) -> list[Payment]:
    """Most pay exactly; one pays short, one a little short (inside the tolerance, written off),
    one pays too much, one never pays."""
    payments = []
    plan = ["exact", "short", "within", "over", "exact", "exact", "exact", "exact", "none"]
    for request, how in zip(requests, plan * (len(requests) // len(plan) + 1), strict=False):
        amount = {
            "exact": request.amount_due,
            "short": request.amount_due // 2,
            "within": request.amount_due - request.amount_due // 1000,  # 0.1% short
            "over": request.amount_due + request.amount_due // 10,
            "none": 0,
        }[how]
        if amount:
            payments.append(pay(w3, contracts, request, amount, how))
    w3.provider.make_request("anvil_mine", [hex(4)])  # let the payments reach finality
    return payments
