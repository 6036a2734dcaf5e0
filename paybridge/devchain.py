"""Local anvil chain for tests and the demo: start on a free loopback port, deploy test contracts.

PayBridge itself never holds keys. Only this module (tests, demo) sends transactions, and it does
so from anvil's own unlocked dev accounts with ``eth_sendTransaction``.
"""

from __future__ import annotations

import json
import queue
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from eth_typing import ChecksumAddress
from web3 import Web3
from web3.contract import Contract

REPO_ROOT = Path(__file__).resolve().parent.parent
ANVIL_BIN = REPO_ROOT / "node_modules" / ".bin" / "anvil"
ARTIFACTS_DIR = REPO_ROOT / "contracts" / "artifacts"
ANVIL_CHAIN_ID = 31337


class DevChainError(RuntimeError):
    """anvil missing, failed to start, or a deployment failed."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class AnvilNode:
    """A running anvil process and how to reach it."""

    process: subprocess.Popen[str]
    port: int
    chain_id: int
    args: tuple[str, ...]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def web3(self, timeout: float = 30.0) -> Web3:
        return Web3(Web3.HTTPProvider(self.url, request_kwargs={"timeout": timeout}))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_anvil(
    *,
    port: int | None = None,
    chain_id: int = ANVIL_CHAIN_ID,
    slots_in_an_epoch: int | None = None,
    extra_args: Sequence[str] = (),
    startup_timeout: float = 30.0,
) -> AnvilNode:
    """Start anvil on 127.0.0.1 and wait until it answers ``eth_chainId``.

    Without ``port`` anvil picks a free one itself (``--port 0``) and we read it from its
    "Listening on" line, so parallel test workers never race for a port.
    """
    binary = str(ANVIL_BIN) if ANVIL_BIN.exists() else shutil.which("anvil")
    if not binary:
        raise DevChainError(f"anvil not found at {ANVIL_BIN}; run `npm ci` (see Makefile setup)")
    args = [binary, "--host", "127.0.0.1", "--port", str(port or 0), "--chain-id", str(chain_id)]
    if slots_in_an_epoch is not None:
        args += ["--slots-in-an-epoch", str(slots_in_an_epoch)]
    args += list(extra_args)
    process = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    listening: queue.Queue[int | str] = queue.Queue()
    threading.Thread(target=_drain, args=(process, listening), daemon=True).start()
    try:
        answer = listening.get(timeout=startup_timeout)
    except queue.Empty:
        process.kill()
        raise DevChainError(f"anvil did not start within {startup_timeout}s") from None
    if isinstance(answer, str):
        process.wait(timeout=10)
        raise DevChainError(f"anvil exited with {process.returncode}: {answer.strip()}")
    node = AnvilNode(process=process, port=answer, chain_id=chain_id, args=tuple(args))
    w3 = node.web3(timeout=2)
    deadline = time.monotonic() + startup_timeout
    while time.monotonic() < deadline:
        try:
            if w3.eth.chain_id == chain_id:
                return node
        except Exception:  # not answering yet
            time.sleep(0.05)
    node.stop()
    raise DevChainError(f"anvil did not answer on {node.url} within {startup_timeout}s")


def _drain(process: subprocess.Popen[str], listening: queue.Queue[int | str]) -> None:
    """Read anvil's output for its port, then keep draining so its pipe never fills up."""
    seen: list[str] = []
    reported = False
    assert process.stdout is not None
    for line in process.stdout:
        if not reported:
            seen.append(line)
            match = _LISTENING.search(line)
            if match:
                listening.put(int(match.group(1)))
                reported = True
    if not reported:
        listening.put("".join(seen[-20:]))


_LISTENING = re.compile(r"Listening on [0-9.]+:(\d+)")


@contextmanager
def running_anvil(**kwargs: Any) -> Iterator[AnvilNode]:
    node = start_anvil(**kwargs)
    try:
        yield node
    finally:
        node.stop()


@cache
def load_artifact(name: str) -> dict[str, Any]:
    path = ARTIFACTS_DIR / f"{name}.json"
    if not path.exists():
        raise DevChainError(f"artifact {path} missing; run `node contracts/build.mjs`")
    return json.loads(path.read_text())


def wait_receipt(w3: Web3, tx_hash: Any, *, require_success: bool = True) -> Any:
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.05)
    if require_success and receipt["status"] != 1:
        raise DevChainError(f"transaction {tx_hash.hex()} reverted")
    return receipt


def deploy(w3: Web3, name: str, *args: Any, sender: ChecksumAddress | None = None) -> Contract:
    """Deploy a compiled artifact from an unlocked anvil account (default: account 0)."""
    artifact = load_artifact(name)
    sender = sender or w3.eth.accounts[0]
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    tx_hash = factory.constructor(*args).transact({"from": sender})
    receipt = wait_receipt(w3, tx_hash)
    return w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])


def contract_at(w3: Web3, name: str, address: str) -> Contract:
    return w3.eth.contract(
        address=Web3.to_checksum_address(address), abi=load_artifact(name)["abi"]
    )


@dataclass
class DevContracts:
    """The standard set of test contracts on a fresh anvil."""

    usdc: Contract
    token18: Contract
    payer: Contract
    eth_usd_feed: Contract
    usdc_usd_feed: Contract


def deploy_standard_contracts(w3: Web3) -> DevContracts:
    return DevContracts(
        usdc=deploy(w3, "TestUSDC"),
        token18=deploy(w3, "TestToken18"),
        payer=deploy(w3, "Payer"),
        eth_usd_feed=deploy(w3, "MockV3Aggregator", 8, 3000 * 10**8, "ETH / USD"),
        usdc_usd_feed=deploy(w3, "MockV3Aggregator", 8, 10**8, "USDC / USD"),
    )
