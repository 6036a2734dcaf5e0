"""Period-close pack (``paybridge report period --from D --to D --out DIR``), from the store.

What an auditor signs for a period [from 00:00Z, to+1 00:00Z):
- ``rollforward.csv``: per chain, deposit address class and asset: opening, received, sent out
  (swept), closing, tied to the on-chain balance at the period's last block
  (``balances.csv`` per address; ``period_chain.py``); ``flows.csv`` lists every receipt id.
- ``settled.csv``: receivables settled in crypto in the period (last payment inside it), with
  fair value and realised gain/loss, and the journal ids and receipt keys behind each figure;
  ``journals.csv`` holds those journals (the engine's, re-performed at the period end).
- ``write_offs.csv``: by reason code (journal ids listed); ``manual_write_offs.csv``: those
  people approved in the period (maker-checker, resolution ids).
- ``open_exceptions.csv``: exceptions at the period end nobody resolved, with ageing buckets
  and their queue ids (``EX-…``).
- ``erp_tieout.csv``: the stored ERP tie-out rows (``paybridge tieout erp``), as last run.
- ``summary.md`` says what was and was not reachable; ``manifest.json`` holds the SHA-256 of
  every file. No wall-clock time is written: the same store and chain give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from paybridge_reconciliation.config import ReconConfig
from paybridge_reconciliation.files import sha256_file
from paybridge_reconciliation.inputs import read_rates, read_receipts, read_requests
from paybridge_reconciliation.pack import staged_pack
from paybridge_reconciliation.report_labels import fiat_exponent
from paybridge_reconciliation.result import ReconResult, reconcile
from sqlalchemy.engine import Engine

from paybridge.config import PayBridgeConfig
from paybridge.recon_runs.export import load_inputs, write_inputs, write_text_csv
from paybridge.recon_runs.period_chain import (
    RpcFactory,
    _default_rpc,
    chain_states,
    period_flows,
    roll_forward,
)
from paybridge.recon_runs.queue import exception_id_for, queue_keys
from paybridge.recon_runs.report import labels_from_config
from paybridge.store.db import transaction
from paybridge.store.models.reconciliation import (
    ExceptionResolution,
    ReconException,
    TieOutResult,
)

PACK_VERSION = "1"
AGE_BUCKETS = [
    (0, 7, "0-7 days"),
    (8, 30, "8-30 days"),
    (31, 90, "31-90 days"),
    (91, None, "over 90"),
]
CLEARED = {"paid", "paid_within_tolerance", "overpaid"}


class PeriodError(ValueError):
    """A period that cannot be closed as asked (message says what to change)."""


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    if end < start:
        raise PeriodError(f"--to {end} is before --from {start}: give the period's first day first")
    return (
        datetime.combine(start, time.min, UTC),
        datetime.combine(end + timedelta(days=1), time.min, UTC),
    )


def _engine_run(engine: Engine, staging: Path, as_of: datetime, config: ReconConfig) -> ReconResult:
    """The engine re-performed on the store's inputs at the period end (inputs kept)."""
    with transaction(engine) as session:
        inputs = load_inputs(session, as_of)
    paths = write_inputs(inputs, staging / "inputs")
    return reconcile(
        read_requests(paths["requests"]),
        read_receipts(paths["receipts"]),
        read_rates(paths["rates"], config.rate_scale),
        config,
    )


def _dec(value: str) -> Decimal:
    return Decimal(value) if value not in ("", "nan") else Decimal(0)


def settled_in_period(result: ReconResult, config: ReconConfig, start: datetime) -> pd.DataFrame:
    """Requests cleared by crypto whose last payment falls in the period, traced to journals."""
    status = result.requests_status
    lo = start.strftime("%Y-%m-%dT%H:%M:%SZ")
    chosen = status[status["status"].isin(CLEARED) & (status["last_paid_at"] >= lo)]
    journals = result.journals
    matches = result.matches[result.matches["decision"] == "auto"]
    accounts = config.accounts
    digital = set(accounts.digital_asset.values())
    rows = []
    for r in chosen.to_dict("records"):
        lines = journals[journals["request_id"] == r["request_id"]]

        places = Decimal(1).scaleb(-fiat_exponent(r["invoice_currency"]))

        def amount(
            names: set[str], side: str, lines: pd.DataFrame = lines, places: Decimal = places
        ) -> Decimal:
            values = lines.loc[lines["account"].isin(names), side]
            return sum((_dec(v) for v in values), Decimal(0)).quantize(places)

        pnl = {accounts.settlement_gain, accounts.settlement_loss}
        paid = matches[matches["request_id"] == r["request_id"]]
        rows.append(
            {
                "request_id": r["request_id"],
                "invoice_id": r["invoice_id"],
                "customer_id": r["customer_id"],
                "chain_id": str(r["chain_id"]),
                "asset": r["asset"],
                "amount_applied_base_units": r["amount_applied"],
                "currency": r["invoice_currency"],
                "invoice_amount": r["invoice_amount"],
                "applied": str(amount({accounts.accounts_receivable}, "credit")),
                "fair_value": str(amount(digital, "debit")),
                "realised_gain_loss": str(amount(pnl, "credit") - amount(pnl, "debit")),
                "written_off": str(amount({accounts.write_off}, "debit")),
                "last_paid_at": r["last_paid_at"],
                "journal_ids": ";".join(sorted(set(lines["journal_id"]))),
                "receipts": ";".join(
                    f"{c}:{t}:{e}"
                    for c, t, e in paid[["chain_id", "tx_hash", "event_key"]].itertuples(
                        index=False
                    )
                ),
            }
        )
    return pd.DataFrame(rows, columns=SETTLED_COLUMNS, dtype="str")


