"""Auditor reports per run: an HTML page with inline SVG charts, and an XLSX workbook.

Both are deterministic (fixed SVG hash salt and no dates in SVG metadata; the XLSX zip is
rewritten with fixed entry timestamps and document dates set to the run's as_of), so they are
covered by the manifest's byte-identical guarantee. Chart amounts are summed exactly in integer
minor units; only the bar heights are floats.
"""

from __future__ import annotations

import html
import io
import re
import zipfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from jinja2 import Environment
from openpyxl import Workbook

from reconciliation.config import ReconConfig
from reconciliation.result import ReconResult
from reconciliation.safe_text import safe_text_frame
from reconciliation.tieouts import TIE_OUT_COLUMNS
from reconciliation.workflow import RESOLUTION_COLUMNS

HTML_ROWS = 200

TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>PayBridge reconciliation report {{ as_of }}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;max-width:1200px}
table{border-collapse:collapse;margin:1rem 0;font-size:.85rem}
td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}
.charts{display:grid;grid-template-columns:1fr 1fr;gap:1rem}
</style></head><body>
<h1>Reconciliation report</h1>
<p>Engine {{ version }} &middot; as of {{ as_of }} (latest block time in the inputs).
Matched and auto-cleared rates are reported separately.</p>
<h2>Summary</h2>
<table>{% for k, v in summary %}<tr><th>{{ k }}</th><td>{{ v }}</td></tr>{% endfor %}</table>
<div class="charts">{% for title, svg in charts %}<figure><figcaption>{{ title }}</figcaption>
{{ svg }}</figure>{% endfor %}</div>
<h2>Amounts by chain and asset (fair value, auto-applied)</h2>
{{ amounts }}
<h2>Exceptions (first {{ rows }})</h2>
{{ exceptions }}
<h2>Matches (first {{ rows }})</h2>
{{ matches }}
</body></html>
"""


def _svg(fig: plt.Figure) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _bar(labels: list[str], values: list[float], title: str) -> str:
    fig, ax = plt.subplots(figsize=(5.5, 3))
    ax.barh(labels or ["(none)"], values or [0])
    ax.set_title(title)
    return _svg(fig)


def _links(frame: pd.DataFrame) -> str:
    """HTML table with tx hashes linked to the chain's explorer."""
    shown = frame.head(HTML_ROWS).astype(str)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in shown.columns if c != "explorer_url")
    rows = []
    for record in shown.to_dict("records"):
        cells = []
        for column, value in record.items():
            if column == "explorer_url":
                continue
            text = html.escape(value)
            if column == "tx_hash" and record.get("explorer_url"):
                text = f'<a href="{html.escape(record["explorer_url"])}">{text}</a>'
            cells.append(f"<td>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def amounts_by_chain_asset(result: ReconResult) -> pd.DataFrame:
    """Exact fair-value totals per (chain, asset, currency), computed by the engine."""
    if result.amounts_by_chain_asset is None:
        return pd.DataFrame(columns=["chain_id", "asset", "currency", "matches", "fair_value"])
    return result.amounts_by_chain_asset


def summary_rows(result: ReconResult) -> list[tuple[str, str]]:
    status = result.requests_status["status"]
    total = len(status)
    cleared = int(status.isin(["paid", "paid_within_tolerance", "overpaid"]).sum())
    touched = int((result.requests_status["receipts"] > 0).sum())
    matches = result.matches
    auto = int((matches["decision"] == "auto").sum())

    def pct(a: int, b: int) -> str:
        return f"{(100 * a / b):.1f}%" if b else "n/a"

    return [
        ("requests", str(total)),
        ("requests with any auto-applied payment (matched)", f"{touched} ({pct(touched, total)})"),
        ("requests auto-cleared", f"{cleared} ({pct(cleared, total)})"),
        ("match rows (auto / proposed)", f"{auto} / {len(matches) - auto}"),
        ("exceptions", str(len(result.exceptions))),
        ("journal lines", str(len(result.journals))),
    ]


def write_html(result: ReconResult, config: ReconConfig, path: Path) -> None:
    plt.rcParams["svg.hashsalt"] = "paybridge-reconciliation"
    status_counts = result.requests_status["status"].value_counts().sort_index()
    reason_counts = result.exceptions["reason"].value_counts().sort_index()
    amounts = amounts_by_chain_asset(result)
    open_mask = result.requests_status["status"].isin(["open", "partial", "expired"])
    ages = result.requests_status.loc[open_mask, "age_days"].astype("int64")
    buckets = pd.cut(ages, [-1, 0, 7, 30, 90, np.inf], labels=["0", "1-7", "8-30", "31-90", "90+"])
    ageing = buckets.value_counts().reindex(["0", "1-7", "8-30", "31-90", "90+"], fill_value=0)
    days = result.requests_status["days_to_pay"].dropna().astype("int64")
    days_counts = days.clip(upper=30).value_counts().sort_index()
    charts = [
        ("Requests by status", _bar(list(status_counts.index), status_counts.tolist(), "status")),
        ("Exceptions by reason", _bar(list(reason_counts.index), reason_counts.tolist(), "reason")),
        (
            "Auto-applied matches by chain and asset",
            _bar(
                [
                    f"{c} {a[:10]} {cur}"
                    for c, a, cur in amounts[["chain_id", "asset", "currency"]].itertuples(
                        index=False
                    )
                ],
                amounts["matches"].tolist(),
                "matches",
            ),
        ),
        ("Ageing of open requests (days)", _bar(list(ageing.index), ageing.tolist(), "requests")),
        (
            "Days to pay (30 = 30 or more)",
            _bar([str(d) for d in days_counts.index], days_counts.tolist(), "requests"),
        ),
    ]
    page = (
        Environment(autoescape=False)
        .from_string(TEMPLATE)
        .render(
            as_of=result.as_of.strftime("%Y-%m-%dT%H:%M:%SZ"),
            version=result.engine_version,
            summary=[(html.escape(k), html.escape(v)) for k, v in summary_rows(result)],
            charts=charts,
            amounts=_links(amounts),
            exceptions=_links(result.exceptions),
            matches=_links(result.matches.drop(columns=["explanation"])),
            rows=HTML_ROWS,
        )
    )
    path.write_text(page, encoding="utf-8")


def _sheet(workbook: Workbook, title: str, frame: pd.DataFrame, limit: int) -> None:
    sheet = workbook.create_sheet(title)
    sheet.append(list(frame.columns))
    for row in safe_text_frame(frame.head(limit)).itertuples(index=False):
        sheet.append(list(row))
    if len(frame) > limit:
        sheet.append([f"... {len(frame) - limit} more rows in the CSV output"])


def write_xlsx(
    result: ReconResult,
    config: ReconConfig,
    path: Path,
    tie_outs: pd.DataFrame | None = None,
    resolutions: pd.DataFrame | None = None,
) -> None:
    workbook = Workbook(write_only=True)
    limit = config.xlsx_max_rows
    _sheet(
        workbook, "summary", pd.DataFrame(summary_rows(result), columns=["item", "value"]), limit
    )
    _sheet(workbook, "matches", result.matches, limit)
    _sheet(workbook, "exceptions", result.exceptions, limit)
    _sheet(workbook, "journals", result.journals, limit)
    _sheet(
        workbook,
        "tie_outs",
        tie_outs if tie_outs is not None else pd.DataFrame(columns=TIE_OUT_COLUMNS),
        limit,
    )
    _sheet(
        workbook,
        "manual_resolutions",
        resolutions if resolutions is not None else pd.DataFrame(columns=RESOLUTION_COLUMNS),
        limit,
    )
    fixed = result.as_of.tz_convert("UTC").tz_localize(None).to_pydatetime()
    workbook.properties.created = fixed
    workbook.properties.modified = fixed
    workbook.properties.creator = "PayBridge"
    buffer = io.BytesIO()
    workbook.save(buffer)
    stamp = result.as_of.strftime("%Y-%m-%dT%H:%M:%SZ")
    _rezip_deterministic(buffer.getvalue(), path, stamp)


def _rezip_deterministic(data: bytes, path: Path, stamp: str) -> None:
    """Fixed zip entry times, and the save-time 'modified' date replaced by the run's as_of."""
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in sorted(source.infolist(), key=lambda i: i.filename):
            entry = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            payload = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                payload = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                    rb"\g<1>" + stamp.encode() + rb"\g<2>",
                    payload,
                )
            target.writestr(entry, payload)


def write_reports(
    result: ReconResult,
    config: ReconConfig,
    out: Path,
    tie_outs: pd.DataFrame | None = None,
    resolutions: pd.DataFrame | None = None,
) -> list[str]:
    """report.html and report.xlsx; tie-outs and manual resolutions go into the workbook."""
    write_html(result, config, out / "report.html")
    write_xlsx(result, config, out / "report.xlsx", tie_outs, resolutions)
    return ["report.html", "report.xlsx"]
