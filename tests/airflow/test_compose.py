"""docker-compose.yml starts safely: secrets required, loopback port, healthchecks, no Node.js
in the production image, every Airflow command one the installed Airflow knows."""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from airflow_helpers import REPO

sys.path.insert(0, str(REPO / "deploy"))
from airflow_celery_local import INIT_STEPS, SERVICES, WORKER_REPLICAS, airflow_env

COMPOSE = REPO / "docker-compose.yml"
AIRFLOW = str(Path(sys.executable).parent / "airflow")
SECRETS = {
    "POSTGRES_PASSWORD": "pg-secret",
    "AIRFLOW_FERNET_KEY": "x" * 43 + "=",
    "AIRFLOW_JWT_SECRET": "jwt-secret",
}
#: one-shot services: the others wait for them to exit 0, a healthcheck has nothing to watch
ONE_SHOT = {"airflow-init"}


def services() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def test_every_long_running_service_has_a_healthcheck() -> None:
    missing = [
        name
        for name, svc in services().items()
        if name not in ONE_SHOT and "healthcheck" not in svc
    ]
    assert missing == []
    assert services()["airflow-init"]["restart"] == "no"


def test_secrets_have_no_working_defaults_and_port_is_loopback() -> None:
    text = COMPOSE.read_text()
    for name in SECRETS:
        assert re.search(rf"\$\{{{name}:\?", text), f"{name} must be required (${{{name}:?...}})"
        assert not re.search(rf"\$\{{{name}:-", text), f"{name} must have no default"
    assert "change-me" not in text
    ports = [p for svc in services().values() for p in svc.get("ports", [])]
    assert ports and all(str(p).startswith("127.0.0.1:") for p in ports)


def test_bind_mounts_exist_and_production_image_has_no_node() -> None:
    for svc in services().values():
        for volume in svc.get("volumes", []):
            source = str(volume).split(":")[0]
            if source.startswith("./"):
                assert (REPO / source).exists(), f"{source} is mounted but not in the repository"
    stage = (REPO / "Dockerfile").read_text().split("AS dev")[0]
    production = "\n".join(line for line in stage.splitlines() if not line.startswith("#"))
    assert "nodejs" not in production and "npm" not in production
    assert "simulators" not in production
    assert {svc.get("profiles", [None])[0] for svc in services().values()} == {None, "dev"}


def test_every_service_runs_the_command_the_local_deployment_proved() -> None:
    """The commands deploy/airflow_celery_local.py runs (its slow test kills a worker
    mid-posting: tests/airflow/test_celery_deployment.py) are the compose services' commands."""
    compose = services()
    airflow = {n: s for n, s in compose.items() if n.startswith("airflow-") and n != "airflow-init"}
    assert set(airflow) == set(SERVICES)
    for name, svc in airflow.items():
        command = svc["command"]
        assert (shlex.split(command) if isinstance(command, str) else command) == SERVICES[name]
    assert compose["airflow-worker"]["deploy"]["replicas"] == WORKER_REPLICAS
    init = compose["airflow-init"]["command"][-1]
    assert init.startswith(" && ".join(" ".join(step) for step in INIT_STEPS) + " &&")


def test_compose_environment_is_the_local_deployments(tmp_path: Path) -> None:
    """Every Airflow/PayBridge setting compose gives the services, the script gives too."""
    common = yaml.safe_load(COMPOSE.read_text())["x-airflow-common"]["environment"]
    args = argparse.Namespace(
        postgres="postgresql+psycopg://postgres@127.0.0.1:5432",
        db_prefix="x",
        redis_port=6379,
        redis_db=11,
    )
    local = airflow_env(args, tmp_path, 8080)
    assert set(common) - set(local) == set()
    # values naming hosts, paths or secrets differ by design; the rest must be equal
    same = [k for k in common if not re.search(r"\$\{|/opt/|://", str(common[k]))]
    assert {k: str(common[k]) for k in same} == {k: local[k] for k in same}


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_compose_commands_are_commands_of_the_installed_airflow(name: str) -> None:
    out = subprocess.run(
        [AIRFLOW, *SERVICES[name], "--help"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "AIRFLOW_HOME": str(REPO / f".airflow-help-home-{name}")},
    )
    shutil.rmtree(REPO / f".airflow-help-home-{name}", ignore_errors=True)
    assert out.returncode == 0, out.stderr[-2000:]


def test_docker_compose_config_validates_and_refuses_missing_secrets() -> None:
    tool = shutil.which("docker-compose")
    if tool is None and not os.environ.get("CI"):
        pytest.skip("docker-compose not installed (`make compose`; CI always runs this)")
    assert tool, "docker-compose not installed: `make compose` (Debian's docker-compose)"
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    ok = subprocess.run(
        [tool, "-f", str(COMPOSE), "--profile", "dev", "config", "-q"],
        env={**env, **SECRETS},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    refused = subprocess.run(
        [tool, "-f", str(COMPOSE), "config", "-q"], env=env, capture_output=True, text=True
    )
    assert refused.returncode != 0
    assert "set POSTGRES_PASSWORD" in refused.stderr or "AIRFLOW_" in refused.stderr
