"""Internal ETH transfers from ``debug_traceBlockByNumber`` with geth's ``callTracer``.

A Safe or any contract wallet pays by an inner CALL carrying value; such transfers leave no log
and no top-level ``to``. Only frames whose whole ancestry succeeded moved money: a reverted
parent undoes its children, so an ``error`` anywhere above a frame voids it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

VALUE_FRAME_TYPES = frozenset({"CALL", "CREATE", "CREATE2", "SELFDESTRUCT"})


def internal_value_transfers(
    root: dict[str, Any],
) -> Iterator[tuple[str, str, str, int]]:
    """Yield (trace_address, from, to, value) for successful value-carrying inner frames.

    The top-level frame (the transaction itself) is not yielded: its value is the tx value.
    Trace addresses follow Parity's convention: child indices joined by dots ("0", "0.1").
    """
    if root.get("error"):
        return
    stack: list[tuple[dict[str, Any], tuple[int, ...]]] = [(root, ())]
    while stack:
        frame, path = stack.pop()
        children = frame.get("calls") or []
        for index in range(len(children) - 1, -1, -1):
            child = children[index]
            if child.get("error"):
                continue  # reverted: neither it nor its subtree moved anything
            child_path = (*path, index)
            value = int(child.get("value") or "0x0", 16)
            if value and str(child.get("type", "")).upper() in VALUE_FRAME_TYPES:
                yield (
                    ".".join(map(str, child_path)),
                    str(child.get("from", "")).lower(),
                    str(child.get("to", "")).lower(),
                    value,
                )
            stack.append((child, child_path))
