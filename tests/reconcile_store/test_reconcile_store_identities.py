"""Maker-checker on identities: on a store with users, the CLI acts as the user of
PAYBRIDGE_TOKEN; a typed --as cannot stand in for someone else, the proposer's own token
cannot approve, an approver's can, and the audit log names the authenticated users."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from chainenv import PAYBRIDGE_CLI, ChainEnv, cli_config
from recon_store_helpers import pay_scenario
from sqlalchemy.engine import Engine

from paybridge.access.server_key import server_key
from paybridge.access.users import add_user
from paybridge.store.db import transaction
from paybridge.store.models import AuditEntry

pytestmark = pytest.mark.anvil


def _cli(config: Path, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PAYBRIDGE_CLI, "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=config.parent,
        env={**os.environ, "PAYBRIDGE_DATABASE_URL": "", "PAYBRIDGE_TOKEN": token},
    )


def test_maker_checker_compares_authenticated_users(
    env: ChainEnv, store: Engine, tmp_path: Path, sqlite_url: str
) -> None:
    pay_scenario(env)
    config = cli_config(env, tmp_path, sqlite_url)
    key = server_key(str(tmp_path / "paybridge-api.key"), create=True)
    tokens = {}
    with transaction(store) as session:
        people = (
            ("alice", "finance_ops"),
            ("bob", "approver"),
            ("eve", "auditor"),
            ("dana", "admin"),
        )
        for name, role in people:
            tokens[name] = add_user(session, key, name=name, role=role, actor="test")[1]
    assert _cli(config, tokens["alice"], "reconcile", "--json").returncode == 0
    listed = _cli(config, tokens["eve"], "exceptions", "list", "--json")  # read-only role
    [over] = [r for r in json.loads(listed.stdout) if r["reason"] == "OVERPAYMENT"]
    ident = over["exception_id"]

    auditor = _cli(config, tokens["eve"], "exceptions", "propose", ident, "--action", "refund")
    assert auditor.returncode == 1 and "role auditor" in auditor.stderr
    made = _cli(config, tokens["dana"], "exceptions", "propose", ident, "--action", "refund")
    assert made.returncode == 0, made.stderr
    # dana (admin: may approve) cannot approve her own proposal, nor pose as bob
    own = _cli(config, tokens["dana"], "exceptions", "approve", ident)
    assert own.returncode == 1 and "cannot also approve" in own.stderr
    posing = _cli(config, tokens["dana"], "exceptions", "approve", ident, "--as", "bob")
    assert posing.returncode == 2 and "authenticated as dana" in posing.stderr
    not_approver = _cli(config, tokens["alice"], "exceptions", "approve", ident)
    assert not_approver.returncode == 1 and "role finance_ops" in not_approver.stderr
    approved = _cli(config, tokens["bob"], "exceptions", "approve", ident, "--json")
    assert approved.returncode == 0, approved.stderr
    assert json.loads(approved.stdout)["exception_status"] == "resolved"
    forged = _cli(config, "pbu_forged", "exceptions", "list")
    assert forged.returncode == 2 and "unknown or revoked" in forged.stderr
    with transaction(store) as session:
        actors = {e.actor for e in session.query(AuditEntry)}
    assert {"alice", "dana", "bob"} <= actors  # reconcile, propose, approve
