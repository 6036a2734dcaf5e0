"""An unreachable node costs one chain a bounded time, not attempts x timeout."""

from __future__ import annotations

import socket
import time

import pytest
from paybridge_connectors.chain.rpc import RpcClient, RpcUnavailable


def test_retries_stop_when_the_retry_budget_is_spent() -> None:
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        rpc = RpcClient(url, timeout=1.0, attempts=5, backoff=0.2, retry_budget=2.5)
        started = time.monotonic()
        with pytest.raises(RpcUnavailable, match="unreachable after 2 attempt"):
            rpc.call("eth_blockNumber", [])
        elapsed = time.monotonic() - started
    assert rpc.http_requests == 2  # 1 s + 0.2 s + 1 s; a third would pass the 2.5 s budget
    assert elapsed < 4  # five attempts would have taken ~6.5 s
