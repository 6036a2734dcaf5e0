"""EVM chain watcher: records transfers into and out of watched deposit addresses.

Entry point: ``ChainWatcher(chain_config, assets, engine).poll()`` (CLI: ``paybridge watch``).
Modules: ``rpc`` (counted JSON-RPC over web3.py), ``scanner`` (one block range: ERC-20 logs,
native transactions, call traces), ``watcher`` (cursor, reorgs, finality, persistence),
``payment_sync`` (live payment-request status from receipts), ``bloom``, ``tracing``.
"""

from connectors.chain.rpc import RpcClient, RpcError, RpcUnavailable
from connectors.chain.watcher import ChainHalted, ChainWatcher, PollReport, ReorgBelowFinality

__all__ = [
    "ChainHalted",
    "ChainWatcher",
    "PollReport",
    "ReorgBelowFinality",
    "RpcClient",
    "RpcError",
    "RpcUnavailable",
]
