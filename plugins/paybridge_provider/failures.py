"""Runs that fail loudly: refused work fails the task, errors a retry cannot fix skip retries.

A task that stored what it could but refused some of the work (a settlement needing attention,
an invoice that could not become a request) ends failed, so the run is red and the failure
alert names what was refused and the next step. Import, configuration, authentication and
business rejections fail at once (``AirflowFailException``): retrying them only delays the
alert. Everything else (timeouts, 5xx, a chain node hiccup) keeps Airflow's retries.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import NoReturn

from airflow.sdk.exceptions import AirflowFailException

#: how many ids a message lists before "and N more" (the full list is in the task's XCom/log)
SHOWN = 10


class WorkRefused(AirflowFailException):
    """Part of the work was refused; the message says what and what to do next."""


def listing(ids: Sequence[str]) -> str:
    shown = ", ".join(str(i) for i in ids[:SHOWN])
    return shown + (f" and {len(ids) - SHOWN} more" if len(ids) > SHOWN else "")


def refuse(what: str, next_step: str) -> NoReturn:
    raise WorkRefused(f"Refused: {what}. Next step: {next_step}")


def _non_retryable() -> tuple[type[BaseException], ...]:
    from airflow.sdk.exceptions import AirflowNotFoundException  # a missing Connection
    from paybridge_connectors.erp.protocol import ErpRejectedError  # includes ErpAuthError
    from pydantic import ValidationError

    from paybridge.config import ConfigError

    return (
        ImportError,
        ConfigError,
        ValidationError,
        ErpRejectedError,
        LookupError,
        AirflowNotFoundException,
    )


@contextmanager
def fail_fast(subject: str) -> Iterator[None]:
    """Turn errors no retry can fix into an immediate, named task failure."""
    try:
        yield
    except AirflowFailException:
        raise
    except _non_retryable() as exc:
        kind = type(exc).__name__
        raise AirflowFailException(
            f"{subject}: {kind}: {exc}. Not retried: fix the configuration, connection or "
            "ERP record named above, then clear the task to run it again."
        ) from exc
