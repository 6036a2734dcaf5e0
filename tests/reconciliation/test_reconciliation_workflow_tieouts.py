"""Exception workflow (maker-checker, audit events, limits) and auditor tie-outs."""

from __future__ import annotations

import pandas as pd
import pytest
from paybridge_reconciliation.result import reconcile
from paybridge_reconciliation.tieouts import differences, subledger_vs_chain, subledger_vs_erp
from paybridge_reconciliation.workflow import (
    Action,
    MakerCheckerError,
    ResolutionBook,
    ResolutionState,
    WorkflowError,
)
from recon_frames import addr, receipts_frame, requests_frame

M = 1_000_000


@pytest.fixture
def queue() -> pd.DataFrame:
    result = reconcile(
        requests_frame([{"request_id": "R1", "due": 100 * M}, {"request_id": "R2", "due": 40 * M}]),
        receipts_frame([{"to": addr(1), "amount": 103 * M}, {"to": addr(55), "amount": 40 * M}]),
    )
    return result.exceptions


def exception_id(queue: pd.DataFrame, reason: str) -> str:
    return queue.loc[queue["reason"] == reason, "exception_id"].iloc[0]


def test_proposer_cannot_approve_and_events_are_audited(queue):
    sink = []
    book = ResolutionBook(queue, audit=sink.append)
    unknown = exception_id(queue, "UNKNOWN_ADDRESS")
    res = book.propose(unknown, Action.APPLY, 40 * M, by="alice", request_id="R2")
    with pytest.raises(MakerCheckerError):
        book.approve(res.resolution_id, by="alice")
    approved = book.approve(res.resolution_id, by="bob")
    assert approved.state == ResolutionState.APPROVED and approved.approved_by == "bob"
    assert [e.action for e in sink] == ["propose", "approved"]
    assert sink[1].actor == "bob" and sink[1].before["state"] == "proposed"
    frame = book.frame()
    assert frame[["proposed_by", "approved_by"]].values.tolist() == [["alice", "bob"]]


def test_propose_is_idempotent_and_bounded_by_unresolved_amount(queue):
    book = ResolutionBook(queue)
    over = exception_id(queue, "OVERPAYMENT")
    first = book.propose(over, Action.CUSTOMER_CREDIT, 2 * M, by="alice")
    assert book.propose(over, Action.CUSTOMER_CREDIT, 2 * M, by="alice") == first
    with pytest.raises(WorkflowError, match="exceeds"):
        book.propose(over, Action.REFUND, 2 * M, by="alice", refund_address=addr(9))
    refund = book.propose(over, Action.REFUND, 1 * M, by="alice", refund_address=addr(9))
    book.reject(refund.resolution_id, by="carol")
    # a rejected resolution frees its amount again
    book.propose(over, Action.WRITE_OFF, 1 * M, by="dave", reason="BANK_FEE")


@pytest.mark.parametrize(
    ("action", "kwargs", "message"),
    [
        (Action.APPLY, {}, "request_id"),
        (Action.WRITE_OFF, {}, "reason"),
        (Action.REFUND, {}, "address"),
    ],
)
def test_each_action_needs_its_details(queue, action, kwargs, message):
    book = ResolutionBook(queue)
    with pytest.raises(WorkflowError, match=message):
        book.propose(exception_id(queue, "OVERPAYMENT"), action, M, by="alice", **kwargs)


def test_unknown_exception_and_decided_twice(queue):
    book = ResolutionBook(queue)
    with pytest.raises(WorkflowError, match="not in this queue"):
        book.propose("nope", Action.CUSTOMER_CREDIT, 1, by="alice")
    res = book.propose(exception_id(queue, "OVERPAYMENT"), Action.CUSTOMER_CREDIT, M, by="alice")
    book.approve(res.resolution_id, by="bob")
    assert book.approve(res.resolution_id, by="bob").state == ResolutionState.APPROVED  # retry
    with pytest.raises(WorkflowError, match="already approved"):
        book.reject(res.resolution_id, by="carol")


def test_subledger_vs_chain_lists_differences():
    inflows = pd.DataFrame(
        {
            "chain_id": [1, 1, 1],
            "address": [addr(1), addr(1), addr(2)],
            "asset": ["native"] * 3,
            "block_number": [10, 20, 10],
            "amount": [5 * 10**18, 2**70, 7],
        }
    )
    outflows = pd.DataFrame(
        {
            "chain_id": [1],
            "address": [addr(1)],
            "asset": ["native"],
            "block_number": [15],
            "amount": [10**18],
        }
    )
    balances = pd.DataFrame(
        {
            "chain_id": [1, 1, 1],
            "address": [addr(1).upper().replace("0X", "0x"), addr(1), addr(2)],
            "asset": ["native"] * 3,
            "block_number": [15, 25, 25],
            "balance": [4 * 10**18, 4 * 10**18 + 2**70, 6],
        }
    )
    result = subledger_vs_chain(inflows, balances, outflows)
    assert result["status"].tolist() == ["ok", "ok", "DIFFERENCE"]
    diff = differences(result)
    assert diff["difference"].tolist() == ["-1"]


def test_subledger_vs_erp_flags_every_kind_of_difference():
    result = reconcile(
        requests_frame([{"request_id": f"R{i}", "due": 100 * M} for i in range(1, 6)]),
        receipts_frame([{"to": addr(i), "amount": 100 * M, "n": i} for i in range(1, 6)]),
    )
    erp = pd.DataFrame(
        {
            "request_id": ["R1", "R2", "R3", "R3", "R4", "R9"],
            "document_id": ["D1", "D2", "D3", "D3b", "D4", "D9"],
            "amount": ["100.00", "99.99", "100.00", "100.00", "100.00", "5.00"],
            "cleared": [True, True, True, True, False, True],
        }
    )
    tie = subledger_vs_erp(result.journals, erp)
    status = dict(zip(tie["key"], tie["status"], strict=True))
    assert status == {
        "R1": "ok",
        "R2": "AMOUNT_MISMATCH",
        "R3": "DUPLICATE_IN_ERP",
        "R4": "NOT_CLEARED",
        "R5": "MISSING_IN_ERP",
        "R9": "UNKNOWN_IN_ERP",
    }
    assert tie.loc[tie["key"] == "R2", "difference"].item() == "-0.01"
