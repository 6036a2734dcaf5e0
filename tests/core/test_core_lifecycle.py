"""Lifecycle transitions are enforced, and every change yields an audit event."""

from __future__ import annotations

import pytest

from paybridge.requests.lifecycle import ALLOWED, IllegalTransition, Status, transition
from paybridge.store.models import PaymentRequest


def _request(status: Status) -> PaymentRequest:
    return PaymentRequest(
        id="pr_test",
        status=status.value,
        paid_partial=False,
        paid_over=False,
        paid_late=False,
        marked=False,
        amount_received=0,
        amount_confirmed=0,
    )


HAPPY_PATH = [Status.DETECTED, Status.CONFIRMED, Status.COMPLETED]


def test_happy_path_is_audited() -> None:
    request = _request(Status.NEW)
    events = [transition(request, s, actor="watcher", reason="receipt") for s in HAPPY_PATH]
    assert request.status == "completed"
    assert [e.action for e in events] == [
        "status:new->detected",
        "status:detected->confirmed",
        "status:confirmed->completed",
    ]
    assert events[0].before["status"] == "new" and events[0].after["status"] == "detected"


@pytest.mark.parametrize(
    ("start", "target"),
    [(s, t) for s in Status for t in Status if t != s and t not in ALLOWED[s]],
)
def test_illegal_transitions_raise(start: Status, target: Status) -> None:
    request = _request(start)
    with pytest.raises(IllegalTransition, match=f"cannot go from {start} to {target}"):
        transition(request, target, actor="x", reason="y")
    assert request.status == start.value  # unchanged


def test_final_states_are_final() -> None:
    assert ALLOWED[Status.COMPLETED] == frozenset() and ALLOWED[Status.INVALID] == frozenset()


def test_late_payment_reopens_an_expired_request_with_flag() -> None:
    request = _request(Status.EXPIRED)
    event = transition(
        request, Status.DETECTED, actor="watcher", reason="late receipt", flags={"paid_late": True}
    )
    assert request.status == "detected" and request.paid_late
    assert event.after["paid_late"] is True and event.before["paid_late"] is False


def test_flag_only_update_and_unknown_flags() -> None:
    request = _request(Status.DETECTED)
    event = transition(
        request, Status.DETECTED, actor="w", reason="second transfer", flags={"paid_partial": True}
    )
    assert event.action == "update" and request.paid_partial
    with pytest.raises(ValueError, match="unknown flags"):
        transition(request, Status.DETECTED, actor="w", reason="r", flags={"paid_twice": True})
