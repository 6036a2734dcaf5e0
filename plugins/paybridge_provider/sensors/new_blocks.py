"""NewBlocksSensor: let a chain's watcher run only when the chain has a block it has not seen.

The chain watch runs every minute; on a quiet chain (a devnet, an L2 between batches, a node
behind) most of those runs would scan nothing. The sensor reads the chain's cursor (the first
block not yet scanned); if the node's head already reached it, it returns at once (a busy chain
never waits and never touches the triggerer). Otherwise it defers to ``ConfirmationsTrigger``
(no worker slot held) until that block exists, and skips the chain's scan when the wait times
out: no new block means no new receipt and no confirmation or finality change to record.

Anything it cannot judge (no cursor yet, a halted chain, a node that does not answer) is left to
the watcher, which scans, or fails loudly naming the chain.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseSensorOperator
from airflow.sdk.exceptions import AirflowSkipException

from paybridge_provider.failures import fail_fast
from paybridge_provider.hooks.store_hook import PayBridgeHook
from paybridge_provider.triggers.confirmations import ConfirmationsTrigger


def head_block(rpc_url: str) -> int | None:
    """The node's latest block number, or None when it does not answer."""
    import httpx

    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}
    try:
        answer = httpx.post(rpc_url, json=body, timeout=10).raise_for_status().json()
        return int(answer["result"], 16)
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None


class NewBlocksSensor(BaseSensorOperator):
    """Waits (deferred) until ``chain`` has a block beyond the watcher's cursor; returns the
    chain's name for the watcher, or skips after ``wait_seconds`` without a new block."""

    template_fields = ("chain",)
    ui_color = "#d9ecf2"

    def __init__(
        self,
        *,
        chain: str,
        paybridge_conn_id: str = PayBridgeHook.default_conn_name,
        wait_seconds: float = 50.0,
        poll_interval: float = 2.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.chain = chain
        self.paybridge_conn_id = paybridge_conn_id
        self.wait_seconds = wait_seconds
        self.poll_interval = poll_interval

    def next_unscanned_block(self) -> tuple[str, int | None]:
        """The chain's RPC URL and its first unscanned block (None: let the watcher decide)."""
        from paybridge.store.db import transaction
        from paybridge.store.models.chain import ChainCursor

        with fail_fast(f"chain {self.chain!r}"):
            hook = PayBridgeHook(self.paybridge_conn_id)
            config = hook.get_config()
            chain = config.chain(self.chain)
            with transaction(hook.get_engine(config)) as session:
                cursor = session.get(ChainCursor, chain.chain_id)
                if cursor is None or cursor.halted_reason:
                    return chain.rpc_url, None
                return chain.rpc_url, cursor.next_block

    def execute(self, context: Any) -> str:
        rpc_url, target = self.next_unscanned_block()
        if target is None:
            return self.chain
        head = head_block(rpc_url)
        if head is None or head >= target:
            return self.chain
        self.log.info("%s: head %s, waiting for block %s", self.chain, head, target)
        self.defer(
            trigger=ConfirmationsTrigger(
                rpc_url,
                target,
                poll_interval=self.poll_interval,
                timeout_seconds=self.wait_seconds,
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> str:
        event = event or {}
        if event.get("status") == "reached":
            self.log.info("%s: block %s reached", self.chain, event.get("block"))
            return self.chain
        raise AirflowSkipException(
            f"chain {self.chain}: no block {event.get('target')} within {self.wait_seconds:g} s "
            f"(head {event.get('block')}): nothing new to scan"
        )
