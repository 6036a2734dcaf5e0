"""ConfirmationsTrigger against a real anvil node, and NewBlocksSensor's decisions.

The trigger's async generator is run as the triggerer runs it (an asyncio task), while blocks
are mined on the same anvil through its JSON-RPC."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from airflow.sdk.exceptions import AirflowSkipException, TaskDeferred
from airflow.sdk.module_loading import import_string
from paybridge_provider.sensors.new_blocks import NewBlocksSensor
from paybridge_provider.triggers.confirmations import ConfirmationsTrigger

from paybridge.devchain import AnvilNode

pytestmark = pytest.mark.xdist_group("airflow")


async def _first_event(trigger: ConfirmationsTrigger) -> dict[str, Any]:
    async for event in trigger.run():
        return event.payload
    raise AssertionError("the trigger ended without an event")


async def _mine_later(url: str, blocks: int, delay: float) -> None:
    await asyncio.sleep(delay)
    async with httpx.AsyncClient() as client:
        body = {"jsonrpc": "2.0", "id": 1, "method": "anvil_mine", "params": [hex(blocks)]}
        (await client.post(url, json=body)).raise_for_status()


def _head(url: str) -> int:
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}
    return int(httpx.post(url, json=body).json()["result"], 16)


def test_trigger_fires_once_the_target_block_is_mined(anvil: AnvilNode) -> None:
    head = _head(anvil.url)
    trigger = ConfirmationsTrigger(anvil.url, head + 3, poll_interval=0.1, timeout_seconds=30)

    async def scenario() -> tuple[dict[str, Any], float]:
        started = asyncio.get_running_loop().time()
        mining = asyncio.create_task(_mine_later(anvil.url, 1, 0.3))
        # one block is not enough: the trigger keeps waiting until 2 more arrive
        more = asyncio.create_task(_mine_later(anvil.url, 2, 1.0))
        event = await _first_event(trigger)
        await asyncio.gather(mining, more)
        return event, asyncio.get_running_loop().time() - started

    event, waited = asyncio.run(scenario())
    assert event == {"status": "reached", "block": head + 3, "target": head + 3}
    assert waited >= 1.0  # it did not fire on the first mined block


def test_trigger_times_out_on_an_idle_chain_and_reports_the_head(anvil: AnvilNode) -> None:
    head = _head(anvil.url)
    trigger = ConfirmationsTrigger(anvil.url, head + 1, poll_interval=0.1, timeout_seconds=0.5)
    event = asyncio.run(_first_event(trigger))
    assert event == {"status": "timeout", "block": head, "target": head + 1}


def test_trigger_waits_on_the_finalized_tag(anvil: AnvilNode) -> None:
    """With block_tag="finalized" the node's own finalized block must reach the target."""
    finalized = int(
        httpx.post(
            anvil.url,
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "eth_getBlockByNumber",
                "params": ["finalized", False],
            },
        ).json()["result"]["number"],
        16,
    )
    trigger = ConfirmationsTrigger(
        anvil.url, finalized + 2, block_tag="finalized", poll_interval=0.1, timeout_seconds=0.5
    )
    assert asyncio.run(_first_event(trigger))["status"] == "timeout"

    async def mined() -> dict[str, Any]:
        mining = asyncio.create_task(_mine_later(anvil.url, 100, 0.2))
        event = await _first_event(
            ConfirmationsTrigger(
                anvil.url,
                finalized + 2,
                block_tag="finalized",
                poll_interval=0.1,
                timeout_seconds=30,
            )
        )
        await mining
        return event

    event = asyncio.run(mined())
    assert event["status"] == "reached" and event["block"] >= finalized + 2


def test_unreachable_node_is_retried_until_the_timeout() -> None:
    trigger = ConfirmationsTrigger("http://127.0.0.1:9", 5, poll_interval=0.05, timeout_seconds=0.3)
    assert asyncio.run(_first_event(trigger)) == {"status": "timeout", "block": None, "target": 5}


def test_serialize_round_trip() -> None:
    trigger = ConfirmationsTrigger(
        "http://127.0.0.1:8545", 42, block_tag="safe", poll_interval=1.5, timeout_seconds=20
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "paybridge_provider.triggers.confirmations.ConfirmationsTrigger"
    again = import_string(classpath)(**kwargs)
    assert again.serialize() == (classpath, kwargs)
    assert (again.target_block, again.block_tag, again.timeout_seconds) == (42, "safe", 20.0)


def test_bad_arguments_are_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match="block_tag"):
        ConfirmationsTrigger("http://127.0.0.1:8545", 1, block_tag="pending")
    with pytest.raises(ValueError, match="rpc_url"):
        ConfirmationsTrigger("127.0.0.1:8545", 1)


def test_sensor_execute_complete() -> None:
    sensor = NewBlocksSensor(task_id="wait", chain="anvil", wait_seconds=5)
    assert sensor.execute_complete({}, {"status": "reached", "block": 9, "target": 9}) == "anvil"
    with pytest.raises(AirflowSkipException, match="chain anvil: no block 9 within 5 s"):
        sensor.execute_complete({}, {"status": "timeout", "block": 8, "target": 9})


def test_sensor_defers_only_when_the_chain_has_no_new_block(
    anvil: AnvilNode, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against a real store and anvil: no cursor -> scan at once; the watcher scanned up to
    the head -> defer to the trigger for the next block; that block mined -> scan at once."""
    from paybridge.chain_sync.watcher import ChainWatcher
    from paybridge.config import load_config
    from paybridge.store.db import create_engine_for, migrate

    config_path = tmp_path / "paybridge.toml"
    config_path.write_text(f'[[chains]]\nname = "anvil"\nrpc_url = "{anvil.url}"\n')
    url = f"sqlite:///{tmp_path / 'paybridge.db'}"
    monkeypatch.setenv("PAYBRIDGE_CONFIG", str(config_path))
    monkeypatch.setenv("PAYBRIDGE_DATABASE_URL", url)
    engine = create_engine_for(url)
    migrate(engine)
    sensor = NewBlocksSensor(task_id="wait", chain="anvil", wait_seconds=7, poll_interval=0.5)
    assert sensor.execute({}) == "anvil"  # no cursor yet: the watcher's first scan decides

    config = load_config(str(config_path))
    report = ChainWatcher(config.chain("anvil"), config.assets, engine).poll()
    head = _head(anvil.url)
    assert report.head == head
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})
    trigger = deferred.value.trigger
    assert isinstance(trigger, ConfirmationsTrigger)
    assert (trigger.rpc_url, trigger.target_block, trigger.timeout_seconds) == (
        anvil.url,
        head + 1,
        7.0,
    )
    assert deferred.value.method_name == "execute_complete"

    asyncio.run(_mine_later(anvil.url, 1, 0))
    assert sensor.execute({}) == "anvil"  # the block exists: no wait