SETTLED_COLUMNS = [
    "request_id",
    "invoice_id",
    "customer_id",
    "chain_id",
    "asset",
    "amount_applied_base_units",
    "currency",
    "invoice_amount",
    "applied",
    "fair_value",
    "realised_gain_loss",
    "written_off",
    "last_paid_at",
    "journal_ids",
    "receipts",
]


def write_offs(journals: pd.DataFrame, config: ReconConfig) -> pd.DataFrame:
    lines = journals[journals["account"] == config.accounts.write_off]
    rows = []
    for (reason, currency), group in lines.groupby(["reason_code", "currency"], sort=True):
        rows.append(
            {
                "reason_code": reason or "(none)",
                "currency": currency,
                "lines": str(len(group)),
                "amount": str(sum((_dec(v) for v in group["debit"]), Decimal(0))),
                "journal_ids": ";".join(sorted(set(group["journal_id"]))),
            }
        )
    return pd.DataFrame(rows, columns=["reason_code", "currency", "lines", "amount", "journal_ids"])


def open_exceptions(engine: Engine, result: ReconResult, end: datetime) -> pd.DataFrame:
    """Exceptions the engine raises at the period end that no person has resolved in the
    queue, aged from the receipt's block time (or the request's creation), with the queue id
    (``EX-…``, as ``paybridge exceptions`` shows it)."""
    ages = dict(
        zip(result.requests_status["request_id"], result.requests_status["age_days"], strict=True)
    )
    with transaction(engine) as session:
        queue = {e.queue_key: e.status for e in session.scalars(sa.select(ReconException))}
    rows = []
    records = result.exceptions.to_dict("records")
    for key, r in zip(queue_keys(result.exceptions), records, strict=True):
        if queue.get(key) == "resolved":
            continue
        if r["block_time"]:
            age = (end - pd.Timestamp(r["block_time"]).to_pydatetime()).days
        else:  # the engine ages requests at its as_of (latest block time): move to period end
            age = int(ages.get(r["request_id"], 0)) + (end - result.as_of.to_pydatetime()).days
        age = max(age, 0)  # a request created after the last block seen is 0 days old
        bucket = next(n for lo, hi, n in AGE_BUCKETS if age >= lo and (hi is None or age <= hi))
        rows.append(
            {
                "queue_id": exception_id_for(key),
                "queue_status": queue.get(key, "not queued"),
                "exception_id": r["exception_id"],
                "reason": r["reason"],
                "chain_id": r["chain_id"],
                "tx_hash": r["tx_hash"],
                "event_key": r["event_key"],
                "request_id": r["request_id"],
                "amount_base_units": r["amount"],
                "remaining_due_base_units": r["remaining_due"],
                "age_days": str(age),
                "ageing_bucket": bucket,
            }
        )
    return pd.DataFrame(rows, columns=OPEN_COLUMNS, dtype="str")


OPEN_COLUMNS = [
    "queue_id",
    "queue_status",
    "exception_id",
    "reason",
    "chain_id",
    "tx_hash",
    "event_key",
    "request_id",
    "amount_base_units",
    "remaining_due_base_units",
    "age_days",
    "ageing_bucket",
]
MANUAL_COLUMNS = [
    "resolution_id",
    "exception_id",
    "request_id",
    "amount_base_units",
    "reason",
    "proposed_by",
    "approved_by",
    "decided_at",
]


def manual_write_offs(engine: Engine, start: datetime, end: datetime) -> pd.DataFrame:
    """Write-offs people approved in the period (maker-checker), by reason."""
    with transaction(engine) as session:
        rows = session.scalars(
            sa.select(ExceptionResolution)
            .where(
                ExceptionResolution.action == "write_off",
                ExceptionResolution.state == "approved",
                ExceptionResolution.decided_at >= start,
                ExceptionResolution.decided_at < end,
            )
            .order_by(ExceptionResolution.reason, ExceptionResolution.resolution_id)
        ).all()

        def request_of(r: ExceptionResolution) -> str:
            queued = session.get(ReconException, r.exception_id)
            return r.request_id or (queued.request_id if queued and queued.request_id else "")

        data = [
            [
                r.resolution_id,
                r.exception_id,
                request_of(r),
                str(r.amount),
                r.reason,
                r.proposed_by,
                r.decided_by,
                r.decided_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            ]
            for r in rows
        ]
    return pd.DataFrame(data, columns=MANUAL_COLUMNS, dtype="str")


