"""`paybridge addresses ...`: inspect the watch-only deposit addresses of an account xpub.

Useful to check, before going live, that PayBridge derives exactly the addresses the
merchant's wallet shows for the same account.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress

from paybridge.addresses import MAX_ADDRESS_INDEX, InvalidXpubError, WatchOnlyWallet
from paybridge.secrets_guard import PrivateKeyMaterialError

app = typer.Typer(
    help="Watch-only deposit addresses derived from the merchant's account-level xpub.",
    no_args_is_help=True,
)

USAGE_ERROR = 2
MAX_COUNT = 1_000_000
_CHUNK = 5_000  # progress granularity for long runs


@app.callback()
def addresses() -> None:
    """Watch-only deposit addresses derived from the merchant's account-level xpub."""


@app.command("derive")
def derive(
    xpub: Annotated[
        str,
        typer.Option(
            "--xpub",
            help="Account-level xpub (m/44'/60'/0'). Private keys and seed phrases are refused.",
        ),
    ],
    index: Annotated[
        int, typer.Option("--index", min=0, max=MAX_ADDRESS_INDEX, help="First child index i.")
    ],
    count: Annotated[
        int, typer.Option("--count", min=1, max=MAX_COUNT, help="How many addresses.")
    ] = 1,
    json_output: Annotated[
        bool, typer.Option("--json", help='Print a JSON list of {"index", "address"}.')
    ] = False,
) -> None:
    """Print the EIP-55 addresses m/44'/60'/0'/0/i for i = index .. index+count-1."""
    try:
        wallet = WatchOnlyWallet(xpub, where="--xpub")
        if index + count - 1 > MAX_ADDRESS_INDEX:
            raise ValueError(
                f"--index {index} with --count {count} passes the last non-hardened index "
                f"{MAX_ADDRESS_INDEX}"
            )
    except (PrivateKeyMaterialError, InvalidXpubError, ValueError) as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(USAGE_ERROR) from None

    addresses = _derive_with_progress(wallet, index, count)
    if json_output:
        rows = [{"index": index + n, "address": a} for n, a in enumerate(addresses)]
        typer.echo(json.dumps(rows, indent=2))
    else:
        sys.stdout.write("".join(f"{index + n} {a}\n" for n, a in enumerate(addresses)))


def _derive_with_progress(wallet: WatchOnlyWallet, start: int, count: int) -> list[str]:
    """Derive in chunks, with a progress bar on stderr when it is a terminal and work is long."""
    console = Console(stderr=True)
    addresses: list[str] = []
    quiet = count < 2 * _CHUNK or not console.is_terminal  # no bar in logs or short runs
    with Progress(console=console, transient=True, disable=quiet) as progress:
        task = progress.add_task("deriving addresses", total=count)
        for offset in range(0, count, _CHUNK):
            size = min(_CHUNK, count - offset)
            addresses.extend(wallet.addresses(start + offset, size))
            progress.advance(task, size)
    return addresses
