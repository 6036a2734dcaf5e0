"""The peer of `paybridge reconcile-files` in the reconciliation benchmark: a plain DuckDB
pipeline over the same CSVs that writes matches and request status, and nothing else.

It joins receipts to requests on chain, asset and deposit address and sums what each request
received: no gates, tolerances, rules, scoring, exceptions, fair values or journals. It is the
floor for "read two CSVs, join, aggregate, write two CSVs" on this machine, not a reconciler.
"""

from __future__ import annotations

import time
from pathlib import Path

PIPELINE = """
CREATE TABLE rq AS SELECT * FROM read_csv({requests}, all_varchar = true, header = true);
CREATE TABLE rc AS SELECT * FROM read_csv({receipts}, all_varchar = true, header = true);
CREATE TABLE m AS
  SELECT rc.chain_id, rc.tx_hash, rc.event_key, rq.request_id,
         CAST(rc.amount AS HUGEINT) AS amount
  FROM rc JOIN rq
    ON rc.chain_id = rq.chain_id AND rc.asset = rq.asset
   AND lower(rc.to_address) = lower(rq.deposit_address);
COPY m TO {matches} (HEADER, DELIMITER ',');
COPY (
  SELECT request_id, due, received,
         CASE WHEN received = 0 THEN 'unpaid' WHEN received < due THEN 'underpaid'
              WHEN received = due THEN 'paid' ELSE 'overpaid' END AS status
  FROM (
    SELECT rq.request_id, CAST(rq.amount_due AS HUGEINT) AS due,
           coalesce(sum(m.amount), 0) AS received
    FROM rq LEFT JOIN m ON m.request_id = rq.request_id
    GROUP BY rq.request_id, rq.amount_due
  )
  ORDER BY request_id
) TO {status} (HEADER, DELIMITER ',');
"""


def _quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def run_pipeline(requests: Path, receipts: Path, out: Path) -> dict[str, float | int]:
    import duckdb

    out.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    with duckdb.connect() as db:
        db.execute(
            PIPELINE.format(
                requests=_quoted(requests),
                receipts=_quoted(receipts),
                matches=_quoted(out / "matches.csv"),
                status=_quoted(out / "requests_status.csv"),
            )
        )
        matches = db.execute("SELECT count(*) FROM m").fetchone()
    return {"duckdb_pipeline_s": time.perf_counter() - began, "duckdb_matches": matches[0]}
