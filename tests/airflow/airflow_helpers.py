"""Running a DAG file's ``dag.test()`` in a fresh interpreter, as Airflow itself would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from paybridge.store.db import create_engine_for, transaction
from paybridge.store.models import PaymentRequest

REPO = Path(__file__).resolve().parents[2]


def run_dag_test(env: dict[str, str], dag_file: str, extra_env: dict[str, str]) -> str:
    """Run ``dag.test()`` of one DAG file in a fresh interpreter; returns the final state."""
    return run_dag_test_with_tasks(env, dag_file, extra_env)[0]


def run_dag_test_with_tasks(
    env: dict[str, str], dag_file: str, extra_env: dict[str, str]
) -> tuple[str, dict[str, str]]:
    """``dag.test()`` of one DAG file; the run's state and each task's (``task[i]`` if mapped)."""
    script = (
        "import runpy, sys\n"
        f"dag = runpy.run_path({str(REPO / 'dags' / dag_file)!r})['dag']\n"
        "run = dag.test()\n"
        "from airflow.models.taskinstance import TaskInstance\n"
        "from airflow.utils.session import create_session\n"
        "with create_session() as s:\n"
        "    for ti in s.query(TaskInstance).filter_by(dag_id=run.dag_id, run_id=run.run_id):\n"
        "        print('TASK_STATE', ti.task_id, ti.map_index, ti.state)\n"
        "print('DAGRUN_STATE', run.state)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**env, **extra_env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    states = [
        line.split()[-1] for line in result.stdout.splitlines() if line.startswith("DAGRUN_STATE")
    ]
    assert states, f"dag.test() did not finish:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    tasks = {}
    for line in result.stdout.splitlines():
        if line.startswith("TASK_STATE"):
            _, task_id, map_index, state = line.split()
            tasks[task_id if map_index == "-1" else f"{task_id}[{map_index}]"] = state
    if states[0] != "success":
        print(result.stdout[-6000:], result.stderr[-6000:])  # shown by pytest on failure
    state = states[0] if result.returncode == 0 else f"exit {result.returncode}: {states[0]}"
    return state, tasks


def requests_for_invoices(
    airflow_env: dict[str, str], workdir: Path, rpc_url: str, invoices_csv: str
) -> tuple[dict[str, str], dict[str, PaymentRequest]]:
    """A PayBridge store whose anvil chain is ``rpc_url``, with requests for these invoices made
    through the CLI; returns the environment the DAGs need and the requests by invoice id."""
    config = workdir / "paybridge.toml"
    config.write_text(f'[[chains]]\nname = "anvil"\nrpc_url = "{rpc_url}"\n')
    env = {
        "PAYBRIDGE_CONFIG": str(config),
        "PAYBRIDGE_DATABASE_URL": f"sqlite:///{workdir / 'paybridge.db'}",
    }
    (workdir / "invoices.csv").write_text(invoices_csv)
    paybridge = str(Path(sys.executable).parent / "paybridge")
    for args in (["init"], ["invoices", "import", "invoices.csv"], ["requests", "create"]):
        subprocess.run(
            [paybridge, *args],
            cwd=workdir,
            env={**airflow_env, **env},
            check=True,
            capture_output=True,
        )
    with transaction(create_engine_for(env["PAYBRIDGE_DATABASE_URL"])) as session:
        requests = {r.invoice_id: r for r in session.scalars(sa.select(PaymentRequest))}
    return env, requests
