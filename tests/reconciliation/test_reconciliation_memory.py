"""reconcile-files' memory measures change no output: publishing from the slimmed frames
(`published_only`) gives the same tables, the slimmed frames share no memory with the engine's,
and the journals' id columns are valid Categoricals over unique, text-ordered categories; freed
memory is given back between steps, but not while two threads publish side by side."""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from paybridge_reconciliation.chain_order import ChainOrderReceipts
from paybridge_reconciliation.config import ReconConfig
from paybridge_reconciliation.engine import run_rules
from paybridge_reconciliation.generate import generate
from paybridge_reconciliation.result import (
    PUBLISHED_RECEIPT_COLUMNS,
    PUBLISHED_REQUEST_COLUMNS,
    publish,
    publish_tables,
    published_only,
)
from paybridge_reconciliation.side_thread import side_thread


@pytest.fixture(scope="module")
def scenario():
    return generate(5, 600, "hard")


def _frames(scenario):
    return run_rules(scenario.requests, scenario.receipts, scenario.rates, ReconConfig())


def test_published_only_publishes_the_same_tables(scenario) -> None:
    config = ReconConfig()
    full = publish(_frames(scenario), scenario.rates, config)
    slim = publish(published_only(_frames(scenario)), scenario.rates, config)
    for name in ("matches", "exceptions", "requests_status", "journals"):
        pd.testing.assert_frame_equal(getattr(slim, name), getattr(full, name), obj=name)
    pd.testing.assert_frame_equal(slim.amounts_by_chain_asset, full.amounts_by_chain_asset)
    assert len(full.journals) > 0 and len(full.matches) > 0


def test_published_only_keeps_only_published_columns_in_memory_of_their_own(scenario) -> None:
    frames = _frames(scenario)
    slim = published_only(frames)
    assert list(slim.requests.columns) == [
        c for c in PUBLISHED_REQUEST_COLUMNS if c in frames.requests.columns
    ]
    assert "deposit_address" in frames.requests.columns
    assert "deposit_address" not in slim.requests.columns
    assert isinstance(slim.receipts, ChainOrderReceipts)
    kept = set(slim.receipts.numeric.columns) | set(slim.receipts.text.columns)
    assert kept <= set(PUBLISHED_RECEIPT_COLUMNS)
    assert "status" in frames.receipts.text.columns and "status" not in kept
    # a numeric column kept as a view would keep the engine's whole 2-D block alive
    for old, new in (
        (frames.requests, slim.requests),
        (frames.receipts.numeric, slim.receipts.numeric),
    ):
        for column in new.columns:
            if new[column].dtype.kind in "iufbM":
                assert not np.shares_memory(new[column].to_numpy(), old[column].to_numpy())


def _variable_width_ids(scenario):
    """The scenario with request ids of several widths, in text order, some a prefix of
    others ('1', '10', '100', ...): the journal ids' general path, where a suffix can change
    their order ('1:payment' > '10:deposit')."""
    ids = sorted(str(i) for i in range(len(scenario.requests)))
    requests = scenario.requests.assign(request_id=ids)
    return replace(scenario, requests=requests)


@pytest.mark.parametrize("ids", ["one width", "several widths"])
def test_journal_id_columns_are_categoricals_over_sorted_unique_ids(scenario, ids) -> None:
    if ids == "several widths":
        scenario = _variable_width_ids(scenario)
    journals = publish(_frames(scenario), scenario.rates, ReconConfig()).journals
    assert len(journals) > 0
    for column in ("journal_id", "request_id", "invoice_id", "customer_id"):
        values = journals[column]
        assert isinstance(values.dtype, pd.CategoricalDtype)
        categories = values.cat.categories
        assert categories.is_unique and categories.is_monotonic_increasing
        assert (values.cat.codes >= 0).all()
    ids = (
        journals["request_id"].astype(str)
        + ":"
        + np.where(
            journals["memo"].isin(
                [
                    "received at fair value at block time",
                    "clear customer payment",
                    "settlement gain",
                    "settlement loss",
                ]
            ),
            "deposit",
            "payment",
        )
    )
    assert (journals["journal_id"].astype(str) == ids).all()


