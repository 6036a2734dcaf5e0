"""Start/stop the SAP simulator in a background thread, seed it, run its batch jobs."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from types import TracebackType
from typing import Any

from simulators.faults import FaultConfig
from simulators.sap import clearing
from simulators.sap.ledger import DocumentKey, Ledger, PostingLine, PostingRequest, alpha
from simulators.sap.messages import Message
from simulators.sap.server import SAPServer, User
from simulators.sap.soap import ClearingJob
from simulators.sap.views import cube_row

DEFAULT_CLIENT = "100"
DEFAULT_USER = "PAYBRIDGE"
DEFAULT_PASSWORD = "sim-password"
READ_ONLY_USER = "PAYBRIDGE_RO"  # may read open items, may not post (test-connection's 403)
READ_ONLY_PASSWORD = "sim-password-ro"

# Default chart: the accounts every seeded company code allows (ALPHA form).
DEFAULT_ACCOUNTS = {
    "receivables": "0012100000",
    "clearing": "0011002000",
    "digital_asset_USDC": "0011003000",
    "digital_asset_ETH": "0011003100",
    "gain": "0070010000",
    "loss": "0070020000",
    "write_off": "0070030000",
    "revenue": "0040000000",
}
#: one company code's G/L accounts in the shape of an SAP connection's ``accounts`` setting
#: (digital assets by asset class, write-offs by reason): what `paybridge sim sap` prints and
#: the demo uses
SETTLEMENT_ACCOUNTS = {
    "clearing": DEFAULT_ACCOUNTS["clearing"],
    "digital_asset": {
        "financial_instrument": DEFAULT_ACCOUNTS["digital_asset_USDC"],
        "crypto_asset": DEFAULT_ACCOUNTS["digital_asset_ETH"],
    },
    "gain": DEFAULT_ACCOUNTS["gain"],
    "loss": DEFAULT_ACCOUNTS["loss"],
    "write_off": {"PAYMENT_DIFFERENCE": DEFAULT_ACCOUNTS["write_off"]},
    "receivables": DEFAULT_ACCOUNTS["receivables"],
}
DEFAULT_COMPANY_CODES = {
    "1010": ("EUR", "DE"),
    "1710": ("USD", "US"),
    "2910": ("JPY", "JP"),
    "4010": ("KWD", "KW"),
}
DEFAULT_CUSTOMERS = {"17100001": "Acme Trading", "17100002": "Globex", "17100003": "Initech"}
BLOCKED_CUSTOMER = "17100009"


@dataclass
class SAPSimulator:
    """A loopback SAP system (S/4HANA or ECC). Context manager, or start()/stop()."""

    host: str = "127.0.0.1"
    port: int = 0
    client: str = DEFAULT_CLIENT
    user: str = DEFAULT_USER
    password: str = DEFAULT_PASSWORD
    system: str = "S4"
    faults: FaultConfig = field(default_factory=FaultConfig)
    clearing_delay_s: float = 0.2
    page_size: int = 1000
    session_idle_s: float = 60.0
    seed_basics: bool = True
    ledger: Ledger = field(default_factory=Ledger)
    clearing_log: list[tuple[ClearingJob, str]] = field(default_factory=list)
    _server: SAPServer | None = None
    _pending: list[tuple[float, ClearingJob]] = field(default_factory=list)
    _wake: threading.Condition = field(default_factory=threading.Condition)
    _stopping: bool = False

    def __post_init__(self) -> None:
        if self.system not in ("S4", "ECC"):
            raise ValueError(f"system must be 'S4' or 'ECC', not {self.system!r}")
        if self.seed_basics:
            self._seed_basics()

    def _seed_basics(self) -> None:
        this_year = datetime.now(UTC).year
        for code, (currency_code, country) in DEFAULT_COMPANY_CODES.items():
            self.ledger.add_company_code(code, currency_code, country)
            for account in DEFAULT_ACCOUNTS.values():
                self.ledger.add_gl_account(code, account)
            for year in range(this_year - 3, this_year - 1):
                for period in range(1, 13):
                    self.ledger.set_period_open(code, year, period, open=False)
        everywhere = tuple(DEFAULT_COMPANY_CODES)
        for number, name in DEFAULT_CUSTOMERS.items():
            self.ledger.add_customer(number, name, everywhere)
        self.ledger.add_customer(BLOCKED_CUSTOMER, "Blocked Ltd", everywhere, blocked=True)

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> SAPSimulator:
        users = {
            self.user.upper(): User(self.password, frozenset({"read", "post", "rfc"})),
            READ_ONLY_USER: User(READ_ONLY_PASSWORD, frozenset({"read"})),
        }
        self._server = SAPServer(
            (self.host, self.port),
            self.ledger,
            self.client,
            users,
            self.faults,
            self.page_size,
            self.session_idle_s,
            self._schedule,
        )
        self.port = self._server.server_address[1]
        threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="sap-sim", daemon=True
        ).start()
        threading.Thread(target=self._clearing_worker, name="sap-sim-clearing", daemon=True).start()
        return self

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> SAPSimulator:
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

    def airflow_connection(
        self, company_codes: str, conn_type: str = "sap_s4", **extra: object
    ) -> dict[str, Any]:
        """This system as an Airflow Connection of ``conn_type`` (``sap_s4`` or ``sap_rfc``),
        logged on as the posting user; ``extra``: more extra fields (``accounts``, ...)."""
        return {
            "conn_type": conn_type,
            "host": self.base_url,
            "login": self.user,
            "password": self.password,
            "extra": {"client": self.client, "company_codes": company_codes, **extra},
        }

    @property
    def server(self) -> SAPServer:
        if self._server is None:
            raise RuntimeError("simulator not started")
        return self._server

    def set_faults(self, faults: FaultConfig) -> None:
        """Change fault injection while running (e.g. clean seeding, then chaos)."""
        self.faults = faults
        if self._server is not None:
            self._server.injector.reconfigure(faults)

    # ---------------------------------------------------------------- seeding
    def seed_open_item(
        self,
        company_code: str,
        customer: str,
        amount: Decimal,
        currency: str,
        reference: str = "",
        assignment: str = "",
        posting_date: date | None = None,
        document_type: str = "DR",
        revenue_account: str = DEFAULT_ACCOUNTS["revenue"],
    ) -> DocumentKey:
        """A customer invoice (debit customer, credit revenue); returns the customer item's key."""
        when = posting_date or datetime.now(UTC).date()
        request = PostingRequest(
            company_code,
            document_type,
            when,
            when,
            currency,
            [
                PostingLine("D", alpha(customer), amount, assignment=assignment, text=reference),
                PostingLine("S", alpha(revenue_account), -amount, text=reference),
            ],
            reference=reference,
            created_by="SEED",
        )
        document, messages = self.ledger.post(request)
        if document is None:
            raise ValueError("; ".join(m.text for m in messages if m.type in "EA"))
        return DocumentKey(company_code, document.fiscal_year, document.number, "001")

    def item(self, key: DocumentKey) -> dict[str, object] | None:
        """One item as A_OperationalAcctgDocItemCube shows it (OData property names)."""
        with self.ledger.lock:
            doc = self.ledger.documents.get(key.document)
            line = self.ledger.line(key)
            return None if doc is None or line is None else cube_row(self.ledger, doc, line)

    # ---------------------------------------------------------------- batch jobs
    def run_automatic_clearing(
        self, company_code: str, posting_date: date | None = None
    ) -> list[str]:
        """Test hook standing in for the scheduled F.13 job: clears by assignment (ZUONR)."""
        return clearing.automatic_clearing(
            self.ledger, company_code, posting_date or datetime.now(UTC).date()
        )

    def _schedule(self, jobs: list[ClearingJob]) -> None:
        due = time.monotonic() + self.clearing_delay_s
        with self._wake:
            self._pending.extend((due, job) for job in jobs)
            self._wake.notify_all()

    def _clearing_worker(self) -> None:
        while True:
            with self._wake:
                while not self._stopping and not self._due():
                    wait = (
                        min((d for d, _ in self._pending), default=time.monotonic() + 1)
                        - time.monotonic()
                    )
                    self._wake.wait(max(0.01, min(wait, 1.0)))
                if self._stopping:
                    return
            self._apply_due(time.monotonic())

    def _due(self) -> bool:
        now = time.monotonic()
        return any(d <= now for d, _ in self._pending)

    def _apply_due(self, now: float) -> None:
        with self._wake:
            ready = [job for d, job in self._pending if d <= now]
            self._pending = [(d, job) for d, job in self._pending if d > now]
        for job in ready:
            if job.refused:
                outcome = job.refused
            else:
                number, messages = clearing.clear(
                    self.ledger,
                    job.company_code,
                    job.keys,
                    job.posting_date,
                    job.document_type or "AB",
                    job.created_by,
                )
                outcome = number or "; ".join(_described(m) for m in messages)
            self.clearing_log.append((job, outcome))

    def wait_for_clearings(self) -> None:
        """Test hook: apply every queued bulk clearing now instead of after clearing_delay_s."""
        self._apply_due(float("inf"))


def _described(message: Message) -> str:
    """Message text with its variables, for the clearing log ("... (-20.00 EUR)")."""
    return message.text + (f" ({', '.join(message.variables)})" if message.variables else "")
