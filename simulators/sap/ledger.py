"""A small SAP FI ledger: company codes, periods, G/L accounts, customers, documents, clearing.

Amounts are kept in SAP's *internal* format (two decimals, shifted for currencies whose decimals
are not two, see ``currency.py``); every interface converts. Each rule cites its SAP source in
``simulators/sap/README.md``. Thread-safe: one lock around every read and write.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from simulators.sap import currency
from simulators.sap.messages import Message, msg

RECEIVABLES_RECON = "0012100000"
FIRST_DOCUMENT_NUMBER = 100_000_000


def alpha(value: str, length: int = 10) -> str:
    """SAP's ALPHA conversion exit: numeric values get leading zeros, others stay as typed."""
    text = value.strip()
    return text.zfill(length) if text.isdigit() and len(text) <= length else text.upper()


@dataclass(frozen=True)
class DocumentKey:
    company_code: str
    fiscal_year: str
    accounting_document: str
    item: str  # three digits, as AccountingDocumentItem in the cube

    @property
    def document(self) -> tuple[str, str, str]:
        return (self.company_code, self.fiscal_year, self.accounting_document)


@dataclass
class CompanyCode:
    code: str
    currency: str
    country: str
    name: str
    closed_periods: set[tuple[int, int]] = field(default_factory=set)
    gl_accounts: dict[str, str] = field(default_factory=dict)
    exchange_rates: dict[str, Decimal] = field(default_factory=dict)  # foreign -> local rate


@dataclass
class Customer:
    number: str
    name: str
    company_codes: set[str]
    blocked_in: set[str] = field(default_factory=set)


@dataclass
class PostingLine:
    """One line of a posting request; ``amount`` is external and signed (debit > 0)."""

    account_type: str  # "S" G/L account, "D" customer
    account: str
    amount: Decimal
    local_amount: Decimal | None = None
    assignment: str = ""
    text: str = ""
    reason_code: str = ""


@dataclass
class PostingRequest:
    company_code: str
    document_type: str
    posting_date: date
    document_date: date
    currency: str
    lines: list[PostingLine]
    reference: str = ""  # XBLNR / DocumentReferenceID
    header_text: str = ""
    created_by: str = ""
    exchange_rate: Decimal | None = None
    fiscal_period: int | None = None
    object_key: str = ""  # AWKEY given by the sender (BAPI OBJ_KEY, SOAP OriginalReferenceDocument)


@dataclass
class Line:
    item: int
    account_type: str
    gl_account: str
    customer: str
    amount: Decimal  # internal, signed, transaction currency
    local_amount: Decimal  # internal, signed, company code currency
    assignment: str
    text: str
    reason_code: str
    clearing_document: str = ""
    clearing_year: str = ""
    clearing_date: date | None = None
    clearing_created: date | None = None


@dataclass
class Document:
    company_code: str
    fiscal_year: str
    number: str
    document_type: str
    posting_date: date
    document_date: date
    period: int
    currency: str
    local_currency: str
    exchange_rate: Decimal
    reference: str
    header_text: str
    created_by: str
    created_at: datetime
    object_key: str
    lines: list[Line]
    committed: bool = True
    changed_on: date | None = None
    revision: int = 0  # bumped when the document changes (commit, clearing): views cache by it


