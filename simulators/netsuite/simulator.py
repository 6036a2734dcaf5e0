"""Start/stop the NetSuite simulator in a background thread (tests, demo, CLI)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from types import TracebackType
from typing import Any

from simulators.netsuite.oauth import SignatureVerifier, TokenGrant
from simulators.netsuite.server import FaultConfig, SimulatorServer
from simulators.netsuite.state import Account

DEFAULT_ACCOUNT_ID = "1234567_SB1"
DEFAULT_GRANT = TokenGrant(
    consumer_key="sim-consumer-key",
    consumer_secret="sim-consumer-secret",
    token_id="sim-token-id",
    token_secret="sim-token-secret",
)
# A role without transaction permissions, for test_connection's "missing permission" answer.
READ_ONLY_GRANT = TokenGrant(
    consumer_key="sim-consumer-key",
    consumer_secret="sim-consumer-secret",
    token_id="sim-token-customers-only",
    token_secret="sim-token-secret-2",
    permissions=frozenset({"customer"}),
)


@dataclass
class NetSuiteSimulator:
    """A loopback NetSuite account. Use as a context manager or call start()/stop()."""

    account_id: str = DEFAULT_ACCOUNT_ID
    grants: tuple[TokenGrant, ...] = (DEFAULT_GRANT, READ_ONLY_GRANT)
    faults: FaultConfig = field(default_factory=FaultConfig)
    # Account concurrency limit = service tier base + 10 per SuiteCloud Plus licence (Oracle:
    # "Web Services and RESTlet Concurrency Governance"); Standard tier + 1 licence = 15.
    service_tier_base: int = 5
    suitecloud_plus_licenses: int = 1
    concurrency_limit: int | None = None
    # The user's time-zone preference, used by SuiteQL TO_CHAR/TO_TIMESTAMP on timestamps.
    time_zone: str = "UTC"
    host: str = "127.0.0.1"
    port: int = 0
    account: Account = field(default_factory=Account)
    _server: SimulatorServer | None = None
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        if self.concurrency_limit is None:
            self.concurrency_limit = self.service_tier_base + 10 * self.suitecloud_plus_licenses
        self.account.time_zone = self.time_zone
        self.account.seed_basics()

    def start(self) -> NetSuiteSimulator:
        verifier = SignatureVerifier(self.account_id, {g.token_id: g for g in self.grants})
        self._server = SimulatorServer(
            (self.host, self.port),
            self.account,
            verifier,
            self.faults,
            self.concurrency_limit or 15,
        )
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="netsuite-sim", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> NetSuiteSimulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def airflow_connection(self, accounts: object, **extra: object) -> dict[str, Any]:
        """This account as a ``netsuite`` Airflow Connection (the ``AIRFLOW_CONN_*`` JSON an
        ERP admin writes), signed with the default token grant; ``extra``: more extra fields
        (``payment_chain``, ``payment_asset``, ...)."""
        return {
            "conn_type": "netsuite",
            "extra": {
                "account": self.account_id,
                "consumer_key": DEFAULT_GRANT.consumer_key,
                "consumer_secret": DEFAULT_GRANT.consumer_secret,
                "token_id": DEFAULT_GRANT.token_id,
                "token_secret": DEFAULT_GRANT.token_secret,
                "base_url": self.base_url,
                "accounts": accounts,
                **extra,
            },
        }

    @property
    def server(self) -> SimulatorServer:
        if self._server is None:
            raise RuntimeError("simulator not started")
        return self._server

    def set_faults(self, faults: FaultConfig) -> None:
        """Change fault injection while running (e.g. clean seeding, then chaos)."""
        import random

        self.faults = faults
        if self._server is not None:
            self._server.faults = faults
            self._server.rng = random.Random(faults.seed)

    def seed_invoices(
        self,
        count: int,
        customers: int = 10,
        amount: Decimal = Decimal("100.00"),
        currency_id: int = 1,
        last_modified: datetime | None = None,
    ) -> list[int]:
        """``count`` open invoices spread over ``customers`` new customers."""
        stamp = (last_modified or datetime.now(UTC)).replace(microsecond=0, tzinfo=None)
        customer_ids = [
            self.account.add_customer(f"Customer {i}", currency_id) for i in range(customers)
        ]
        return [
            self.account.add_invoice(
                customer_ids[i % len(customer_ids)],
                amount + Decimal(i % 97),
                currency_id,
                last_modified=stamp,
            )
            for i in range(count)
        ]
