"""Auditor reports per run: report.html (inline SVG charts), report.pdf (the same page printed
by WeasyPrint) and report.xlsx (typed cells, formats, filters): see report_html / report_xlsx.

All three are deterministic (fixed SVG hash salt and no dates in SVG metadata; the XLSX zip is
rewritten with fixed entry timestamps and document dates set to the run's as_of; the PDF's
dates and identifier come from the run), so they are covered by the manifest's byte-identical
guarantee. Amounts are summed exactly (decimal128 or Decimal, integer base units); only bar
heights are floats.
Heavy libraries (matplotlib, openpyxl, WeasyPrint) are imported where used.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from paybridge_reconciliation.config import ReconConfig
from paybridge_reconciliation.report_labels import ReportLabels
from paybridge_reconciliation.report_totals import grand_totals
from paybridge_reconciliation.result import ReconResult
from paybridge_reconciliation.tieouts import TIE_OUT_COLUMNS
from paybridge_reconciliation.workflow import RESOLUTION_COLUMNS

if TYPE_CHECKING:
    from paybridge_reconciliation.report_xlsx import WorkbookInput

REPORT_FILES = ["report.html", "report.pdf", "report.xlsx"]


def amounts_by_chain_asset(result: ReconResult) -> pd.DataFrame:
    """Exact fair-value totals per (chain, asset, currency), computed by the engine."""
    if result.amounts_by_chain_asset is None:
        return pd.DataFrame(columns=["chain_id", "asset", "currency", "matches", "fair_value"])
    return result.amounts_by_chain_asset


def write_html(
    result: ReconResult,
    config: ReconConfig,
    path: Path,
    tie_outs: pd.DataFrame | None = None,
    resolutions: pd.DataFrame | None = None,
    labels: ReportLabels | None = None,
    pdf_path: Path | None = None,
    totals: pd.DataFrame | None = None,
) -> str:
    """report.html; with ``pdf_path`` also the PDF (same page, first PDF_ROWS table rows).
    ``totals``: `report_totals.grand_totals`, if already made for the other reports."""
    from paybridge_reconciliation.report_html import PDF_ROWS, chart_figures, render_html, write_pdf

    labels = labels or ReportLabels()
    amounts = amounts_by_chain_asset(result)
    ties = tie_outs if tie_outs is not None else pd.DataFrame(columns=TIE_OUT_COLUMNS)
    manual = resolutions if resolutions is not None else pd.DataFrame(columns=RESOLUTION_COLUMNS)
    figures = chart_figures(result, labels, amounts)
    if totals is None:
        totals = grand_totals(result, config)
    page = render_html(
        result, config, labels, amounts, ties, manual, figures=figures, totals=totals
    )
    path.write_text(page, encoding="utf-8")
    if pdf_path is not None:
        printed = render_html(
            result,
            config,
            labels,
            amounts,
            ties,
            manual,
            rows=PDF_ROWS,
            figures=figures,
            totals=totals,
        )
        write_pdf(printed, pdf_path, result.as_of)
    return page


def write_reports(
    result: ReconResult,
    config: ReconConfig,
    out: Path,
    tie_outs: pd.DataFrame | None = None,
    resolutions: pd.DataFrame | None = None,
    labels: ReportLabels | None = None,
) -> list[str]:
    """report.html, report.pdf and report.xlsx; tie-outs and manual resolutions in all three,
    and the grand totals, summed once for the three.

    report.xlsx is written by a second process while this one writes the HTML and PDF: openpyxl
    and WeasyPrint are pure Python, so on threads they would take turns on the GIL, while two
    processes use both cores (the workbook's input is small: the first rows of each table)."""
    from paybridge_reconciliation.report_xlsx import workbook_input

    totals = grand_totals(result, config)
    data = workbook_input(result, config, totals, tie_outs, resolutions, labels)
    with _in_second_process(data, out / "report.xlsx"):
        write_html(
            result,
            config,
            out / "report.html",
            tie_outs,
            resolutions,
            labels,
            out / "report.pdf",
            totals,
        )
    return list(REPORT_FILES)


#: the command that writes report.xlsx from a pickled WorkbookInput (tests replace it)
XLSX_WORKER = [sys.executable, "-m", "paybridge_reconciliation.xlsx_worker"]


@contextmanager
def _in_second_process(data: WorkbookInput, path: Path) -> Iterator[None]:
    """``data`` written to ``path`` by `XLSX_WORKER` while the block runs. An error in the block
    stops the worker and is raised; a worker that fails raises naming the file and its error."""
    with tempfile.TemporaryDirectory(prefix="paybridge-xlsx-") as scratch:
        handoff, log = Path(scratch) / "input.pickle", Path(scratch) / "stderr.txt"
        with handoff.open("wb") as file:
            pickle.dump(data, file, protocol=pickle.HIGHEST_PROTOCOL)
        with log.open("wb") as errors:
            worker = subprocess.Popen(
                [*XLSX_WORKER, str(handoff), str(path)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errors,
            )
        try:
            yield
        except BaseException:
            worker.kill()
            worker.wait()
            raise
        if worker.wait() != 0:
            lines = log.read_text(errors="replace").strip().splitlines() or ["no message"]
            raise RuntimeError(
                f"{path.name} was not written (exit {worker.returncode}): {lines[-1]}"
            )
