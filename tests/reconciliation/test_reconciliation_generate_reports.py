"""Scenario generator (seeded, with ground truth) and report contents."""

from __future__ import annotations

import zipfile

import pandas as pd
from openpyxl import load_workbook
from paybridge_reconciliation.config import ReconConfig
from paybridge_reconciliation.generate import generate, main
from paybridge_reconciliation.reports import write_reports
from paybridge_reconciliation.result import reconcile
from paybridge_reconciliation.tieouts import TIE_OUT_COLUMNS


def test_same_seed_same_scenario_and_every_kind_present():
    a, b = generate(3, 2000), generate(3, 2000)
    assert a.receipts.astype(str).equals(b.receipts.astype(str))
    assert a.truth.astype(str).equals(b.truth.astype(str))
    kinds = set(a.truth_status["kind"])
    assert {
        "exact",
        "tolerance",
        "partial",
        "split",
        "over",
        "late",
        "wrong_token",
        "wrong_chain",
        "unknown_address",
        "duplicate_payment",
        "duplicate_event",
        "not_final",
        "unpaid",
        "batch",
        "reuse",
        "tie",
    } <= kinds
    assert not generate(4, 2000).receipts.astype(str).equals(a.receipts.astype(str))


def test_ground_truth_amounts_are_what_was_sent():
    s = generate(5, 1000)
    sent = dict(zip(s.receipts["tx_hash"], s.receipts["amount"], strict=False))
    per_tx = s.truth.groupby("tx_hash")["amount"].apply(lambda v: sum(int(x) for x in v))
    # a transfer never pays out more than it carried (over-payments keep the excess)
    assert all(per_tx[t] <= int(sent[t]) for t in per_tx.index)


def test_generator_cli_writes_inputs_and_truth(tmp_path):
    main(["--seed", "2", "--requests", "50", "--out", str(tmp_path)])
    for name in (
        "requests.csv",
        "receipts.csv",
        "rates.csv",
        "truth_matches.csv",
        "truth_requests.csv",
    ):
        assert (tmp_path / name).stat().st_size > 0
    assert len(pd.read_csv(tmp_path / "requests.csv")) == 50


def test_workbook_carries_tie_outs_and_manual_resolutions(tmp_path):
    s = generate(9, 200)
    result = reconcile(s.requests, s.receipts, s.rates)
    tie = pd.DataFrame(
        [["subledger_vs_erp", "R1", "1.00", "", "", "MISSING_IN_ERP", ""]], columns=TIE_OUT_COLUMNS
    )
    manual = pd.DataFrame(
        [
            {
                "resolution_id": "RES-1",
                "exception_id": "X",
                "action": "refund",
                "request_id": "",
                "amount": "5",
                "reason": "",
                "proposed_by": "alice",
                "approved_by": "bob",
                "state": "approved",
            }
        ]
    )
    names = write_reports(result, ReconConfig(), tmp_path, tie, manual)
    assert names == ["report.html", "report.pdf", "report.xlsx"]
    book = load_workbook(tmp_path / "report.xlsx", read_only=True)
    assert book.sheetnames == [
        "summary",
        "totals",
        "request_status",
        "matches",
        "exceptions",
        "journals",
        "tie_outs",
        "manual_resolutions",
    ]
    rows = list(book["manual_resolutions"].iter_rows(values_only=True))
    assert rows[1][6:8] == ("alice", "bob")
    assert list(book["tie_outs"].iter_rows(values_only=True))[1][5] == "MISSING_IN_ERP"
    with zipfile.ZipFile(tmp_path / "report.xlsx") as z:
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in z.infolist())
