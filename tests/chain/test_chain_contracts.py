"""The committed contract artifacts are exactly what the pinned compiler produces."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from web3 import Web3
from web3.exceptions import ContractCustomError

from paybridge.devchain import ARTIFACTS_DIR, REPO_ROOT, DevContracts, wait_receipt

EXPECTED = {
    "ForwardOnReceive.json",
    "MockV3Aggregator.json",
    "Payer.json",
    "TestToken18.json",
    "TestUSDC.json",
}


def test_recompiling_reproduces_committed_artifacts_byte_for_byte(tmp_path: Path) -> None:
    subprocess.run(
        ["node", str(REPO_ROOT / "contracts" / "build.mjs"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    rebuilt = {p.name for p in tmp_path.glob("*.json")}
    assert rebuilt == EXPECTED
    for name in sorted(EXPECTED):
        assert (tmp_path / name).read_bytes() == (ARTIFACTS_DIR / name).read_bytes(), name


@pytest.mark.anvil
def test_deployed_contracts_behave(w3: Web3, contracts: DevContracts) -> None:
    owner, alice, bob = w3.eth.accounts[:3]
    assert contracts.usdc.functions.decimals().call() == 6
    assert contracts.token18.functions.decimals().call() == 18
    wait_receipt(w3, contracts.usdc.functions.mint(alice, 5_000_000).transact({"from": owner}))
    assert contracts.usdc.functions.balanceOf(alice).call() == 5_000_000
    # only the owner mints
    unauthorized = Web3.keccak(text="OwnableUnauthorizedAccount(address)")[:4].hex()
    with pytest.raises(ContractCustomError, match=unauthorized):
        contracts.usdc.functions.mint(bob, 1).transact({"from": alice})

    before = w3.eth.get_balance(bob)
    tx = contracts.payer.functions.pay(bob, 10**17).transact({"from": owner, "value": 10**17})
    wait_receipt(w3, tx)
    assert w3.eth.get_balance(bob) - before == 10**17

    feed = contracts.eth_usd_feed
    assert feed.functions.decimals().call() == 8
    round_id, answer, _, updated_at, _ = feed.functions.latestRoundData().call()
    assert (round_id, answer) == (1, 3000 * 10**8)
    wait_receipt(w3, feed.functions.updateAnswer(3100 * 10**8).transact({"from": owner}))
    assert feed.functions.latestRoundData().call()[:2] == [2, 3100 * 10**8]
    assert feed.functions.getRoundData(1).call()[1] == 3000 * 10**8
    assert Web3.is_checksum_address(contracts.payer.address)
    assert updated_at > 0
