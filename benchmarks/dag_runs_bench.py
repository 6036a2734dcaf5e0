"""DAG runs per day: how often the chain watch starts reconciliation and posting (issue 13, 3).

Measured, not estimated from the code: for each scenario a fresh anvil chain and a fresh
SQLite store with PAYMENT_REQUESTS open USDC requests (made by the CLI: init, invoices import,
requests create), then TICKS schedule ticks of the chain-watch DAG (one per minute: an hour).
Per tick the chain moves as the scenario says, then the chain-watch factory's own logic runs in
this process, in DAG order: ``monitored_chain_ids`` (watched_chains), ``NewBlocksSensor``'s
decision (cursor vs. the node's head), ``ChainWatcher.poll`` (watch_chain) and
``chain_changed`` (announce_receipts). A tick whose announce would emit the receipts asset
counts one reconcile run, and reconciliation then runs for real (``reconcile_store``, what the
reconcile DAG calls); one that records settlements counts one posting run.

Simulated: time. Ticks follow each other at once and the chain moves between them (anvil_mine
or one transfer per block); the sensor's deferred wait is not waited out: a tick where the head
has not reached the cursor is counted as the sensor's timeout (skip), which is what the wait
would end in when no block arrives within it. Airflow's scheduler is not involved; counted runs
are the asset events the DAGs would emit. The invoices come from a CSV file, so reconciliation
records their settlements as not postable (an ERP-synced invoice's would be queued and
announced): posting runs count ticks that recorded settlements either way.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TICKS = int(os.environ.get("PAYBRIDGE_BENCH_DAG_TICKS", "60"))
BLOCKS_PER_TICK = 5  # 12 s blocks, one tick a minute
BUSY_TRANSFER_EVERY = 3  # busy hour: one payment every 3 blocks
PAYMENT_REQUESTS = TICKS * BLOCKS_PER_TICK // BUSY_TRANSFER_EVERY + 1
PER_DAY = 24 * 60 / TICKS  # ticks measured -> ticks in a day
SCENARIOS = {
    "idle_blocks": "no transfers; the chain makes 5 empty blocks a minute (a real L1/L2)",
    "idle_no_blocks": "no transfers and no blocks (a quiet devnet or stalled node)",
    "busy": "a USDC payment to an open request every 3rd block, 5 blocks a minute",
}


def _store(workdir: Path, rpc_url: str) -> dict[str, str]:
    """Config, store and open requests through the CLI, as an operator makes them."""
    config = workdir / "paybridge.toml"
    config.write_text(
        f'[audit]\nkey_file = "{workdir / "paybridge-audit.key"}"\n\n'
        f'[[chains]]\nname = "anvil"\nrpc_url = "{rpc_url}"\n'
    )
    rows = [f"D-{i},C{i % 7},{10 + i}.00,USD,anvil,USDC" for i in range(PAYMENT_REQUESTS)]
    (workdir / "invoices.csv").write_text(
        "invoice_id,customer_id,amount,currency,chain,asset\n" + "\n".join(rows) + "\n"
    )
    env = {
        "PAYBRIDGE_CONFIG": str(config),
        "PAYBRIDGE_DATABASE_URL": f"sqlite:///{workdir / 'paybridge.db'}",
    }
    cli = str(Path(sys.executable).parent / "paybridge")
    for args in (["init"], ["invoices", "import", "invoices.csv"], ["requests", "create"]):
        subprocess.run(
            [cli, *args], cwd=workdir, env={**os.environ, **env}, check=True, capture_output=True
        )
    return env


def _scenario(name: str) -> dict[str, Any]:
    import sqlalchemy as sa
    from paybridge_provider.dag_factories.chain_watch_dag import chain_changed
    from paybridge_provider.hooks.store_hook import PayBridgeHook
    from paybridge_provider.sensors.new_blocks import NewBlocksSensor, head_block

    from paybridge.chain_sync.watcher import ChainWatcher
    from paybridge.devchain import deploy_standard_contracts, running_anvil, wait_receipt
    from paybridge.recon_runs.run import reconcile_store
    from paybridge.requests.monitored import monitored_chain_ids
    from paybridge.store.db import transaction
    from paybridge.store.models import PaymentRequest

    with running_anvil() as anvil, tempfile.TemporaryDirectory() as tmp:
        w3 = anvil.web3()
        usdc = deploy_standard_contracts(w3).usdc.functions
        payer = w3.eth.accounts[9]
        wait_receipt(w3, usdc.mint(payer, 10**15).transact({"from": w3.eth.accounts[0]}))
        env = _store(Path(tmp), anvil.url)
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            hook = PayBridgeHook()
            config = hook.get_config()
            engine = hook.get_engine(config)
            with transaction(engine) as session:
                todo = [
                    (r.deposit_address, r.amount_due)
                    for r in session.scalars(sa.select(PaymentRequest).order_by(PaymentRequest.id))
                ]
            sensor = NewBlocksSensor(task_id="wait_for_new_block", chain="anvil")
            counts = dict.fromkeys(
                ("watch_runs", "chains_waited_skipped", "scans", "reconcile_runs", "posting_runs"),
                0,
            )
            counts |= {"transfers": 0, "blocks": 0, "settlements_recorded": 0}

            def tick() -> None:
                counts["watch_runs"] += 1
                with transaction(engine) as session:
                    chains = monitored_chain_ids(session, None)
                for chain_id in chains:
                    chain = config.chain(chain_id)
                    rpc_url, target = sensor.next_unscanned_block()
                    head = head_block(rpc_url)
                    if target is not None and head is not None and head < target:
                        counts["chains_waited_skipped"] += 1
                        continue
                    counts["scans"] += 1
                    report = ChainWatcher(chain, config.assets, engine).poll()
                    if not chain_changed(vars(report)):
                        continue
                    counts["reconcile_runs"] += 1
                    summary = reconcile_store(engine, config, actor="bench:reconcile")
                    recorded = len(summary.settlements_enqueued) + len(
                        summary.settlements_not_postable
                    )
                    if recorded:
                        counts["posting_runs"] += 1
                        counts["settlements_recorded"] += recorded

            tick()  # the first run scans from the requests' creation: not part of the hour
            counts = dict.fromkeys(counts, 0)
            started = time.perf_counter()
            block = 0
            for _ in range(TICKS):
                if name != "idle_no_blocks":
                    for _ in range(BLOCKS_PER_TICK):
                        block += 1
                        if name == "busy" and block % BUSY_TRANSFER_EVERY == 0 and todo:
                            address, amount = todo.pop(0)
                            sent = usdc.transfer(address, amount).transact({"from": payer})
                            wait_receipt(w3, sent)
                            counts["transfers"] += 1
                        else:
                            w3.provider.make_request("anvil_mine", [hex(1)])
                        counts["blocks"] += 1
                tick()
            elapsed = time.perf_counter() - started
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    return {
        "description": SCENARIOS[name],
        "measured_hour": counts,
        "per_day": {
            "chain_watch_runs": round(counts["watch_runs"] * PER_DAY),
            "reconcile_runs": round(counts["reconcile_runs"] * PER_DAY),
            "posting_runs": round(counts["posting_runs"] * PER_DAY),
            # an asset every minute whatever happened (before issue 13): both ran every tick
            "unconditional_asset_reconcile_plus_posting_runs": round(
                2 * counts["watch_runs"] * PER_DAY
            ),
        },
        "simulation_seconds": round(elapsed, 1),
    }


def run() -> dict[str, Any]:
    results = {name: _scenario(name) for name in SCENARIOS}
    return {
        "how_measured": __doc__.strip().replace("\n", " "),
        "ticks_per_scenario": TICKS,
        "blocks_per_tick": BLOCKS_PER_TICK,
        "open_payment_requests": PAYMENT_REQUESTS,
        "scenarios": results,
        "headline": {
            name: f"{r['per_day']['reconcile_runs']} reconcile + {r['per_day']['posting_runs']} "
            "posting runs/day"
            for name, r in results.items()
        },
    }
