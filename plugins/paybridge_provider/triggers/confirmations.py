"""ConfirmationsTrigger: wait, in the triggerer, until a chain's block reaches a height.

Why a trigger: waiting for blocks (a new block to scan, a receipt's confirmations, finality)
is minutes of nothing. A sensor that polls in a worker holds a Celery slot all that time; this
trigger polls the node's JSON-RPC with one asyncio task in the triggerer and wakes the task
only when the height is reached (or the wait times out, which the sensor turns into "skip").

``block_tag`` chooses what "reached" means: ``latest`` (the block exists: something new to
scan), ``safe`` or ``finalized`` (the node's own confirmation tags). A node that answers with
an error or not at all is retried every poll until the timeout: a flaky node must not fail
the run, and the watcher that runs next reports real scan errors.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

TAGS = ("latest", "safe", "finalized")


class ConfirmationsTrigger(BaseTrigger):
    """Fires ``{"status": "reached", "block": n}`` once block ``block_tag`` is at least
    ``target_block``; ``{"status": "timeout", "block": last seen or None}`` after
    ``timeout_seconds``."""

    def __init__(
        self,
        rpc_url: str,
        target_block: int,
        *,
        block_tag: str = "latest",
        poll_interval: float = 2.0,
        timeout_seconds: float = 50.0,
    ) -> None:
        super().__init__()
        if block_tag not in TAGS:
            raise ValueError(f"block_tag must be one of {', '.join(TAGS)} (got {block_tag!r})")
        if not rpc_url.startswith(("http://", "https://")):
            raise ValueError(f"rpc_url must start with http:// or https:// (got {rpc_url!r})")
        self.rpc_url = rpc_url
        self.target_block = int(target_block)
        self.block_tag = block_tag
        self.poll_interval = float(poll_interval)
        self.timeout_seconds = float(timeout_seconds)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "rpc_url": self.rpc_url,
                "target_block": self.target_block,
                "block_tag": self.block_tag,
                "poll_interval": self.poll_interval,
                "timeout_seconds": self.timeout_seconds,
            },
        )

    async def block_number(self, client: Any) -> int | None:
        """The tagged block's number, or None when the node did not answer usefully."""
        import httpx

        if self.block_tag == "latest":
            method, params = "eth_blockNumber", []
        else:
            method, params = "eth_getBlockByNumber", [self.block_tag, False]
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        try:
            response = await client.post(self.rpc_url, json=body)
            answer = response.raise_for_status().json()
        except (httpx.HTTPError, ValueError) as exc:
            self.log.warning("%s %s: %s; retrying", method, self.block_tag, exc)
            return None
        result = answer.get("result") if isinstance(answer, dict) else None
        if isinstance(result, dict):
            result = result.get("number")
        if not isinstance(result, str):
            self.log.warning("%s %s answered %r; retrying", method, self.block_tag, answer)
            return None
        return int(result, 16)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        import httpx

        deadline = time.monotonic() + self.timeout_seconds
        last: int | None = None
        async with httpx.AsyncClient(timeout=10) as client:
            while True:
                number = await self.block_number(client)
                last = number if number is not None else last
                if number is not None and number >= self.target_block:
                    yield TriggerEvent(
                        {"status": "reached", "block": number, "target": self.target_block}
                    )
                    return
                if time.monotonic() + self.poll_interval > deadline:
                    yield TriggerEvent(
                        {"status": "timeout", "block": last, "target": self.target_block}
                    )
                    return
                await asyncio.sleep(self.poll_interval)
