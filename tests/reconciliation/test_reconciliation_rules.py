"""One focused test per rule, reason code and accounting outcome, on hand-built scenarios."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest
from paybridge_reconciliation.config import ReconConfig, ToleranceGroup
from paybridge_reconciliation.result import reconcile
from recon_frames import OTHER, USDC, addr, rates_frame, receipts_frame, requests_frame

M = 1_000_000  # one USDC in base units


def run(requests, receipts, rates=None, config=None):
    return reconcile(
        requests_frame(requests),
        receipts_frame(receipts),
        rates_frame(rates) if rates else None,
        config,
    )


def status_of(result, request_id: str) -> str:
    st = result.requests_status.set_index("request_id")
    return st.loc[request_id, "status"]


def journal_lines(result, request_id: str) -> pd.DataFrame:
    return result.journals[result.journals["request_id"] == request_id]


def assert_balanced(result) -> None:
    j = result.journals
    for journal_id, lines in j.groupby("journal_id"):
        debit = sum(Decimal(v) for v in lines["debit"])
        credit = sum(Decimal(v) for v in lines["credit"])
        assert debit == credit, journal_id


def test_exact_payment_clears_and_books_balanced_journals():
    result = run([{"request_id": "R1", "due": 100 * M}], [{"to": addr(1), "amount": 100 * M}])
    assert status_of(result, "R1") == "paid"
    (match,) = result.matches.itertuples()
    assert (match.rule, match.decision, match.amount_applied) == (
        "own_address",
        "auto",
        str(100 * M),
    )
    assert match.explorer_url.startswith("https://etherscan.io/tx/0x")
    lines = journal_lines(result, "R1")
    ar = lines[lines["account"].str.contains("receivable")]
    assert ar["credit"].tolist() == ["100.00"]
    assert result.exceptions.empty
    assert_balanced(result)


def test_shortfall_within_tolerance_is_written_off_with_reason_code():
    # default tolerance: min(1.00, 0.5%) -> 0.50 USD on a 100.00 invoice
    result = run(
        [{"request_id": "R1", "due": 100 * M}], [{"to": addr(1), "amount": 100 * M - 400_000}]
    )
    assert status_of(result, "R1") == "paid_within_tolerance"
    lines = journal_lines(result, "R1")
    write_off = lines[lines["account"].str.contains("Payment differences")]
    assert write_off["debit"].tolist() == ["0.40"]
    assert write_off["reason_code"].tolist() == ["PAYMENT_DIFFERENCE"]
    assert lines[lines["account"].str.contains("receivable")]["credit"].tolist() == ["100.00"]
    assert_balanced(result)


def test_shortfall_outside_tolerance_is_partial_and_queued():
    result = run([{"request_id": "R1", "due": 100 * M}], [{"to": addr(1), "amount": 60 * M}])
    assert status_of(result, "R1") == "partial"
    (exc,) = result.exceptions.itertuples()
    assert exc.reason == "UNDERPAID" and exc.remaining_due == str(40 * M)
    lines = journal_lines(result, "R1")
    assert lines[lines["account"].str.contains("receivable")]["credit"].tolist() == ["60.00"]
    assert_balanced(result)


def test_customer_group_tolerance_the_stricter_limit_wins():
    config = ReconConfig(
        tolerance_groups={
            "default": ToleranceGroup(absolute=Decimal("1.00"), percent=Decimal("0.5")),
            "strict": ToleranceGroup(absolute=Decimal("0.10"), percent=Decimal("5")),
        },
        customer_groups={"C2": "strict"},
    )
    result = run(
        [
            {"request_id": "R1", "due": 100 * M},
            {"request_id": "R2", "customer_id": "C2", "due": 100 * M},
        ],
        [
            {"to": addr(1), "amount": 100 * M - 400_000},
            {"to": addr(2), "amount": 100 * M - 400_000},
        ],
        config=config,
    )
    assert status_of(result, "R1") == "paid_within_tolerance"
    assert status_of(result, "R2") == "partial"


def test_split_payment_two_receipts_one_request():
    result = run(
        [{"request_id": "R1", "due": 100 * M}],
        [{"to": addr(1), "amount": 30 * M}, {"to": addr(1), "amount": 70 * M, "minutes": 2}],
    )
    assert status_of(result, "R1") == "paid"
    assert sorted(result.matches["amount_applied"].astype(int)) == [30 * M, 70 * M]


def test_overpayment_excess_stays_in_receivables_as_customer_credit():
    """The policy: the unapplied part of the payment is the customer's credit inside A/R (as
    NetSuite keeps an unapplied payment), not a separate liability account."""
    result = run([{"request_id": "R1", "due": 100 * M}], [{"to": addr(1), "amount": 103 * M}])
    assert status_of(result, "R1") == "overpaid"
    (exc,) = result.exceptions.itertuples()
    assert (exc.reason, exc.amount) == ("OVERPAYMENT", str(3 * M))
    lines = journal_lines(result, "R1")
    receivable = lines[lines["account"] == "1200 Accounts receivable"]
    assert receivable["credit"].tolist() == ["100.00", "3.00"]
    assert "unapplied" in receivable["memo"].iloc[1]
    assert not lines["account"].str.contains("Customer credit").any()
    assert_balanced(result)


def test_customer_credit_account_setting_is_refused_with_the_policy():
    with pytest.raises(ValueError, match="customer_credit was removed"):
        ReconConfig.model_validate({"accounts": {"customer_credit": "2150 Customer credit"}})


def test_write_off_goes_to_the_tolerance_groups_account_and_reason():
    config = ReconConfig.model_validate(
        {
            "tolerance_groups": {
                "default": {
                    "absolute": "1.00",
                    "percent": "1",
                    "write_off_reason": "SMALL_DIFF",
                    "write_off_account": "6910 Small differences",
                }
            }
        }
    )
    result = run(
        [{"request_id": "R1", "due": 100 * M}],
        [{"to": addr(1), "amount": 99_50 * M // 100}],
        config=config,
    )
    assert status_of(result, "R1") == "paid_within_tolerance"
    lines = journal_lines(result, "R1")
    written = lines[lines["account"] == "6910 Small differences"]
    assert written[["debit", "reason_code"]].values.tolist() == [["0.50", "SMALL_DIFF"]]
    assert_balanced(result)


def test_rate_move_between_quote_and_block_is_settlement_gain():
    result = run(
        [{"request_id": "R1", "due": 100 * M}],
        [{"to": addr(1), "amount": 100 * M}],
        rates=[{"rate": "1.02"}],
    )
    lines = journal_lines(result, "R1")
    gain = lines[lines["account"].str.contains("Settlement gain")]
    assert gain["credit"].tolist() == ["2.00"]
    match = result.matches.iloc[0]
    assert (match.rate, match.rate_source, match.fair_value) == ("1.02", "test-feed", "102.00")
    assert_balanced(result)


def test_fair_values_beyond_int64_minor_units_stay_exact():
    # 10**20 USD per token: 100 tokens are worth 10**22 USD, 10**24 cents (beyond int64), beside
    # a request whose fair value fits: both exact, the journals balanced
    result = run(
        [
            {"request_id": "R1", "due": 100 * M},
            {"request_id": "R2", "due": 100 * M, "asset": OTHER},
        ],
        [{"to": addr(1), "amount": 100 * M}, {"to": addr(2), "amount": 100 * M, "asset": OTHER}],
        rates=[{"rate": "1.02"}, {"rate": "100000000000000000000.00", "asset": OTHER}],
    )
    fair = result.matches.set_index("request_id")["fair_value"]
    assert fair.to_dict() == {"R1": "102.00", "R2": "10000000000000000000000.00"}
    gain = journal_lines(result, "R2")
    gain = gain[gain["account"].str.contains("Settlement gain")]
    assert gain["credit"].tolist() == ["9999999999999999999900.00"]
    assert_balanced(result)


def test_late_payment_is_requoted_at_block_time():
    # price rose to 1.25 after expiry: 80 USDC now settles the 100.00 invoice
    result = run(
        [{"request_id": "R1", "due": 100 * M}],
        [{"to": addr(1), "amount": 80 * M, "minutes": 40}],
        rates=[{"rate": "1.00"}, {"rate": "1.25", "minutes": 30}],
    )
    assert status_of(result, "R1") == "paid"
    match = result.matches.iloc[0]
    assert bool(match.paid_late) and match.rate == "1.25"
    assert result.requests_status.iloc[0]["paid_late"]
    assert_balanced(result)


def test_late_payment_of_old_quote_after_price_drop_is_partial():
    result = run(
        [{"request_id": "R1", "due": 100 * M}],
        [{"to": addr(1), "amount": 100 * M, "minutes": 40}],
        rates=[{"rate": "0.50", "minutes": 30}],
    )
    assert status_of(result, "R1") == "partial"


def test_late_payment_without_rate_is_an_exception():
    result = run(
        [{"request_id": "R1", "due": 100 * M}], [{"to": addr(1), "amount": 100 * M, "minutes": 40}]
    )
    assert result.exceptions["reason"].tolist() == ["LATE_NO_RATE"]
    assert result.matches.empty


def test_after_monitoring_window_without_open_request():
    result = run(
        [{"request_id": "R1", "due": 100 * M}],
        [{"to": addr(1), "amount": 100 * M, "minutes": 25 * 60}],
    )
    assert result.exceptions["reason"].tolist() == ["AFTER_WINDOW"]


def test_address_reuse_matches_same_customers_open_request():
    later = pd.Timestamp("2026-03-02T12:00:00Z")
    result = run(
        [
            {"request_id": "R1", "due": 100 * M},
            {"request_id": "R2", "due": 55 * M, "created": later},
            {"request_id": "R3", "customer_id": "OTHER", "due": 55 * M, "created": later},
        ],
        [{"to": addr(1), "amount": 100 * M}, {"to": addr(1), "amount": 55 * M, "minutes": 125}],
    )
    reuse = result.matches[result.matches["rule"] == "address_reuse"]
    assert reuse[["request_id", "decision"]].values.tolist() == [["R2", "auto"]]
    assert status_of(result, "R2") == "paid" and status_of(result, "R3") != "paid"


def test_two_equal_candidates_are_never_auto_applied():
    later = pd.Timestamp("2026-03-02T12:00:00Z")
    result = run(
        [
            {"request_id": "R1", "due": 100 * M},
            {"request_id": "R2", "due": 55 * M, "created": later},
            {"request_id": "R3", "due": 55 * M, "created": later},
        ],
        [{"to": addr(1), "amount": 100 * M}, {"to": addr(1), "amount": 55 * M, "minutes": 125}],
    )
    reuse = result.matches[result.matches["rule"] == "address_reuse"]
    assert sorted(reuse["request_id"]) == ["R2", "R3"]
    assert set(reuse["decision"]) == {"proposed"}
    assert "AMBIGUOUS" in set(result.exceptions["reason"])
    assert status_of(result, "R2") == "open" and status_of(result, "R3") == "open"


def test_one_transfer_pays_several_invoices_of_one_customer():
    result = run(
        [
            {"request_id": "R1", "due": 100 * M},
            {"request_id": "R2", "due": 20 * M},
            {"request_id": "R3", "due": 35 * M},
            {"request_id": "R4", "due": 36 * M},
        ],
        [{"to": addr(1), "amount": 155 * M}],
    )
    batch = result.matches[result.matches["rule"] == "batch"]
    assert sorted(batch["request_id"]) == ["R2", "R3"]
    assert set(batch["decision"]) == {"auto"}
    assert [status_of(result, r) for r in ("R1", "R2", "R3", "R4")] == [
        "paid",
        "paid",
        "paid",
        "open",
    ]
    assert result.exceptions.empty
    assert_balanced(result)


def test_batch_with_two_fitting_subsets_is_only_proposed():
    result = run(
        [
            {"request_id": "R1", "due": 100 * M},
            {"request_id": "R2", "due": 20 * M},
            {"request_id": "R3", "due": 30 * M},
            {"request_id": "R4", "due": 50 * M},
        ],
        [{"to": addr(1), "amount": 150 * M}],
    )
    batch = result.matches[result.matches["rule"] == "batch"]
    assert set(batch["decision"]) == {"proposed"}
    assert "AMBIGUOUS" in set(result.exceptions["reason"])
    assert status_of(result, "R4") != "paid"


def test_batch_search_is_capped():
    rows = [{"request_id": "R00", "due": 100 * M}] + [
        {"request_id": f"R{i:02d}", "due": (10 + i) * M} for i in range(1, 8)
    ]
    excess = (10 + 6) * M + (10 + 7) * M  # needs the 6th and 7th candidates
    config = ReconConfig(subset_max_candidates=5)
    result = run(rows, [{"to": addr(1), "amount": 100 * M + excess}], config=config)
    assert (result.matches["rule"] == "batch").sum() == 0
    assert result.exceptions["reason"].tolist() == ["OVERPAYMENT"]
    result = run(rows, [{"to": addr(1), "amount": 100 * M + excess}])
    assert (result.matches["rule"] == "batch").sum() == 2


@pytest.mark.parametrize(
    ("receipt", "reason"),
    [
        ({"to": addr(1), "amount": 100 * M, "asset": OTHER}, "WRONG_ASSET"),
        ({"to": addr(1), "amount": 100 * M, "chain_id": 137}, "WRONG_CHAIN"),
        ({"to": addr(77), "amount": 100 * M}, "UNKNOWN_ADDRESS"),
        ({"to": addr(1), "amount": 100 * M, "status": "detected"}, "NOT_FINAL"),
    ],
)
def test_gate_reason_codes(receipt, reason):
    result = run([{"request_id": "R1", "due": 100 * M}], [receipt])
    assert result.exceptions["reason"].tolist() == [reason]
    assert result.exceptions.iloc[0]["amount"] == str(100 * M)
    assert result.matches.empty
    assert result.exceptions.iloc[0]["suggested_action"]


def test_duplicate_event_is_ignored_and_duplicate_payment_is_flagged():
    result = run(
        [{"request_id": "R1", "due": 100 * M}],
        [
            {"to": addr(1), "amount": 100 * M, "n": 5},
            {"to": addr(1), "amount": 100 * M, "n": 5},
            {"to": addr(1), "amount": 100 * M, "n": 6, "minutes": 90},
        ],
    )
    reasons = sorted(result.exceptions["reason"])
    assert reasons == ["DUPLICATE_EVENT", "DUPLICATE_PAYMENT"]
    dup_event = result.exceptions[result.exceptions["reason"] == "DUPLICATE_EVENT"]
    assert dup_event["amount"].tolist() == ["0"]
    assert status_of(result, "R1") == "paid"


def test_eighteen_decimal_and_uint256_amounts_stay_exact():
    eth = 10**18
    big = 2**256 - 1
    result = run(
        [
            {
                "request_id": "R1",
                "due": 50 * eth + 1,
                "asset": "native",
                "invoice_minor": 15_000_000,
            },
            {"request_id": "R2", "due": big, "asset": "native", "invoice_minor": 100},
        ],
        [
            {"to": addr(1), "amount": 50 * eth + 1, "asset": "native"},
            {"to": addr(2), "amount": big, "asset": "native"},
        ],
    )
    assert status_of(result, "R1") == "paid" and status_of(result, "R2") == "paid"
    applied = dict(zip(result.matches["request_id"], result.matches["amount_applied"], strict=True))
    assert applied == {"R1": str(50 * eth + 1), "R2": str(big)}
    assert_balanced(result)


def test_config_loads_from_toml(tmp_path):
    path = tmp_path / "recon.toml"
    path.write_text(
        'rules = ["own_address"]\nfinal_statuses = ["finalized"]\n'
        '[tolerance_groups.default]\nabsolute = "0"\npercent = "0"\n'
        "[bands]\nauto = 0.99\npropose = 0.5\n"
    )
    config = ReconConfig.from_toml(path)
    assert config.rules == ["own_address"] and config.bands.auto == 0.99
    result = run(
        [{"request_id": "R1", "due": 100 * M}],
        [{"to": addr(1), "amount": 100 * M, "status": "confirmed"}],
        config=config,
    )
    assert result.exceptions["reason"].tolist() == ["NOT_FINAL"]


def test_low_confidence_rule_goes_to_review_not_auto():
    config = ReconConfig.model_validate({"confidence": {"own_address_late": 0.7}})
    result = run(
        [{"request_id": "R1", "due": 100 * M}],
        [{"to": addr(1), "amount": 100 * M, "minutes": 40}],
        rates=[{"rate": "1.00"}],
        config=config,
    )
    assert result.matches["decision"].tolist() == ["proposed"]
    assert result.exceptions["reason"].tolist() == ["NEEDS_REVIEW"]
    assert status_of(result, "R1") == "open"


def test_usdc_constant_is_lowercase():
    assert USDC.lower() == USDC


def test_no_requests_means_every_receipt_is_unknown():
    requests = requests_frame([{"request_id": "R1", "due": M}]).iloc[:0]
    result = reconcile(requests, receipts_frame([{"to": addr(1), "amount": M}]))
    assert result.exceptions["reason"].tolist() == ["UNKNOWN_ADDRESS"]
    assert result.matches.empty and result.journals.empty
