"""The local Celery deployment driven from outside, as an operator would: the REST API.

Used by tests/airflow/test_celery_deployment.py and benchmarks/celery_bench.py:
``running_deployment`` runs ``airflow_celery_local.py up`` and stops every process it started
(also when the caller fails), ``AirflowApi`` talks to Airflow 3's v2 REST API with a JWT from
``/auth/token`` (the simple auth manager's admin), ``erp_world`` is anvil with the test tokens
plus the NetSuite and SAP simulators and the Connections that point at them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "airflow_celery_local.py"
PIPELINE_DAGS = (
    "paybridge_erp_sync",
    "paybridge_chain_watch",
    "paybridge_reconcile",
    "paybridge_post_settlements",
)
DONE = {"success", "failed"}


class AirflowApi:
    """Airflow 3's REST API (``/api/v2``) as the simple auth manager's admin."""

    def __init__(self, base_url: str, password: str) -> None:
        token = httpx.post(
            f"{base_url}/auth/token",
            json={"username": "admin", "password": password},
            timeout=60,
        )
        token.raise_for_status()
        self.http = httpx.Client(
            base_url=f"{base_url}/api/v2",
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
            timeout=60,
        )

    def get(self, path: str, **params: Any) -> Any:
        response = self.http.get(path, params=params)
        response.raise_for_status()
        return response.json()

    def wait_for_dags(self, dag_ids: tuple[str, ...], timeout_s: float = 300) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = {d["dag_id"] for d in self.get("/dags", limit=100)["dags"]}
            if set(dag_ids) <= found:
                return
            time.sleep(2)
        raise TimeoutError(f"DAGs not parsed after {timeout_s} s: {set(dag_ids) - found}")

    def unpause(self, dag_id: str) -> None:
        self.http.patch(f"/dags/{dag_id}", json={"is_paused": False}).raise_for_status()

    def pause(self, dag_id: str) -> None:
        self.http.patch(f"/dags/{dag_id}", json={"is_paused": True}).raise_for_status()

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        response = self.http.post(
            f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}}
        )
        response.raise_for_status()
        return str(response.json()["dag_run_id"])

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        return list(self.get(f"/dags/{dag_id}/dagRuns", limit=100)["dag_runs"])

    def wait_run(self, dag_id: str, run_id: str, timeout_s: float = 300) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            state = self.get(f"/dags/{dag_id}/dagRuns/{run_id}")["state"]
            if state in DONE:
                return str(state)
            time.sleep(1)
        raise TimeoutError(f"{dag_id} run {run_id} not finished after {timeout_s} s")

    def wait_new_run(self, dag_id: str, known: set[str], timeout_s: float = 300) -> str:
        """The id of a run of ``dag_id`` not in ``known`` (an asset-triggered one), once seen."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            fresh = [r["dag_run_id"] for r in self.runs(dag_id) if r["dag_run_id"] not in known]
            if fresh:
                return str(fresh[0])
            time.sleep(1)
        raise TimeoutError(f"no new run of {dag_id} after {timeout_s} s")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
        return list(self.get(path, limit=100)["task_instances"])


@dataclass
class Deployment:
    api: AirflowApi
    home: Path
    services: dict[str, int]  # service name -> its process group id

    def workers(self) -> dict[str, int]:
        return {n: pid for n, pid in self.services.items() if n.startswith("airflow-worker")}


@contextmanager
def running_deployment(
    home: Path,
    env: dict[str, str],
    *,
    workers: int = 2,
    db_prefix: str,
    redis_db: int,
    postgres: str = "postgresql+psycopg://postgres@127.0.0.1:5432",
    redis_port: int = 6379,
    timeout_s: float = 600,
) -> Iterator[Deployment]:
    """``airflow_celery_local.py up`` until healthy; SIGTERM then SIGKILL of everything after."""
    home.mkdir(parents=True, exist_ok=True)
    out = home / "deployment.out"
    argv = [sys.executable, str(SCRIPT), "up", "--home", str(home), "--workers", str(workers)]
    argv += ["--db-prefix", db_prefix, "--redis-db", str(redis_db), "--postgres", postgres]
    argv += ["--redis-port", str(redis_port), "--drop-databases"]
    with open(out, "wb") as sink:
        proc = subprocess.Popen(
            argv, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + timeout_s
        while "READY " not in out.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"deployment did not start:\n{out.read_text()[-3000:]}")
            time.sleep(1)
        state = json.loads((home / "services.json").read_text())
        passwords = json.loads((home / "simple_auth_manager_passwords.json").read_text())
        yield Deployment(AirflowApi(state["api_url"], passwords["admin"]), home, state["services"])
    finally:
        _stop(proc, home)


