"""`paybridge audit log`: who did what, when, to which record, and why (read-only).

Filters by entity, user and time; each entry shows what changed (fields before -> after).
Wired in ``paybridge.cli.audit``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import sqlalchemy as sa
import typer
from sqlalchemy.orm import Session

from paybridge.cli.context import (
    USAGE_ERROR,
    JsonOption,
    config,
    engine,
    fail,
    print_json,
    shown,
)
from paybridge.cli.display import LimitOption, OffsetOption, cell, page_notice, print_table, table
from paybridge.store.models import AuditEntry


def _when(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(
            f"{option} {value!r}: expected ISO 8601, e.g. 2026-11-30 or 2026-11-30T09:00:00Z",
            code=USAGE_ERROR,
        )
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _loaded(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def changes(before: Any, after: Any) -> str:
    """``status: pending -> completed; amount_received: 0 -> 5000000`` for the fields that
    differ (a whole value when the entry holds no field mapping)."""
    if isinstance(before, dict) and isinstance(after, dict):
        keys = [k for k in {**before, **after} if before.get(k) != after.get(k)]
        return "; ".join(f"{k}: {before.get(k, '-')} -> {after.get(k, '-')}" for k in keys)
    if isinstance(after, dict) and before is None:
        return "; ".join(f"{k}: {v}" for k, v in after.items())
    if before is None and after is None:
        return ""
    return f"{before if before is not None else '-'} -> {after if after is not None else '-'}"


def entry_view(entry: AuditEntry) -> dict[str, Any]:
    before, after = _loaded(entry.before), _loaded(entry.after)
    return {
        "seq": entry.seq,
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "action": entry.action,
        "entity_type": entry.entity_type,
        "entity_id": entry.entity_id,
        "reason": entry.reason,
        "before": before,
        "after": after,
        "changes": changes(before, after),
    }


def audit_log(
    entity: Annotated[
        str | None,
        typer.Option(
            "--entity",
            help="An entity id (pr_..., pb-..., EX-...), a type (payment_request) or TYPE:ID.",
        ),
    ] = None,
    user: Annotated[
        str | None,
        typer.Option("--user", help="Who acted: exact actor, or the name after 'cli:' etc."),
    ] = None,
    action: Annotated[str | None, typer.Option("--action", help="Only this action.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="From this time on (ISO 8601, UTC default).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Before this time (ISO 8601, UTC default).")
    ] = None,
    limit: LimitOption = 100,
    offset: OffsetOption = 0,
    json_output: JsonOption = False,
) -> None:
    """Who did what: audit entries newest first, with the fields each one changed.

    Reading the log changes nothing; `paybridge audit verify` checks it was not altered."""
    query = sa.select(AuditEntry)
    if entity is not None:
        kind, _, ident = entity.partition(":")
        query = query.where(
            sa.or_(
                AuditEntry.entity_id == entity,
                AuditEntry.entity_type == entity,
                sa.and_(AuditEntry.entity_type == kind, AuditEntry.entity_id == ident),
            )
        )
    if user is not None:
        query = query.where(
            sa.or_(AuditEntry.actor == user, AuditEntry.actor.like(f"%:{_like(user)}", "\\"))
        )
    if action is not None:
        query = query.where(AuditEntry.action == action)
    start, end = _when(since, "--since"), _when(until, "--until")
    if start is not None:
        query = query.where(AuditEntry.at >= start)
    if end is not None:
        query = query.where(AuditEntry.at < end)
    with Session(engine(config())) as session:
        total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
        entries = session.scalars(query.order_by(AuditEntry.seq.desc()).offset(offset).limit(limit))
        views = [entry_view(e) for e in entries]
    if json_output:
        print_json(views)
    else:
        grid = table(
            f"{total} audit entries",
            "#",
            "when (UTC)",
            "who",
            "did",
            "to",
            "what changed / why",
            ids=("to",),
        )
        for view in views:
            why = [
                line
                for line in (view["changes"], view["reason"] and f"why: {view['reason']}")
                if line
            ]
            grid.add_row(
                str(view["seq"]),
                cell(view["at"][:10], view["at"][11:19]),
                shown(view["actor"]),
                shown(view["action"]),
                cell(view["entity_type"], view["entity_id"]),
                cell(*why) if why else "-",
            )
        print_table(grid, "no audit entries match")
    page_notice("audit entries", len(views), total, offset, limit)


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
