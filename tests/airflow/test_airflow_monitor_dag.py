"""Monitoring DAG with dag.test(): green within the thresholds; a crossed threshold fails the
task at once (no retry) and mails an alert (captured by a local SMTP server) naming it."""

from __future__ import annotations

import subprocess
import sys
from email import message_from_bytes
from pathlib import Path

import pytest
from airflow_helpers import run_dag_test_with_tasks
from status_figures import seed_status_figures
from test_airflow_failures import Inbox, _alert_env, html_body, inbox  # noqa: F401 (fixture)

from paybridge.store.db import create_engine_for

pytestmark = pytest.mark.xdist_group("airflow")


def test_monitor_fails_and_alerts_when_a_threshold_is_crossed(
    airflow_env: dict[str, str],
    tmp_path: Path,
    inbox: tuple[Inbox, int],  # noqa: F811 (the fixture imported above)
) -> None:
    mailbox, port = inbox
    config = tmp_path / "paybridge.toml"
    # DAG ages are not judged here (the test's Airflow DB has no PayBridge runs)
    config.write_text("[status]\nmax_dag_success_age_seconds = {}\nmax_chain_lag_blocks = 100\n")
    env = {
        "PAYBRIDGE_CONFIG": str(config),
        "PAYBRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'paybridge.db'}",
        **_alert_env(port),
    }
    subprocess.run(
        [str(Path(sys.executable).parent / "paybridge"), "init"],
        cwd=tmp_path,
        env={**airflow_env, **env},
        check=True,
        capture_output=True,
    )
    state, tasks = run_dag_test_with_tasks(airflow_env, "paybridge_monitor.py", env)
    assert (state, tasks) == ("success", {"check_status": "success"})
    assert mailbox.mails == []

    engine = create_engine_for(env["PAYBRIDGE_DATABASE_URL"])
    seed_status_figures(engine, settlements=False)
    state, tasks = run_dag_test_with_tasks(airflow_env, "paybridge_monitor.py", env)
    assert (state, tasks) == ("failed", {"check_status": "failed"})
    assert len(mailbox.mails) == 1  # one try: the monitor is not retried
    mail = message_from_bytes(mailbox.mails[0])
    assert mail["Subject"] == "[PayBridge] paybridge_monitor / check_status failed"
    body = html_body(mail)
    assert "1 thresholds crossed" in body
    assert "chain anvil: 600 blocks behind the head (limit 100)" in body
    assert "paybridge status" in body  # the next step
