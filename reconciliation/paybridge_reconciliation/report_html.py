"""report.html (and report.pdf, the same page printed by WeasyPrint) for people and auditors.

Chain and token names instead of ids, amounts in token units and invoice currency, grand
totals, journals and tie-outs, charts as inline SVG. Tables fit a 1366 px laptop screen:
long ids (exception ids embed a tx hash) are shortened, with the full value on hover (title)
and in a copy button. Everything is inline: nothing is loaded from the internet. Printable
(A4 landscape, copy buttons hidden, table headers repeated on each page).
"""

from __future__ import annotations

import html
import io
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from paybridge_reconciliation.config import ReconConfig
from paybridge_reconciliation.report_assets import SCRIPT, STYLE
from paybridge_reconciliation.report_labels import ReportLabels, fiat_text, short_id
from paybridge_reconciliation.report_totals import (
    TOTAL_COLUMNS,
    TOTAL_LABELS,
    days_to_pay_buckets,
    grand_totals,
    summary_items,
)
from paybridge_reconciliation.result import ReconResult

HTML_ROWS = 200
PDF_ROWS = 25  # WeasyPrint lays out table rows slowly (~30 ms each here): the PDF keeps 25
E = html.escape


class Cell:
    """Pre-rendered, already escaped HTML for one cell, and whether it is numeric."""

    __slots__ = ("html", "numeric")

    def __init__(self, markup: str, numeric: bool = False) -> None:
        self.html, self.numeric = markup, numeric


def text(value: Any) -> Cell:
    shown = "" if value is None or str(value) in ("nan", "<NA>", "None") else str(value)
    return Cell(E(shown))


def number(value: Any) -> Cell:
    return Cell(E(str(value)), numeric=True)


def long_id(value: Any, link: str = "", keep: int = 10) -> Cell:
    """Shortened id: the full value in title and in a copy button; linked when known."""
    full = "" if value is None else str(value)
    if not full:
        return Cell("")
    short = short_id(full, keep)
    inner = f'<span class="id" title="{E(full)}">{E(short)}</span>'
    if link:
        inner = f'<a href="{E(link)}" title="{E(full)}">{inner}</a>'
    if short != full:
        inner += f'<button class="copy" type="button" data-copy="{E(full)}">copy</button>'
    return Cell(inner)


def table(headers: list[str], rows: list[list[Cell]], extra: str = "") -> str:
    if not rows:
        return '<p class="muted">None.</p>'
    numeric = [any(r[i].numeric for r in rows) for i in range(len(headers))]
    head = "".join(
        f'<th class="num">{E(h)}</th>' if n else f"<th>{E(h)}</th>"
        for h, n in zip(headers, numeric, strict=True)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{c.html}</td>' if c.numeric else f"<td>{c.html}</td>" for c in r
        )
        + "</tr>"
        for r in rows
    )
    return f"<table{extra}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _bar(labels: list[str], values: list[int], title: str, horizontal: bool = True) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "paybridge-reconciliation"
    plt.rcParams["font.family"] = "DejaVu Sans"
    plt.rcParams["svg.fonttype"] = "none"  # text as text: smaller, and fast to print
    fig, ax = plt.subplots(figsize=(5.5, 3))
    positions = list(range(len(labels)))
    if horizontal:
        ax.barh(positions, values)
        ax.set_yticks(positions, labels)
        ax.set_xlabel(title)
        ax.set_xlim(left=0, right=max([*values, 1]) * 1.1)
    else:
        ax.bar(positions, values)
        ax.set_xticks(positions, labels, rotation=20, ha="right")
        ax.set_ylabel(title)
        ax.set_ylim(bottom=0, top=max([*values, 1]) * 1.15)
        for x, v in zip(positions, values, strict=True):
            ax.annotate(f"{v:,}", (x, v), ha="center", va="bottom", fontsize=8)
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    plt.close(fig)
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]


