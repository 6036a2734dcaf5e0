"""EVM chain access: reads blocks, logs and call traces and returns transfer records.

Modules: ``rpc`` (counted JSON-RPC over web3.py), ``scanner`` (one block range: ERC-20 logs,
native transactions, call traces), ``records`` (what a scan returns), ``bloom``, ``tracing``.
Nothing here touches the store: ``paybridge.chain_sync`` persists what these return.
"""

from paybridge_connectors.chain.rpc import RpcClient, RpcError, RpcUnavailable

__all__ = ["RpcClient", "RpcError", "RpcUnavailable"]
