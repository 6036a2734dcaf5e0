"""Exception reason codes and the action a person is asked to take for each."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    DUPLICATE_EVENT = "DUPLICATE_EVENT"
    REPLAY_CONFLICT = "REPLAY_CONFLICT"
    NOT_FINAL = "NOT_FINAL"
    UNKNOWN_ADDRESS = "UNKNOWN_ADDRESS"
    WRONG_CHAIN = "WRONG_CHAIN"
    WRONG_ASSET = "WRONG_ASSET"
    LATE_NO_RATE = "LATE_NO_RATE"
    AFTER_WINDOW = "AFTER_WINDOW"
    DUPLICATE_PAYMENT = "DUPLICATE_PAYMENT"
    SETTLED_ADDRESS = "SETTLED_ADDRESS"
    OVERPAYMENT = "OVERPAYMENT"
    AMBIGUOUS = "AMBIGUOUS"
    NEEDS_REVIEW = "NEEDS_REVIEW"
    UNDERPAID = "UNDERPAID"


SUGGESTED_ACTION: dict[Reason, str] = {
    Reason.DUPLICATE_EVENT: "none: replay of an already recorded transfer, ignored",
    Reason.REPLAY_CONFLICT: "check the chain: same transfer id, different recipient/asset/amount",
    Reason.NOT_FINAL: "wait for confirmation; re-run reconciliation",
    Reason.UNKNOWN_ADDRESS: "identify the payer; apply manually or refund",
    Reason.WRONG_CHAIN: "confirm funds are recoverable on that chain; apply manually or refund",
    Reason.WRONG_ASSET: "value the token received; apply manually, or refund",
    Reason.LATE_NO_RATE: "supply a rate at the block time and re-run, or apply manually",
    Reason.AFTER_WINDOW: "apply manually to an open invoice, keep as credit, or refund",
    Reason.DUPLICATE_PAYMENT: "refund or keep as customer credit",
    Reason.SETTLED_ADDRESS: "apply manually to an open invoice, keep as credit, or refund",
    Reason.OVERPAYMENT: "keep as customer credit or refund the excess",
    Reason.AMBIGUOUS: "choose among the proposed matches",
    Reason.NEEDS_REVIEW: "approve or reject the proposed match",
    Reason.UNDERPAID: "request the remaining amount or write it off with a reason",
}