def charts(
    result: ReconResult, labels: ReportLabels, amounts: pd.DataFrame
) -> list[tuple[str, str]]:
    status = result.requests_status["status"].value_counts().sort_index()
    reasons = result.exceptions["reason"].value_counts().sort_index()
    open_mask = result.requests_status["status"].isin(["open", "partial", "expired"])
    ages = result.requests_status.loc[open_mask, "age_days"].astype("int64")
    bounds = [("0", 0, 0), ("1-7", 1, 7), ("8-30", 8, 30), ("31-90", 31, 90), ("over 90", 91, None)]
    ageing = [
        (name, int(((ages >= lo) & ((ages <= hi) if hi is not None else True)).sum()))
        for name, lo, hi in bounds
    ]
    by_asset = [
        (f"{labels.chain_asset(c, a)} {cur}", int(n))
        for c, a, cur, n in amounts[["chain_id", "asset", "currency", "matches"]].itertuples(
            index=False
        )
    ]
    pay = days_to_pay_buckets(result)
    return [
        ("Requests by status", _bar([str(i) for i in status.index], status.tolist(), "requests")),
        (
            "Exceptions by reason",
            _bar([str(i) for i in reasons.index], reasons.tolist(), "exceptions"),
        ),
        (
            "Auto-applied matches by chain, token and invoice currency",
            _bar([n for n, _ in by_asset], [v for _, v in by_asset], "matches"),
        ),
        (
            "Ageing of open requests (days since created)",
            _bar([n for n, _ in ageing], [v for _, v in ageing], "requests", horizontal=False),
        ),
        (
            "Days to pay (request created to last payment, whole days)",
            _bar([n for n, _ in pay], [v for _, v in pay], "requests", horizontal=False),
        ),
    ]


def chart_figures(result: ReconResult, labels: ReportLabels, amounts: pd.DataFrame) -> str:
    return "".join(
        f"<figure><figcaption>{E(title)}</figcaption>{svg}</figure>"
        for title, svg in charts(result, labels, amounts)
    )


def _amount(labels: ReportLabels, record: dict, column: str) -> Cell:
    value = str(record.get(column, ""))
    if not value:
        return Cell("")
    return number(labels.amount(record.get("chain_id", ""), record.get("asset", ""), value))


def _fiat(value: Any, currency: str) -> Cell:
    shown = str(value)
    return number(fiat_text(shown, currency)) if shown not in ("", "nan") else Cell("")


CHAIN_KEY = re.compile(r"^(\d+):(0x[0-9a-fA-F]{40}):(native|0x[0-9a-fA-F]{40})@\d+$")


def _tie_amount(labels: ReportLabels, record: dict, column: str) -> Cell:
    """Chain tie-outs compare base units: shown in token units (key chain:address:asset@block)."""
    value = str(record[column])
    key = CHAIN_KEY.match(str(record["key"]))
    if key and value.lstrip("-").isdigit():
        return number(labels.amount(key.group(1), key.group(3), value))
    return number(value)


def _side(value: str, currency: str) -> Cell:
    """A journal side: blank when zero (any exponent: 0, 0.00, 0.000)."""
    shown = str(value).strip()
    return _fiat(shown, currency) if shown and Decimal(shown) != 0 else Cell("")


def _with_request_asset(result: ReconResult, exceptions: pd.DataFrame) -> list[dict]:
    """Exceptions about a request (UNDERPAID) carry no receipt: take its chain and asset from
    the request so that amounts read in token units."""
    status = result.requests_status
    records = exceptions.to_dict("records")
    wanted = {r["request_id"] for r in records if not r["chain_id"]}
    status = status[status["request_id"].isin(wanted)]  # only those shown (not 1M of them)
    by_request = dict(
        zip(
            status["request_id"], zip(status["chain_id"], status["asset"], strict=True), strict=True
        )
    )
    for record in records:
        if not record["chain_id"] and record["request_id"] in by_request:
            chain_id, asset = by_request[record["request_id"]]
            record["chain_id"], record["asset"] = str(chain_id), asset
    return records


