"""EvmRpcHook: a chain's JSON-RPC node kept as an Airflow Connection (the URL may hold a key).

Host is the full RPC URL; the extra names the chain as in paybridge.toml and the chain id the
node must report, so "Test" refuses a node on the wrong network before any payment is watched.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseHook

from paybridge_provider import connection_forms
from paybridge_provider.hooks.connection_extras import plain_extra


class EvmRpcHook(BaseHook):
    conn_name_attr = "evm_conn_id"
    default_conn_name = "evm_rpc_default"
    conn_type = "evm_rpc"
    hook_name = connection_forms.EVM_RPC["hook-name"]

    def __init__(self, evm_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.evm_conn_id = evm_conn_id

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return connection_forms.field_behaviour(connection_forms.EVM_RPC)

    def get_settings(self) -> dict[str, Any]:
        conn = self.get_connection(self.evm_conn_id)
        fields = plain_extra(dict(conn.extra_dejson), self.conn_type)
        return {"rpc_url": conn.host or "", **fields}

    def _call(self, url: str, method: str) -> Any:
        import httpx

        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": []}
        answer = httpx.post(url, json=body, timeout=10).raise_for_status().json()
        if "error" in answer:
            raise ValueError(f"{method}: {answer['error']}")
        return answer["result"]

    def test_connection(self) -> tuple[bool, str]:
        import httpx

        settings = self.get_settings()
        url = settings["rpc_url"]
        if not url.startswith(("http://", "https://")):
            return False, f"RPC URL must start with http:// or https:// (got {url!r})"
        try:
            chain_id = int(self._call(url, "eth_chainId"), 16)
            head = int(self._call(url, "eth_blockNumber"), 16)
        except (httpx.HTTPError, ValueError) as exc:
            return False, f"the node at this RPC URL did not answer JSON-RPC: {exc}"
        expected = settings.get("chain_id")
        if expected not in (None, "") and int(expected) != chain_id:
            return False, f"the node is on chain id {chain_id}, not the expected {expected}"
        return True, f"node on chain id {chain_id}, head block {head}"
