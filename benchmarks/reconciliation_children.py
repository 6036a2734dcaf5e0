"""What each measured process of the reconciliation benchmark runs (`reconciliation_bench`):
the engine with its pandas-merge peer, reconcile-files, the DuckDB peer and the two floors,
each in a fresh interpreter whose own peak memory is read inside it.

Why apart from the benchmark: these are the measured programs; the benchmark only orders the
runs, takes medians and reports ratios.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from paybridge_reconciliation.huge_pages import environment_with_huge_pages

ROOT = Path(__file__).resolve().parent.parent

_OWN_PEAK = """
import json as _json, resource as _resource
print(_json.dumps({"peak_rss_kb": _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss}))
"""


def child(code: str) -> dict:
    """Run code in a fresh interpreter; it prints JSON. Adds the peak RSS of *that* process,
    read inside it (RUSAGE_CHILDREN in the parent is the maximum over every child so far).

    Every child, the DuckDB peer's too, starts with the environment `paybridge reconcile-files`
    gives itself: glibc's heap on transparent huge pages where that changes anything
    (`paybridge_reconciliation.huge_pages`; DuckDB ran 4.4-4.9 s with it, 4.8-5.1 s without)."""
    proc = subprocess.run(
        [sys.executable, "-c", code + _OWN_PEAK],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env=environment_with_huge_pages(os.environ),  # None: this process's environment
    )
    *_, result, peak = proc.stdout.strip().splitlines()
    data = json.loads(result)
    data["peak_rss_gb"] = round(json.loads(peak)["peak_rss_kb"] / 1e6, 2)
    return data


ENGINE = """
import json, time, statistics
from pathlib import Path
from paybridge_reconciliation.inputs import read_requests, read_receipts, read_rates
from paybridge_reconciliation.engine import run_rules
from paybridge_reconciliation.result import reconcile
rq = read_requests(Path({requests!r}))
rc = read_receipts(Path({receipts!r}))
rt = read_rates(Path({rates!r}), 18)

def simple_join():
    # the pandas peer of matching: the DuckDB pipeline's join, on the same parsed frames
    return rc.merge(rq[["request_id", "chain_id", "asset", "deposit_address"]],
                    left_on=["chain_id", "asset", "to_address"],
                    right_on=["chain_id", "asset", "deposit_address"], how="inner")

rules, full, merge = [], [], []
for _ in range({repeat}):
    t = time.perf_counter(); simple_join(); merge.append(time.perf_counter() - t)
    t = time.perf_counter(); run_rules(rq, rc, rt); rules.append(time.perf_counter() - t)
    t = time.perf_counter(); reconcile(rq, rc, rt); full.append(time.perf_counter() - t)
print(json.dumps({{"receipts": len(rc), "rules_median_s": statistics.median(rules),
                  "engine_median_s": statistics.median(full),
                  "pandas_merge_median_s": statistics.median(merge),
                  "rules_runs_s": rules, "engine_runs_s": full, "pandas_merge_runs_s": merge,
                  "joined_rows": len(simple_join())}}))
"""

FILES = """
import json, time
from pathlib import Path
from paybridge_reconciliation.files import run_files
marks = []
def note(step):
    marks.append((step, time.perf_counter(), time.process_time()))
t, c = time.perf_counter(), time.process_time()
run_files(Path({requests!r}), Path({receipts!r}), Path({out!r}), rates_path=Path({rates!r}),
          reports={reports!r}, step=note)
marks.append(("end", time.perf_counter(), time.process_time()))
phases = {{}}
for (step, began, _), (_, ended, _) in zip(marks, marks[1:]):
    name = step.split()[0]  # reading / matching / publishing / writing
    phases[name] = phases.get(name, 0.0) + ended - began
print(json.dumps({{"seconds": time.perf_counter() - t, "cpu_seconds": time.process_time() - c,
                  "phases_s": phases}}))