def section_tables(
    result: ReconResult,
    labels: ReportLabels,
    amounts: pd.DataFrame,
    tie_outs: pd.DataFrame,
    resolutions: pd.DataFrame,
    rows: int = HTML_ROWS,
) -> dict[str, str]:
    amounts_rows = [
        [
            text(labels.chain(r["chain_id"])),
            text(labels.asset(r["chain_id"], r["asset"])),
            text(r["currency"]),
            number(f"{int(r['matches']):,}"),
            _fiat(r["fair_value"], r["currency"]),
        ]
        for r in amounts.to_dict("records")
    ]
    exceptions = [
        [
            long_id(r["exception_id"], keep=14),
            text(r["reason"]),
            text(labels.chain_asset(r["chain_id"], r["asset"])),
            long_id(r["tx_hash"], r["explorer_url"]),
            _amount(labels, r, "amount"),
            long_id(r["request_id"]),
            _amount(labels, r, "remaining_due"),
            text(r["detail"]),
            text(r["suggested_action"]),
        ]
        for r in _with_request_asset(result, result.exceptions.head(rows))
    ]
    matches = [
        [
            long_id(r["request_id"]),
            long_id(r["invoice_id"]),
            text(labels.chain_asset(r["chain_id"], r["asset"])),
            long_id(r["tx_hash"], r["explorer_url"]),
            text(str(r["block_time"]).replace("T", " ")),
            _amount(labels, r, "amount_applied"),
            _fiat(r["fair_value"], r["invoice_currency"]),
            text(r["rule"]),
            number(r["confidence"]),
            text(r["decision"] + (" (late)" if r["paid_late"] else "")),
        ]
        for r in result.matches.head(rows).to_dict("records")
    ]
    journals = [
        [
            long_id(r["journal_id"], keep=16),
            number(r["line"]),
            text(r["account"]),
            _side(r["debit"], r["currency"]),
            _side(r["credit"], r["currency"]),
            text(r["reason_code"]),
            text(r["memo"]),
        ]
        for r in result.journals.head(rows).to_dict("records")
    ]
    ties = [
        [
            text(r["tie_out"]),
            long_id(r["key"], keep=14),
            _tie_amount(labels, r, "expected"),
            _tie_amount(labels, r, "actual"),
            _tie_amount(labels, r, "difference"),
            Cell(
                E(str(r["status"]))
                if r["status"] == "ok"
                else f'<span class="diff">{E(str(r["status"]))}</span>'
            ),
            text(r["detail"]),
        ]
        for r in tie_outs.astype(str).head(rows).to_dict("records")
    ]
    manual = [
        [text(r[c]) if c != "exception_id" else long_id(r[c], keep=14) for c in resolutions.columns]
        for r in resolutions.astype(str).head(rows).to_dict("records")
    ]
    return {
        "amounts": table(["Chain", "Token", "Currency", "Matches", "Fair value"], amounts_rows),
        "exceptions": table(
            [
                "Exception",
                "Reason",
                "Chain · token",
                "Tx",
                "Amount",
                "Request",
                "Remaining due",
                "Detail",
                "Suggested action",
            ],
            exceptions,
        ),
        "matches": table(
            [
                "Request",
                "Invoice",
                "Chain · token",
                "Tx",
                "Block time (UTC)",
                "Applied",
                "Fair value",
                "Rule",
                "Confidence",
                "Decision",
            ],
            matches,
        ),
        "journals": table(
            ["Journal", "Line", "Account", "Debit", "Credit", "Reason", "Memo"], journals
        ),
        "tie_outs": table(
            ["Tie-out", "Key", "Expected", "Actual", "Difference", "Status", "Detail"], ties
        ),
        "manual": table([str(c) for c in resolutions.columns], manual),
    }


def summary_html(
    result: ReconResult, config: ReconConfig, totals: pd.DataFrame | None = None
) -> tuple[str, str]:
    """The summary counts and the grand totals (``totals``: `grand_totals`, if already made)."""
    counts = [
        [text(i.label), number(f"{i.value:,}" if i.kind == "count" else f"{i.value * 100:.1f}%")]
        for i in summary_items(result)
    ]
    if totals is None:
        totals = grand_totals(result, config)
    total_rows = [
        [text(r["currency"]), number(f"{r['requests']:,}")]
        + [_fiat(r[c], r["currency"]) for c in TOTAL_COLUMNS[2:]]
        for r in totals.to_dict("records")
    ]
    return (
        table(["Item", "Value"], counts, ' class="narrow"'),
        table([TOTAL_LABELS[c] for c in TOTAL_COLUMNS], total_rows),
    )


