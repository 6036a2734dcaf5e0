"""Many refusals of the same kind, told once: counts per reason, a few examples, the next step.

A run that skips 1,000 invoices for one reason prints one line for that reason, not 1,000;
``--json`` output keeps the full list for scripts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from paybridge.cli.context import errors, shown

EXAMPLES = 3


def group(problems: Iterable[tuple[str, str]], examples: int = EXAMPLES) -> list[dict[str, Any]]:
    """(item, reason) pairs -> [{reason, count, examples}], most frequent reason first."""
    grouped: dict[str, list[str]] = {}
    for item, reason in problems:
        grouped.setdefault(reason, []).append(item)
    ordered = sorted(grouped.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return [
        {"reason": reason, "count": len(items), "examples": items[:examples]}
        for reason, items in ordered
    ]


def report(headline: str, problems: Iterable[tuple[str, str]], next_step: str) -> None:
    """Print the grouped problems and the next step on stderr."""
    errors.print(f"[bold red]{shown(headline)}[/]", highlight=False)
    for entry in group(problems):
        more = entry["count"] - len(entry["examples"])
        examples = ", ".join(entry["examples"]) + (f" (+{more} more)" if more else "")
        reason = shown(entry["reason"])
        errors.print(f"  {entry['count']} x {reason}", highlight=False, soft_wrap=True)
        errors.print(f"      e.g. {shown(examples)}", highlight=False, soft_wrap=True)
    errors.print(f"[yellow]Next:[/] {shown(next_step)}", highlight=False, soft_wrap=True)
