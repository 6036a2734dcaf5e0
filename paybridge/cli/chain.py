"""`paybridge watch` and `paybridge receipts list`: the chain watcher from the command line.

Wired by ``chain.register(app)``, from the root table in paybridge/cli/lazy.py.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any

import sqlalchemy as sa
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from paybridge.cli.context import (
    USAGE_ERROR,
    config,
    console,
    engine,
    errors,
    fail,
    print_json,
    shown,
)
from paybridge.cli.display import LimitOption, OffsetOption, page_notice, print_table, table
from paybridge.config import ChainConfig, ConfigError, PayBridgeConfig
from paybridge.eip681 import describe_amount
from paybridge.requests.monitored import monitored_chain_ids
from paybridge.store.models.chain import ChainReceipt

if TYPE_CHECKING:  # web3 (via the watcher and the RPC client) is imported by `watch` only
    from paybridge.chain_sync.watcher import ChainWatcher, PollReport

receipts_app = typer.Typer(help="Transfers the chain watcher recorded.", no_args_is_help=True)
STATES = ("detected", "confirmed", "finalized")


def register(app: typer.Typer) -> None:
    """Wires every command of this module (once, from paybridge/cli/lazy.py)."""
    app.command("watch")(watch)
    app.add_typer(receipts_app, name="receipts")


def _chains(cfg: PayBridgeConfig, name: str) -> list[ChainConfig]:
    try:
        return [cfg.chain(name)]
    except ConfigError as exc:
        fail(str(exc), code=USAGE_ERROR)


def _monitored_chains(
    cfg: PayBridgeConfig, eng: Engine
) -> tuple[list[ChainConfig], dict[str, str]]:
    """Configured chains with monitored requests, and a problem per monitored chain id that
    no configured chain has (its payments would go unseen)."""
    with Session(eng) as session:
        counts = monitored_chain_ids(session)
    by_id = {c.chain_id: c for c in cfg.chains}
    missing = {
        f"chain id {chain_id}": f"chain id {chain_id}: {count} monitored payment request(s), but "
        "no configured chain has this chain id; add (or re-enable) its [[chains]] entry so "
        "their payments are seen"
        for chain_id, count in counts.items()
        if chain_id not in by_id
    }
    return [by_id[i] for i in counts if i in by_id], missing


def _unreachable(chain: ChainConfig, exc: Exception) -> str:
    placeholder = (
        " (a *.invalid URL is the built-in placeholder)" if ".invalid" in chain.rpc_url else ""
    )
    return (
        f"{chain.name} (chain id {chain.chain_id}): RPC {chain.rpc_url} failed: {exc}. Next: "
        f"check the node, or set rpc_url in its [[chains]] entry{placeholder}; the other "
        "chains are scanned regardless"
    )


def _report_json(report: PollReport) -> dict[str, Any]:
    return {
        "chain": report.chain,
        "head": report.head,
        "safe": report.safe,
        "finalized": report.finalized,
        "scanned_from": report.scanned_from,
        "scanned_to": report.scanned_to,
        "blocks_scanned": report.blocks_scanned,
        "receipts_added": report.receipts_added,
        "receipts_removed": report.receipts_removed,
        "reorgs": [{"old_tip": tip, "common_ancestor": anc} for tip, anc in report.reorgs],
        "state_changes": report.state_changes,
    }


def _poll_with_progress(watcher: ChainWatcher, quiet: bool) -> PollReport:
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=errors, transient=True, disable=quiet) as progress:
        task = progress.add_task(f"scanning {watcher.chain.name}", total=None)
        start: list[int] = []

        def advance(scanned_to: int, head: int) -> None:
            if not start:
                start.append(scanned_to)
            progress.update(task, completed=scanned_to, total=head)

        return watcher.poll(progress=advance)


def watch(
    chain: Annotated[
        str | None,
        typer.Option(
            "--chain", help="Chain name or id (default: every chain with monitored requests)."
        ),
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="Catch up once, then exit.")] = False,
    interval: Annotated[
        float, typer.Option("--interval", min=0.1, help="Seconds between polls.")
    ] = 2.0,
    from_block: Annotated[
        int | None,
        typer.Option("--from-block", min=0, help="First block for a chain never scanned before."),
    ] = None,
    clear_alarm: Annotated[
        str | None,
        typer.Option(
            "--clear-alarm",
            help="Resume a chain halted by a reorg below finality; give the reason (audited).",
        ),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="One JSON object per chain poll.")
    ] = False,
) -> None:
    """Watch deposit addresses on chain: record transfers, follow reorgs and finality.

    Without --chain, scans the chains that have monitored payment requests (re-read every
    poll). A chain that fails is reported and skipped; the others are scanned and committed.
    With --once the exit code is 1 when any chain failed.
    """
    from paybridge_connectors.chain.rpc import RpcError, RpcUnavailable
    from paybridge_connectors.chain.scanner import ChainMovedDuringScan

    from paybridge.chain_sync.watcher import (
        ChainHalted,
        ChainWatcher,
        ReorgBelowFinality,
        clear_halt,
    )

    cfg = config()
    if (from_block is not None or clear_alarm is not None) and chain is None:
        fail("--from-block and --clear-alarm need --chain", code=USAGE_ERROR)
    chosen = _chains(cfg, chain) if chain is not None else None
    eng = engine(cfg)
    if clear_alarm is not None and chosen:
        clear_halt(eng, chosen[0].chain_id, actor="cli", reason=clear_alarm)
    watchers: dict[int, ChainWatcher] = {}
    failed: set[str] = set()
    reported: set[str] = set()
    while True:
        if chosen is not None:
            chains, missing = chosen, {}
        else:
            chains, missing = _monitored_chains(cfg, eng)
            if once and not chains and not missing:
                console.print("no chain has monitored payment requests: nothing to scan")
        for key, problem in missing.items():
            failed.add(key)
            if key not in reported:  # once, not every poll
                errors.print(f"[bold red]Error:[/] {shown(problem)}", highlight=False)
                reported.add(key)
        for chain_cfg in chains:
            watcher = watchers.get(chain_cfg.chain_id)
            if watcher is None:
                watcher = ChainWatcher(chain_cfg, cfg.assets, eng, start_block=from_block)
                watchers[chain_cfg.chain_id] = watcher
            name = chain_cfg.name
            try:
                report = _poll_with_progress(watcher, quiet=json_output)
            except (ChainHalted, ReorgBelowFinality) as exc:
                errors.print(f"[bold red]ALARM[/] {shown(exc)}", highlight=False)
                failed.add(name)
                continue
            except (RpcUnavailable, RpcError, ChainMovedDuringScan) as exc:
                errors.print(
                    f"[yellow]Error:[/] {shown(_unreachable(chain_cfg, exc))}", highlight=False
                )
                failed.add(name)
                continue
            failed.discard(name)
            if json_output:
                print_json(_report_json(report))
            else:
                console.print(
                    f"{shown(name)}: head {report.head} (safe {report.safe}, finalized "
                    f"{report.finalized}), scanned {report.blocks_scanned} block(s), "
                    f"+{report.receipts_added} / -{report.receipts_removed} receipt(s), "
                    f"{len(report.reorgs)} reorg(s), {report.state_changes} state change(s)",
                    highlight=False,
                )
        if once:
            if failed:
                errors.print(
                    f"{len(failed)} chain(s) not scanned (see above); the others were "
                    "scanned and committed",
                    highlight=False,
                )
                raise typer.Exit(1)
            return
        time.sleep(interval)


def _receipt_view(receipt: ChainReceipt, cfg: PayBridgeConfig) -> dict[str, Any]:
    try:
        decimals = cfg.asset(receipt.chain_id, receipt.asset_symbol).decimals
        display = describe_amount(receipt.amount, decimals, receipt.asset_symbol)
    except ConfigError:
        display = f"{receipt.amount} base units {receipt.asset_symbol}"
    return {
        "chain_id": receipt.chain_id,
        "tx_hash": receipt.tx_hash,
        "event_key": receipt.event_key,
        "kind": receipt.kind,
        "direction": receipt.direction,
        "asset": receipt.asset_symbol,
        "asset_address": receipt.asset_address,
        "from": receipt.from_address,
        "to": receipt.to_address,
        "amount": str(receipt.amount),  # kept for scripts: the same as amount_base_units
        "amount_base_units": str(receipt.amount),
        "amount_display": display,
        "block_number": receipt.block_number,
        "block_hash": receipt.block_hash,
        "block_timestamp": receipt.block_timestamp.isoformat(),
        "state": receipt.state,
        "payment_request_id": receipt.payment_request_id,
    }


@receipts_app.callback()
def receipts() -> None:
    """Transfers the chain watcher recorded."""


@receipts_app.command("list")
def list_receipts(
    chain: Annotated[str | None, typer.Option("--chain", help="Chain name or id.")] = None,
    request: Annotated[
        str | None, typer.Option("--request", help="Only receipts of this payment request.")
    ] = None,
    state: Annotated[
        str | None, typer.Option("--state", help="detected, confirmed or finalized.")
    ] = None,
    limit: LimitOption = 1000,
    offset: OffsetOption = 0,
    json_output: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """List recorded receipts, oldest block first (amounts in token units; full hashes)."""
    cfg = config()
    if state is not None and state not in STATES:
        fail(f"--state must be one of {', '.join(STATES)}, not {state!r}", code=USAGE_ERROR)
    query = sa.select(ChainReceipt).order_by(
        ChainReceipt.chain_id, ChainReceipt.block_number, ChainReceipt.id
    )
    if chain is not None:
        query = query.where(ChainReceipt.chain_id == _chains(cfg, chain)[0].chain_id)
    if request is not None:
        query = query.where(ChainReceipt.payment_request_id == request)
    if state is not None:
        query = query.where(ChainReceipt.state == state)
    with Session(engine(cfg)) as session:
        total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
        found = session.scalars(query.offset(offset).limit(limit))
        rows = [_receipt_view(r, cfg) for r in found]
    if json_output:
        print_json(rows)
    else:
        grid = table(
            f"{total} receipts", "block", "transfer", "amount", "state", "request", ids=("request",)
        )
        for row in rows:
            grid.add_row(
                str(row["block_number"]),
                shown(f"{row['tx_hash']} {row['event_key']} {row['direction']} {row['to']}"),
                shown(row["amount_display"]),
                shown(row["state"]),
                shown(row["payment_request_id"] or "-"),
            )
        print_table(
            grid,
            "no receipts match" if total else "no receipts recorded yet; run `paybridge watch`",
        )
    page_notice("receipts", len(rows), total, offset, limit)