def erp_tie_out(engine: Engine) -> pd.DataFrame:
    columns = ["key", "expected", "actual", "difference", "status", "detail", "checked_at"]
    with transaction(engine) as session:
        rows = session.scalars(
            sa.select(TieOutResult)
            .where(TieOutResult.tie_out == "subledger_vs_erp")
            .order_by(TieOutResult.key, TieOutResult.id)
        ).all()
        data = [
            [
                r.key,
                r.expected,
                r.actual,
                r.difference,
                r.status,
                r.detail,
                r.checked_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            ]
            for r in rows
        ]
    return pd.DataFrame(data, columns=columns, dtype="str")


def write_period_pack(
    engine: Engine,
    cfg: PayBridgeConfig,
    start_day: date,
    end_day: date,
    out: Path,
    config: ReconConfig | None = None,
    rpc: RpcFactory = _default_rpc,
) -> dict:
    """Write the pack into ``out`` (staged, published whole, manifest last); returns the
    manifest."""
    config = config or ReconConfig()
    start, end = period_bounds(start_day, end_day)
    labels = labels_from_config(cfg)
    with staged_pack(out) as staging:
        result = _engine_run(engine, staging, end - timedelta(microseconds=1), config)
        with transaction(engine) as session:
            flows, deposits = period_flows(session, start, end)
            chain_ids = sorted({int(c) for c in flows["chain_id"]} | set(deposits))
            states, clients = chain_states(session, cfg, chain_ids, end, rpc)
        rolled, balances = roll_forward(
            flows, deposits, states, clients, labels.asset, labels.chain
        )
        settled = settled_in_period(result, config, start)
        journal_ids = {j for ids in settled["journal_ids"] for j in ids.split(";") if j}
        journals = result.journals[result.journals["journal_id"].isin(journal_ids)]
        tables = {
            "rollforward.csv": rolled,
            "balances.csv": balances,
            "flows.csv": flows,
            "settled.csv": settled,
            "journals.csv": journals.astype(str),
            "write_offs.csv": write_offs(journals, config),
            "manual_write_offs.csv": manual_write_offs(engine, start, end),
            "open_exceptions.csv": open_exceptions(engine, result, end),
            "erp_tieout.csv": erp_tie_out(engine),
        }
        for name, frame in tables.items():
            write_text_csv(frame.astype(str), staging / name)
        notes = [state.note for _, state in sorted(states.items())]
        summary = summary_text(start_day, end_day, tables, notes)
        (staging / "summary.md").write_text(summary, encoding="utf-8")
        files = sorted([*tables, "summary.md"]) + sorted(
            f"inputs/{p.name}" for p in (staging / "inputs").iterdir()
        )
        sums = "".join(f"{sha256_file(staging / name)}  {name}\n" for name in files)
        (staging / "SHA256SUMS").write_text(sums)
        files.append("SHA256SUMS")
        manifest = {
            "pack": "paybridge.period_close",
            "pack_version": PACK_VERSION,
            "period": {"from": start_day.isoformat(), "to": end_day.isoformat()},
            "period_end_exclusive": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "config_sha256": hashlib.sha256(config.canonical_json().encode()).hexdigest(),
            "chains": {str(c): s.note for c, s in sorted(states.items())},
            "rollforward_not_tied": int((rolled["status"] != "ok").sum()),
            "files": {name: sha256_file(staging / name) for name in files},
            "reperform": "sha256sum -c SHA256SUMS; the same store and chain give the same bytes",
        }
        text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
        (staging / "manifest.json").write_text(text)
    return manifest


def summary_text(start: date, end: date, tables: dict[str, pd.DataFrame], notes: list[str]) -> str:
    rolled = tables["rollforward.csv"]
    problems = rolled[rolled["status"] != "ok"]
    lines = [
        f"# Period close {start.isoformat()} to {end.isoformat()} (UTC days, inclusive)",
        "",
        "## Chains",
        *[f"- {n}" for n in notes or ["no chain has any recorded flow or deposit address"]],
        "",
        "## Roll-forward",
        f"- {len(rolled)} lines (chain, address class, asset); {len(problems)} not tied:",
        *[
            f"  - {r['chain']} {r['address_class']} {r['token']}: {r['status']}"
            for r in problems.to_dict("records")
        ],
        "",
        "## Contents",
        f"- settled.csv: {len(tables['settled.csv'])} receivables settled in crypto",
        f"- write_offs.csv: {len(tables['write_offs.csv'])} reason codes (engine journals)",
        f"- manual_write_offs.csv: {len(tables['manual_write_offs.csv'])} approved by people",
        f"- open_exceptions.csv: {len(tables['open_exceptions.csv'])} open at the period end",
        f"- erp_tieout.csv: {len(tables['erp_tieout.csv'])} rows of the last stored ERP tie-out"
        + ("" if len(tables["erp_tieout.csv"]) else " (none run: `paybridge tieout erp`)"),
        "- flows.csv, journals.csv: every receipt id and journal id behind the figures",
        "- inputs/: the engine's inputs at the period end (re-perform with reconcile-files)",
        "",
    ]
    return "\n".join(lines)