"""

DUCKDB = """
import json, time
from pathlib import Path
from benchmarks.duckdb_peer import run_pipeline
c = time.process_time()
result = run_pipeline(Path({requests!r}), Path({receipts!r}), Path({out!r}))
result["cpu_seconds"] = time.process_time() - c
print(json.dumps(result))
"""


# How long Arrow's CSV reader takes to parse the two inputs into text columns the way
# reconcile-files reads them (`inputs.read_text_columns`, the receipts on a second thread), with
# no cell checked or converted: a floor under reading that depends only on the inputs.
READ_FLOOR = """
import json, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from paybridge_reconciliation.inputs import (
    RECEIPT_COLUMNS, REQUEST_COLUMNS, header_columns, read_text_columns)
def read(path, columns):
    return read_text_columns(Path(path), header_columns(Path(path)), columns)
began = time.perf_counter()
with ThreadPoolExecutor(max_workers=1) as reader:
    receipts = reader.submit(read, {receipts!r}, RECEIPT_COLUMNS)
    rows = read({requests!r}, REQUEST_COLUMNS).num_rows + receipts.result().num_rows
print(json.dumps({{"seconds": time.perf_counter() - began, "rows": rows}}))
"""


# How long writing and hashing our four output CSVs takes on their own, once built: text
# already in Arrow tables (read back from a CSV-only run), written the way reconcile-files
# writes them (Arrow's CSV writer with our options into `output_file.HashedOutput`, which hashes
# the bytes on their way out and writes them to disk a slice at a time), one after the other on
# one thread. No engine work is in it: a floor under reconcile-files' time that depends only on
# how much the outputs hold. (Written through the page cache and read back to hash instead, the
# same tables took 3.1-3.6 s on a machine that holds a writer of 1.2 GB back to its disk's speed.)
WRITE_FLOOR = """
import json, time
from pathlib import Path
import pyarrow as pa, pyarrow.csv as pacsv
from paybridge_reconciliation.files import CSV_BATCH_ROWS
from paybridge_reconciliation.inputs import header_columns
from paybridge_reconciliation.output_file import HashedOutput
src, dst = Path({outputs!r}), Path({scratch!r})
dst.mkdir(parents=True, exist_ok=True)
seconds, size = 0.0, 0
for name in ("matches.csv", "exceptions.csv", "requests_status.csv", "journals.csv"):
    text = {{c: pa.string() for c in header_columns(src / name)}}
    table = pacsv.read_csv(src / name, convert_options=pacsv.ConvertOptions(
        column_types=text, strings_can_be_null=False))
    began = time.perf_counter()
    options = pacsv.WriteOptions(quoting_style="needed", batch_size=CSV_BATCH_ROWS)  # as ours
    with HashedOutput(dst / name) as sink:
        pacsv.write_csv(table, sink, write_options=options)
    sink.hexdigest()
    seconds += time.perf_counter() - began
    size += (src / name).stat().st_size
    del table
print(json.dumps({{"seconds": seconds, "output_bytes": size}}))
"""


# What a GiB of memory this machine has not handed out lately costs a process that writes it
# first: kernel time, in a fresh interpreter, after the machine has been idle for a moment.
# On a virtual machine whose host takes back the guest's free memory (free page reporting),
# this is up to 2.5 s here against 0.05-0.15 s for memory freed a moment ago; every GiB of peak
# memory (and of output left in the page cache) pays it once per run, DuckDB's pipeline too.
FIRST_TOUCH = """
import json, resource
import numpy as np
before = resource.getrusage(resource.RUSAGE_SELF).ru_stime
np.ones(1 << 27)  # 1 GiB, written once
print(json.dumps({"kernel_s": resource.getrusage(resource.RUSAGE_SELF).ru_stime - before}))
"""


def first_touch_kernel_s_per_gib(runs: int = 3, idle_s: float = 3.0) -> dict:
    """Median kernel seconds to write 1 GiB the first time (see ``FIRST_TOUCH``)."""
    seconds = []
    for _ in range(runs):
        time.sleep(idle_s)
        seconds.append(round(child(FIRST_TOUCH)["kernel_s"], 2))
    return {"median": statistics.median(seconds), "runs": seconds}