def _stop(proc: subprocess.Popen[bytes], home: Path) -> None:
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    state = home / "services.json"
    groups = json.loads(state.read_text())["services"].values() if state.exists() else []
    for pgid in groups:  # whatever the script could not stop (it was killed itself)
        with suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)


@dataclass
class ErpWorld:
    env: dict[str, str]  # PAYBRIDGE_CONFIG, Connections, the Variable listing them
    w3: Any
    contracts: Any
    netsuite: Any
    sap: Any
    sap_keys: list[Any]


SAP_COMPANY = "1710"


@contextmanager
def erp_world(workdir: Path, netsuite_invoices: int, sap_invoices: int) -> Iterator[ErpWorld]:
    """anvil (test tokens, funded payers), NetSuite and SAP simulators with open invoices."""
    from paybridge.demo.payers import fund_payers
    from paybridge.devchain import deploy_standard_contracts, running_anvil
    from simulators.netsuite import SEEDED_SETTLEMENT_ACCOUNTS, NetSuiteSimulator
    from simulators.sap import SETTLEMENT_ACCOUNTS, SAPSimulator

    with (
        running_anvil(slots_in_an_epoch=1) as anvil,
        NetSuiteSimulator() as netsuite,
        SAPSimulator(clearing_delay_s=0.05) as sap,
    ):
        w3 = anvil.web3()
        contracts = deploy_standard_contracts(w3)
        fund_payers(w3, contracts)
        if netsuite_invoices:
            netsuite.seed_invoices(netsuite_invoices, customers=5, amount=Decimal("480.00"))
        sap_keys = []
        for n in range(sap_invoices):
            reference = f"91{n:06d}"
            key = sap.seed_open_item(
                SAP_COMPANY,
                ("17100001", "17100002", "17100003")[n % 3],
                Decimal("250.00") + n % 100,
                "USD",
                reference=reference,
                assignment=reference,
                document_type="DR",
            )
            sap_keys.append(key)
        config = workdir / "paybridge.toml"
        config.write_text(f'[[chains]]\nname = "anvil"\nrpc_url = "{anvil.url}"\n')
        netsuite_conn = netsuite.airflow_connection(
            SEEDED_SETTLEMENT_ACCOUNTS, payment_chain="anvil", payment_asset="USDC"
        )
        sap_conn = sap.airflow_connection(
            SAP_COMPANY,
            accounts={SAP_COMPANY: SETTLEMENT_ACCOUNTS},
            payment_chain="anvil",
            payment_asset="USDC",
            clearing_check_interval_s=0.05,
        )
        env = {
            "PAYBRIDGE_CONFIG": str(config),
            "AIRFLOW_CONN_NETSUITE_DEFAULT": json.dumps(netsuite_conn),
            "AIRFLOW_CONN_SAP_S4_DEFAULT": json.dumps(sap_conn),
            "AIRFLOW_VAR_PAYBRIDGE_ERP_CONNECTIONS": '["netsuite_default", "sap_s4_default"]',
        }
        yield ErpWorld(env, w3, contracts, netsuite, sap, sap_keys)


def pay_every_request(world: ErpWorld, database_url: str) -> int:
    """Each open payment request paid exactly, from the funded payer accounts; how many."""
    import sqlalchemy as sa

    from paybridge.demo.payers import PAYER_ACCOUNTS, pay
    from paybridge.store.db import create_engine_for, transaction
    from paybridge.store.models import PaymentRequest

    engine = create_engine_for(database_url)
    try:
        with transaction(engine) as session:
            requests = list(session.scalars(sa.select(PaymentRequest)))
            session.expunge_all()
    finally:
        engine.dispose()
    payers = list(PAYER_ACCOUNTS)
    for n, request in enumerate(requests):
        pay(world.w3, world.contracts, request, request.amount_due, "exact", payers[n % 5])
    world.w3.provider.make_request("anvil_mine", [hex(4)])  # past finality
    return len(requests)