def test_publishing_on_one_thread_or_two_hands_over_the_same_tables_in_the_same_order(
    scenario,
) -> None:
    """reconcile-files publishes with parallel=False (its writer has the other core), the
    engine and reports with parallel=True (the journals and totals then built on the second
    thread): same tables, same order, same totals."""
    handed: dict[bool, list[tuple[str, pd.DataFrame]]] = {False: [], True: []}
    totals: dict[bool, pd.DataFrame | None] = {}
    for parallel in (False, True):
        totals[parallel] = publish_tables(
            published_only(_frames(scenario)),
            scenario.rates,
            ReconConfig(),
            lambda name, frame, into=handed[parallel]: into.append((name, frame)),
            parallel=parallel,
        )
    order = ["requests_status", "journals", "matches", "exceptions"]
    assert [name for name, _ in handed[False]] == order == [name for name, _ in handed[True]]
    for (name, one), (_, two) in zip(handed[False], handed[True], strict=True):
        assert len(one) > 0, name
        pd.testing.assert_frame_equal(one, two, obj=name)
    assert totals[False] is not None and len(totals[False]) > 0
    pd.testing.assert_frame_equal(totals[False], totals[True], obj="totals")


def test_side_thread_defers_the_call_when_not_parallel_and_passes_errors_on() -> None:
    calls: list[int] = []
    with side_thread(False, "recon-test") as submit:
        later = submit(calls.append, 1)
        assert calls == []  # nothing runs until the result is asked for
        later.result()
        later.result()
        assert calls == [1]  # and then once
    with side_thread(True, "recon-test") as submit:
        assert submit(lambda: threading.current_thread().name).result().startswith("recon-test")
    for parallel in (False, True):
        with pytest.raises(ZeroDivisionError), side_thread(parallel, "recon-test") as submit:
            submit(lambda: 1 // 0).result()


def test_the_engine_puts_arrow_on_the_one_heap_it_shares_with_numpy(scenario) -> None:
    """run_rules (and reconcile-files) make new Arrow buffers come from glibc's heap, which
    numpy shares, instead of Arrow's own pool (memory.share_one_heap); results are unchanged
    (the other tests), and asking again changes nothing."""
    import pyarrow as pa
    from paybridge_reconciliation.memory import share_one_heap

    _frames(scenario)
    assert pa.default_memory_pool().backend_name == "system"
    share_one_heap()
    assert pa.default_memory_pool().backend_name == "system"
    assert pa.array(["x"] * 1000).buffers()[2].size > 0  # allocations still work


def test_parallel_publishing_keeps_freed_memory_and_serial_publishing_gives_it_back(
    scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Giving back is process-wide: while two threads publish side by side, neither hands
    the OS pages the other is about to reuse; reconcile-files' serial publishing (where the
    peak is compared with DuckDB's) still gives back after each large step."""
    from paybridge_reconciliation import memory

    trims: list[int] = []
    monkeypatch.setattr(memory, "LARGE", 1)  # the scenario's tables count as large
    monkeypatch.setattr(memory, "_MALLOC_TRIM", lambda pad: trims.append(pad) or 1)
    frames = published_only(_frames(scenario))
    for parallel, gives_back in ((True, False), (False, True)):
        trims.clear()
        publish_tables(frames, scenario.rates, ReconConfig(), lambda *_: None, parallel=parallel)
        assert bool(trims) is gives_back, parallel
    memory.give_back_memory(10)  # outside publishing: given back again
    assert trims[-1:] == [0]


def test_memory_kept_blocks_count_across_threads() -> None:
    from paybridge_reconciliation import memory

    entered, leave = threading.Event(), threading.Event()

    def keep_in_other_thread() -> None:
        with memory.memory_kept():
            entered.set()
            leave.wait(5)

    other = threading.Thread(target=keep_in_other_thread)
    other.start()
    assert entered.wait(5)
    with memory.memory_kept():
        assert memory._kept_blocks == 2
    assert memory._kept_blocks == 1  # the other thread's block still runs
    with memory.memory_kept(active=False):
        assert memory._kept_blocks == 1
    leave.set()
    other.join(5)
    assert memory._kept_blocks == 0