def render_html(
    result: ReconResult,
    config: ReconConfig,
    labels: ReportLabels,
    amounts: pd.DataFrame,
    tie_outs: pd.DataFrame,
    resolutions: pd.DataFrame,
    rows: int = HTML_ROWS,
    figures: str | None = None,
    totals: pd.DataFrame | None = None,
) -> str:
    counts, totals_table = summary_html(result, config, totals)
    tables = section_tables(result, labels, amounts, tie_outs, resolutions, rows)
    if figures is None:
        figures = chart_figures(result, labels, amounts)
    as_of = result.as_of.strftime("%Y-%m-%dT%H:%M:%SZ")

    def first(frame: pd.DataFrame) -> str:
        return f" (first {rows} of {len(frame):,})" if len(frame) > rows else ""

    tie_note = (
        "No tie-out has been run for this report."
        if tie_outs.empty
        else f"{len(tie_outs):,} rows; {int((tie_outs['status'] != 'ok').sum()):,} differences."
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>PayBridge reconciliation report {E(as_of)}</title>
<style>{STYLE}</style></head><body>
<h1>Reconciliation report</h1>
<p>Engine {E(result.engine_version)} &middot; as of {E(as_of)} (latest block time in the
inputs). Amounts in token units with their symbol; fiat in the invoice currency at its ISO
4217 exponent. Matched and auto-cleared rates are reported separately.</p>
<h2>Summary</h2>
{counts}
<h2>Grand totals by invoice currency</h2>
<p class="muted">From the journals: received at fair value at block time; applied = accounts
receivable credited (including amounts written off within tolerance); open = invoiced - applied.</p>
{totals_table}
<div class="charts">{figures}</div>
<h2>Amounts by chain and token (fair value, auto-applied)</h2>
{tables["amounts"]}
<h2>Exceptions{first(result.exceptions)}</h2>
{tables["exceptions"]}
<h2>Matches{first(result.matches)}</h2>
{tables["matches"]}
<h2>Journals{first(result.journals)}</h2>
{tables["journals"]}
<h2>Tie-outs</h2>
<p class="muted">{E(tie_note)}</p>
{tables["tie_outs"]}
<h2>Manual resolutions</h2>
{tables["manual"]}
<script>{SCRIPT}</script>
</body></html>
"""


def write_pdf(page: str, path: Path, as_of: pd.Timestamp) -> None:
    """The same page printed (print CSS) by WeasyPrint. Nothing is fetched (only inline
    content); the document dates are the run's as_of and the PDF identifier is derived from
    the page, so the same run gives the same bytes."""
    import hashlib

    from weasyprint import HTML

    def no_fetch(url: str, *args: Any, **kwargs: Any) -> dict:
        raise ValueError(f"report.pdf loads nothing from outside: refused {url}")

    stamp = as_of.strftime("%Y-%m-%dT%H:%M:%SZ")
    dated = page.replace(
        "<title>",
        f'<meta name="dcterms.created" content="{stamp}">'
        f'<meta name="dcterms.modified" content="{stamp}"><title>',
        1,
    )
    identifier = hashlib.sha256(page.encode()).hexdigest()[:32].encode()
    # a variable font is made static by fontTools, which stamps the font's 'modified' date
    # with the clock unless SOURCE_DATE_EPOCH is set: the run's as_of, as for the document
    with _source_date_epoch(int(as_of.timestamp())):
        HTML(string=dated, url_fetcher=no_fetch).write_pdf(path, identifier=identifier)


@contextmanager
def _source_date_epoch(seconds: int) -> Iterator[None]:
    """SOURCE_DATE_EPOCH (reproducible-builds.org) set for the block, then put back."""
    before = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = str(seconds)
    try:
        yield
    finally:
        if before is None:
            del os.environ["SOURCE_DATE_EPOCH"]
        else:
            os.environ["SOURCE_DATE_EPOCH"] = before
