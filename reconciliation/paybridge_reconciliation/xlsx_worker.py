"""``python -m paybridge_reconciliation.xlsx_worker INPUT OUT``: write report.xlsx from a pickled
`report_xlsx.WorkbookInput`, in a process of its own beside the HTML and PDF
(`reports.write_reports`)."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

from paybridge_reconciliation.report_xlsx import WorkbookInput, write_workbook


def main(handoff: Path, out: Path) -> None:
    with handoff.open("rb") as file:
        data = pickle.load(file)  # written by write_reports for this run, never user input
    if not isinstance(data, WorkbookInput):
        raise TypeError(f"{handoff}: not a report.xlsx input")
    write_workbook(data, out)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