class Ledger:
    """The FI ledger of one simulated client."""

    def __init__(self, duplicate_reference: str = "W") -> None:
        self.lock = threading.RLock()
        self.company_codes: dict[str, CompanyCode] = {}
        self.customers: dict[str, Customer] = {}
        self.documents: dict[tuple[str, str, str], Document] = {}
        self._next_number: dict[tuple[str, str], int] = defaultdict(lambda: FIRST_DOCUMENT_NUMBER)
        self.duplicate_reference = duplicate_reference  # message type of F5 117: "W" or "E"
        self.version = 0  # bumped on every change: readers cache views per version
        # Indexes for the duplicate checks (posting stays O(1) with 100,000 documents).
        self._references: set[tuple[str, str]] = set()  # (company code, XBLNR), committed
        self._object_keys: set[str] = set()  # AWKEY, committed or pending in a LUW

    # ------------------------------------------------------------------ master data
    def add_company_code(
        self, code: str, currency: str, country: str = "DE", name: str | None = None
    ) -> None:
        with self.lock:
            self.company_codes[code] = CompanyCode(code, currency, country, name or f"Co {code}")

    def set_period_open(self, code: str, year: int, period: int, open: bool = True) -> None:
        with self.lock:
            periods = self.company_codes[code].closed_periods
            (periods.discard if open else periods.add)((year, period))

    def add_gl_account(self, code: str, account: str, name: str = "") -> None:
        with self.lock:
            self.company_codes[code].gl_accounts[alpha(account)] = name

    def set_exchange_rate(self, code: str, foreign: str, rate: Decimal) -> None:
        """Direct quotation: 1 unit of ``foreign`` = ``rate`` units of the company currency."""
        with self.lock:
            self.company_codes[code].exchange_rates[foreign] = rate

    def add_customer(
        self, number: str, name: str, company_codes: tuple[str, ...], blocked: bool = False
    ) -> str:
        key = alpha(number)
        with self.lock:
            self.customers[key] = Customer(
                key, name, set(company_codes), set(company_codes) if blocked else set()
            )
        return key

    def set_customer_blocked(self, number: str, code: str, blocked: bool = True) -> None:
        with self.lock:
            blocked_in = self.customers[alpha(number)].blocked_in
            (blocked_in.add if blocked else blocked_in.discard)(code)

    # ------------------------------------------------------------------ posting
    def check(self, request: PostingRequest) -> list[Message]:
        """Every error SAP would raise for this posting (empty list: it would post)."""
        with self.lock:
            return self._check(request)

    def _check(self, request: PostingRequest) -> list[Message]:
        company = self.company_codes.get(request.company_code)
        if company is None:
            return [msg("E", "F5", "165", request.company_code)]
        errors: list[Message] = []
        year, period = request.posting_date.year, request.posting_date.month
        if request.fiscal_period not in (None, period):
            errors.append(msg("E", "F5", "201", f"{request.fiscal_period:03d}", str(year)))
        if (year, period) in company.closed_periods:
            errors.append(msg("E", "F5", "201", f"{period:03d}", str(year)))
        if len(request.lines) < 2:
            errors.append(msg("E", "F5", "703"))
        places = currency.decimals(request.currency)
        total = Decimal(0)
        for index, line in enumerate(request.lines, start=1):
            # Accounts arrive in internal format (ALPHA already applied by the interface):
            # an RFC caller that sends "11002000" for 0011002000 gets "not defined", as in SAP.
            if line.account_type == "S":
                if line.account not in company.gl_accounts:
                    errors.append(msg("E", "F5", "153", line.account, company.code))
            elif line.account_type == "D":
                customer = self.customers.get(line.account)
                if customer is None or company.code not in customer.company_codes:
                    errors.append(msg("E", "F5", "155", line.account, company.code))
                elif company.code in customer.blocked_in:
                    errors.append(msg("E", "F5", "351", line.account, company.code))
            else:
                errors.append(msg("E", "F5", "808", line.account_type, str(index)))
            try:
                currency.to_internal(line.amount, request.currency)
            except currency.AmountFormatError:
                errors.append(msg("E", "BK", "119", str(line.amount), request.currency, places))
            if line.amount == 0:
                errors.append(msg("E", "F5", "231", str(index)))
            total += line.amount
        if total != 0:
            errors.append(msg("E", "F5", "702", f"{total} {request.currency}"))
        locals_given = [line.local_amount for line in request.lines]
        if all(v is not None for v in locals_given) and sum(locals_given, Decimal(0)) != 0:
            local_total = sum(locals_given, Decimal(0))
            errors.append(
                msg("E", "FINS_FI_POSTING_IF", "017", f"{local_total} {company.currency}")
            )
        if (
            request.currency != company.currency
            and request.exchange_rate is None
            and request.currency not in company.exchange_rates
            and any(line.local_amount is None for line in request.lines)
        ):
            errors.append(
                msg(
                    "E",
                    "SG",
                    "105",
                    request.currency,
                    company.currency,
                    "M",
                    str(request.posting_date),
                )
            )
        if request.object_key and request.object_key in self._object_keys:
            errors.append(msg("E", "RW", "021", "BKPFF", request.object_key, request.company_code))
        if request.reference and (request.company_code, request.reference) in self._references:
            errors.append(msg(self.duplicate_reference, "F5", "117", request.reference))
        return errors

    def post(
        self, request: PostingRequest, committed: bool = True
    ) -> tuple[Document | None, list[Message]]:
        """Check, then post. ``committed=False`` keeps it pending for a LUW (see rollback)."""
        with self.lock:
            messages = self._check(request)
            if any(m.type in "EA" for m in messages):
                return None, messages
            return self.book(request, committed), messages

    def book(self, request: PostingRequest, committed: bool) -> Document:
        company = self.company_codes[request.company_code]
        year = str(request.posting_date.year)
        number = self._draw_number(company.code, year)
        rate = request.exchange_rate or company.exchange_rates.get(request.currency, Decimal(1))
        lines = []
        for item, line in enumerate(request.lines, start=1):
            amount = currency.to_internal(line.amount, request.currency)
            if line.local_amount is not None:
                local = currency.to_internal(line.local_amount, company.currency)
            else:
                external = (
                    line.amount if request.currency == company.currency else line.amount * rate
                )
                places = Decimal(1).scaleb(-currency.decimals(company.currency))
                local = currency.to_internal(external.quantize(places), company.currency)
            customer = line.account if line.account_type == "D" else ""
            lines.append(
                Line(
                    item=item,
                    account_type=line.account_type,
                    gl_account=RECEIVABLES_RECON if customer else line.account,
                    customer=customer,
                    amount=amount,
                    local_amount=local,
                    assignment=line.assignment,
                    text=line.text,
                    reason_code=line.reason_code,
                )
            )
        document = Document(
            company_code=company.code,
            fiscal_year=year,
            number=number,
            document_type=request.document_type,
            posting_date=request.posting_date,
            document_date=request.document_date,
            period=request.posting_date.month,
            currency=request.currency,
            local_currency=company.currency,
            exchange_rate=rate,
            reference=request.reference,
            header_text=request.header_text,
            created_by=request.created_by,
            created_at=datetime.now(UTC),
            object_key=request.object_key,
            lines=lines,
            committed=committed,
        )
        self.documents[(company.code, year, number)] = document
        if document.object_key:
            self._object_keys.add(document.object_key)
        if committed and document.reference:
            self._references.add((document.company_code, document.reference))
        self.version += 1
        return document

    def reserve_number(self, code: str, year: str) -> str:
        """Use up a document number without posting (leaves a gap, as SAP's test run per entry)."""
        with self.lock:
            return self._draw_number(code, year)

    def _draw_number(self, code: str, year: str) -> str:
        value = self._next_number[(code, year)]
        self._next_number[(code, year)] = value + 1
        return f"{value:010d}"

    def commit(self, keys: list[tuple[str, str, str]]) -> None:
        with self.lock:
            for key in keys:
                doc = self.documents.get(key)
                if doc is not None:
                    doc.committed = True
                    doc.revision += 1
                    if doc.reference:
                        self._references.add((doc.company_code, doc.reference))
            self.version += 1

    def rollback(self, keys: list[tuple[str, str, str]]) -> None:
        """Discard uncommitted documents; their numbers stay used (a gap, as with buffering)."""
        with self.lock:
            for key in keys:
                doc = self.documents.get(key)
                if doc is not None and not doc.committed:
                    del self.documents[key]
                    self._object_keys.discard(doc.object_key)
            self.version += 1

    def line(self, key: DocumentKey) -> Line | None:
        doc = self.documents.get(key.document)
        if doc is None or not doc.committed:
            return None
        for line in doc.lines:
            if f"{line.item:03d}" == key.item.zfill(3)[-3:]:
                return line
        return None

    # ------------------------------------------------------------------ reading
    def item_open(self, key: DocumentKey) -> bool:
        """True when the (committed) item exists and is not cleared."""
        with self.lock:
            line = self.line(key)
            return line is not None and not line.clearing_document

    def committed_documents(self, company_code: str | None = None) -> list[Document]:
        with self.lock:
            return [
                doc
                for doc in self.documents.values()
                if doc.committed and company_code in (None, doc.company_code)
            ]

    def trial_balance(self, company_code: str, fiscal_year: int) -> dict[str, Decimal]:
        """Balance per G/L account in company-code currency, external, debit positive."""
        with self.lock:
            local = self.company_codes[company_code].currency
            totals: dict[str, Decimal] = defaultdict(Decimal)
            for doc in self.committed_documents(company_code):
                if doc.fiscal_year == str(fiscal_year):
                    for line in doc.lines:
                        totals[line.gl_account] += line.local_amount
            return {
                account: currency.to_external(v, local) for account, v in sorted(totals.items())
            }

    def gl_lines(self, company_code: str) -> list[dict[str, object]]:
        """Every committed line as the G/L sees it, for line-by-line tie-outs (external amounts)."""
        with self.lock:
            return [
                {
                    "fiscal_year": doc.fiscal_year,
                    "document": doc.number,
                    "item": f"{line.item:03d}",
                    "document_type": doc.document_type,
                    "posting_date": doc.posting_date,
                    "reference": doc.reference,
                    "gl_account": line.gl_account,
                    "customer": line.customer,
                    "debit_credit": "S" if line.amount > 0 else "H",
                    "amount": currency.to_external(line.amount, doc.currency),
                    "currency": doc.currency,
                    "local_amount": currency.to_external(line.local_amount, doc.local_currency),
                    "local_currency": doc.local_currency,
                    "assignment": line.assignment,
                    "text": line.text,
                    "reason_code": line.reason_code,
                    "clearing_document": line.clearing_document,
                }
                for doc in self.committed_documents(company_code)
                for line in doc.lines
            ]
