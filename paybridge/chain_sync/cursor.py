"""The chain watcher's cursor and stored block headers, read and written with statements
prepared once per process (``store.prepared``), never through ORM objects.

Why: every poll runs these few statements once or twice each, usually on a new engine (an
Airflow task per poll), whose empty statement cache made SQLAlchemy compile each of them (and
the ORM build its identity map and flush plan) every time: more of a poll's time than the
database spent on them.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa

from paybridge.store.models.chain import ChainBlock, ChainCursor
from paybridge.store.prepared import run

_CURSORS = ChainCursor.__table__
_BLOCKS = ChainBlock.__table__


class CursorState(NamedTuple):
    """What a poll needs of the cursor row."""

    next_block: int
    range_size: int
    finalized_block: int | None
    halted_reason: str | None


def _select_cursor() -> sa.Select[tuple[int, int, int | None, str | None]]:
    c = _CURSORS.c
    return sa.select(c.next_block, c.range_size, c.finalized_block, c.halted_reason).where(
        c.chain_id == sa.bindparam("chain_id")
    )


def _select_cursor_for_update() -> sa.Select[tuple[int, int, int | None, str | None]]:
    return _select_cursor().with_for_update()


def read_cursor(
    connection: sa.Connection, chain_id: int, *, for_update: bool = False
) -> CursorState | None:
    """The cursor of ``chain_id``, or None; ``for_update`` locks its row on PostgreSQL until
    the transaction ends (SQLite: its single writer serializes the writes that follow)."""
    build = _select_cursor_for_update if for_update else _select_cursor
    row = run(connection, build, chain_id=chain_id).first()
    return None if row is None else CursorState(*row)


def _insert_cursor() -> sa.Insert:
    names = ("chain_id", "chain_name", "next_block", "range_size", "updated_at")
    return sa.insert(_CURSORS).values({name: sa.bindparam(f"new_{name}") for name in names})


def create_cursor(
    connection: sa.Connection,
    chain_id: int,
    chain_name: str,
    next_block: int,
    range_size: int,
    now: datetime,
) -> None:
    """Insert the cursor of a chain scanned for the first time (an ``IntegrityError`` if another
    worker inserted it first)."""
    run(
        connection,
        _insert_cursor,
        new_chain_id=chain_id,
        new_chain_name=chain_name,
        new_next_block=next_block,
        new_range_size=range_size,
        new_updated_at=now,
    )


def _cursor_update(*names: str) -> sa.Update:
    """UPDATE of one chain's cursor (``chain_id``): each named column to ``new_<name>``."""
    return (
        sa.update(_CURSORS)
        .where(_CURSORS.c.chain_id == sa.bindparam("chain_id"))
        .values({name: sa.bindparam(f"new_{name}") for name in names})
    )


def _update_advance() -> sa.Update:
    return _cursor_update("next_block", "range_size", "head_block", "updated_at")


def advance_cursor(
    connection: sa.Connection,
    chain_id: int,
    next_block: int,
    range_size: int,
    head_block: int,
    now: datetime,
) -> None:
    """Move the cursor past a committed range."""
    run(
        connection,
        _update_advance,
        chain_id=chain_id,
        new_next_block=next_block,
        new_range_size=range_size,
        new_head_block=head_block,
        new_updated_at=now,
    )


def _update_finality() -> sa.Update:
    return _cursor_update("head_block", "safe_block", "finalized_block", "updated_at")


def record_finality(
    connection: sa.Connection,
    chain_id: int,
    head: int,
    safe: int,
    finalized: int | None,
    now: datetime,
) -> None:
    """The head, safe and finalized blocks the cursor's last finality step saw."""
    run(
        connection,
        _update_finality,
        chain_id=chain_id,
        new_head_block=head,
        new_safe_block=safe,
        new_finalized_block=finalized,
        new_updated_at=now,
    )


def _select_block_hash() -> sa.Select[tuple[str]]:
    c = _BLOCKS.c
    return sa.select(c.hash).where(
        c.chain_id == sa.bindparam("chain_id"), c.number == sa.bindparam("number")
    )


def stored_hash(connection: sa.Connection, chain_id: int, number: int) -> str | None:
    """The hash stored for block ``number``, if it is stored."""
    return run(connection, _select_block_hash, chain_id=chain_id, number=number).scalar()


def _select_blocks() -> sa.Select[tuple[int, str]]:
    c = _BLOCKS.c
    return (
        sa.select(c.number, c.hash)
        .where(c.chain_id == sa.bindparam("chain_id"))
        .order_by(c.number.desc())
    )


def stored_blocks(connection: sa.Connection, chain_id: int) -> list[sa.Row[tuple[int, str]]]:
    """(number, hash) of every stored block, the highest first."""
    return list(run(connection, _select_blocks, chain_id=chain_id).all())


def _select_anchor() -> sa.Select[tuple[int | None]]:
    c = _BLOCKS.c
    return sa.select(sa.func.max(c.number)).where(
        c.chain_id == sa.bindparam("chain_id"), c.number <= sa.bindparam("finalized")
    )


def _delete_below() -> sa.Delete:
    c = _BLOCKS.c
    return sa.delete(_BLOCKS).where(
        c.chain_id == sa.bindparam("chain_id"), c.number < sa.bindparam("anchor")
    )


def drop_finalized_blocks(connection: sa.Connection, chain_id: int, finalized: int) -> None:
    """Forget the stored blocks below the newest one at or below ``finalized`` (that one is
    kept: the anchor a reorg check compares the chain with)."""
    anchor = run(connection, _select_anchor, chain_id=chain_id, finalized=finalized).scalar()
    if anchor is not None:
        run(connection, _delete_below, chain_id=chain_id, anchor=anchor)
