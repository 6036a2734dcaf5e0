"""`paybridge status`: the figures an operator watches, exit 1 when a threshold is crossed."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from status_figures import seed_status_figures

from paybridge.store.db import create_engine_for

PAYBRIDGE = str(Path(sys.executable).parent / "paybridge")


def status(workdir: Path, *args: str) -> tuple[int, dict]:
    result = subprocess.run(
        [PAYBRIDGE, "status", "--json", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PAYBRIDGE_DATABASE_URL": f"sqlite:///{workdir}/pb.db"},
    )
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def test_status_figures_and_thresholds(tmp_path: Path) -> None:
    subprocess.run(
        [PAYBRIDGE, "init"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        env={"PATH": "/usr/bin:/bin", "PAYBRIDGE_DATABASE_URL": f"sqlite:///{tmp_path}/pb.db"},
    )
    code, report = status(tmp_path)
    assert code == 0 and report["breaches"] == []
    assert report["dags"]["available"] is False and "not configured" in report["dags"]["reason"]

    engine = create_engine_for(f"sqlite:///{tmp_path}/pb.db")
    now = seed_status_figures(engine)

    code, report = status(tmp_path)
    assert code == 1
    [chain] = report["chains"]
    assert (chain["head"], chain["cursor"], chain["lag_blocks"]) == (1000, 400, 600)
    assert chain["finality"] == "advancing" and 50 <= chain["lag_seconds"] < 300
    [erp] = report["settlements"]
    assert erp["connection"] == "netsuite_default"
    assert (erp["pending"], erp["needs_attention"]) == (1, 1)
    assert erp["oldest_pending_seconds"] >= 7200
    breaches = " | ".join(report["breaches"])
    assert "chain anvil: 600 blocks behind" in breaches
    assert "1 settlements need attention" in breaches and "waited" in breaches

    # the Airflow metadata DB: the last successful run per DAG against its threshold
    airflow_db = tmp_path / "airflow.db"
    with sqlite3.connect(airflow_db) as db:
        db.execute("CREATE TABLE dag_run (dag_id TEXT, state TEXT, end_date TIMESTAMP)")
        db.execute(
            "INSERT INTO dag_run VALUES ('paybridge_chain_watch', 'success', ?)",
            ((now - timedelta(hours=1)).isoformat(),),
        )
    _, report = status(tmp_path, "--airflow-db", f"sqlite:///{airflow_db}")
    assert report["dags"]["available"] is True
    assert report["dags"]["last_success"]["paybridge_chain_watch"]["age_seconds"] >= 3600
    breaches = " | ".join(report["breaches"])
    assert "DAG paybridge_chain_watch last succeeded" in breaches
    assert "DAG paybridge_erp_sync never succeeded" in breaches

    _, report = status(tmp_path, "--airflow-db", "postgresql+psycopg://nobody@127.0.0.1:1/x")
    assert report["dags"]["available"] is False and "unreachable" in report["dags"]["reason"]
