"""Fault injection shared by the simulators: what goes wrong, how often, decided per request.

The NetSuite simulator has its own copy of these fields (``simulators.netsuite.FaultConfig``);
the SAP simulator uses this module so the next simulator does not copy them a third time.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from enum import Enum

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class FaultConfig:
    """What goes wrong, and how often. Rates are per request, drawn from a seeded RNG."""

    latency_s: float = 0.0
    error_5xx_rate: float = 0.0
    rate_429: float = 0.0
    commit_then_drop_rate: float = 0.0
    retry_after_s: int | None = 1
    writes_only: bool = False  # apply faults to writes (POST/PUT/PATCH/DELETE) only
    seed: int = 0

    def __post_init__(self) -> None:
        rates = (self.error_5xx_rate, self.rate_429, self.commit_then_drop_rate)
        if any(not 0 <= rate <= 1 for rate in rates) or sum(rates) > 1:
            raise ValueError(
                "fault rates must each be within 0..1 and together not exceed 1 "
                f"(got 5xx={self.error_5xx_rate}, 429={self.rate_429}, "
                f"drop={self.commit_then_drop_rate})"
            )


class Fault(Enum):
    """The outcome of one draw: answer normally, refuse up front, or do the work and drop."""

    NONE = "none"
    TOO_MANY_REQUESTS = "429"
    SERVER_ERROR = "500"
    SERVICE_UNAVAILABLE = "503"
    COMMIT_THEN_DROP = "drop"


class FaultInjector:
    """Seeded, thread-safe decisions so a chaos run can be repeated exactly."""

    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self._rng = random.Random(config.seed)
        self._lock = threading.Lock()

    def reconfigure(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)

    def decide(self, method: str) -> Fault:
        """Sleep the configured latency, then draw this request's fault (if it is eligible)."""
        config = self.config
        if config.latency_s:
            time.sleep(config.latency_s)
        if config.writes_only and method not in WRITE_METHODS:
            return Fault.NONE
        with self._lock:
            roll = self._rng.random()
            half = self._rng.random() < 0.5
        if roll < config.rate_429:
            return Fault.TOO_MANY_REQUESTS
        roll -= config.rate_429
        if roll < config.error_5xx_rate:
            return Fault.SERVICE_UNAVAILABLE if half else Fault.SERVER_ERROR
        roll -= config.error_5xx_rate
        if roll < config.commit_then_drop_rate:
            return Fault.COMMIT_THEN_DROP
        return Fault.NONE
